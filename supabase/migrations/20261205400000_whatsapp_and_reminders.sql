-- Reminders before the meeting, and WhatsApp beside email: the customer's phone and opt-in, a
-- settings row (reminder offsets, WhatsApp template names), reminder emails, a WhatsApp outbox
-- with its own retries and Meta's delivery statuses, and one admin view of every message.
-- send-booking-emails drains both outboxes (each channel in its own loop).

-- bookings takes payments while this runs: wait at most 1 s for a lock (the operator retries).
set lock_timeout = '1s';
set statement_timeout = '10s';

-- ---------------------------------------------------------------------------
-- Who to tell on WhatsApp
-- ---------------------------------------------------------------------------

-- A constant default and a nullable column: catalog changes only, no table rewrite.
alter table public.bookings
  add column customer_phone text,
  add column customer_whatsapp_opt_in boolean not null default false;

-- Validated by the next migration (a scan without blocking writes).
alter table public.bookings
  add constraint bookings_customer_phone_is_e164
    check (customer_phone ~ '^\+[1-9][0-9]{7,14}$') not valid;

comment on column public.bookings.customer_phone is
  'The customer''s WhatsApp number in E.164 (+6281234567890). Messages go there only with '
  'customer_whatsapp_opt_in.';
comment on column public.bookings.customer_whatsapp_opt_in is
  'The customer agreed to get this booking''s messages on WhatsApp (WhatsApp requires it).';
comment on constraint bookings_customer_phone_is_e164 on public.bookings is
  'E.164: a plus sign, then 8 to 15 digits, the first not 0.';

-- ---------------------------------------------------------------------------
-- Settings admins change with SQL
-- ---------------------------------------------------------------------------

create table public.booking_message_settings (
  id boolean primary key default true
    constraint booking_message_settings_is_one_row check (id),
  reminder_offsets interval[] not null default '{24:00:00,01:00:00}'
    constraint booking_message_settings_offsets_are_sane check (
      cardinality(reminder_offsets) <= 10 and array_position(reminder_offsets, null) is null
      and interval '1 minute' <= all (reminder_offsets) and interval '30 days' >= all (reminder_offsets)),
  whatsapp_template_invite text not null default 'booking_invite',
  whatsapp_template_link_changed text not null default 'booking_link_changed',
  whatsapp_template_link_pending text not null default 'booking_link_pending',
  whatsapp_template_cancellation text not null default 'booking_cancellation',
  whatsapp_template_reminder text not null default 'booking_reminder',
  -- WhatsApp Manager's rule for template names.
  constraint booking_message_settings_template_names_are_valid check (
    whatsapp_template_invite ~ '^[a-z0-9_]+$' and char_length(whatsapp_template_invite) <= 512
    and whatsapp_template_link_changed ~ '^[a-z0-9_]+$' and char_length(whatsapp_template_link_changed) <= 512
    and whatsapp_template_link_pending ~ '^[a-z0-9_]+$' and char_length(whatsapp_template_link_pending) <= 512
    and whatsapp_template_cancellation ~ '^[a-z0-9_]+$' and char_length(whatsapp_template_cancellation) <= 512
    and whatsapp_template_reminder ~ '^[a-z0-9_]+$' and char_length(whatsapp_template_reminder) <= 512)
);
alter table public.booking_message_settings enable row level security;
insert into public.booking_message_settings default values;

comment on table public.booking_message_settings is
  'One row: when reminders go and which WhatsApp templates the messages use. Admins update it '
  'with SQL; reminders already queued keep their times.';
comment on column public.booking_message_settings.reminder_offsets is
  'A reminder is queued at starts_at minus each offset (default 24 hours and 1 hour), per channel.';
comment on column public.booking_message_settings.whatsapp_template_invite is
  'Template for the link (new booking or moved): name, slot, link (docs/operations.md).';
comment on column public.booking_message_settings.whatsapp_template_link_changed is
  'Template when the link changed: name, slot, new link, old link.';
comment on column public.booking_message_settings.whatsapp_template_link_pending is
  'Template for paid, link to follow: name, slot.';
comment on column public.booking_message_settings.whatsapp_template_cancellation is
  'Template for no longer paid: name, slot.';
comment on column public.booking_message_settings.whatsapp_template_reminder is
  'Template for a reminder: name, slot, link.';

-- ---------------------------------------------------------------------------
-- Reminder emails
-- ---------------------------------------------------------------------------

alter table public.booking_emails drop constraint booking_emails_kind_is_known;
-- Validated by the next migration (a scan without blocking the drains).
alter table public.booking_emails add constraint booking_emails_kind_is_known
  check (kind in ('invite', 'link_pending', 'cancellation', 'ops_alert', 'reminder')) not valid;

-- Which offset a reminder stands for (null for other kinds): a retry's backoff moves due_at.
alter table public.booking_emails add column reminder_offset interval;
comment on column public.booking_emails.reminder_offset is
  'A reminder: the offset before starts_at it was queued for (booking_message_settings).';

comment on column public.booking_emails.kind is
  'invite: the link and a calendar invite (new, changed link, or rescheduled); link_pending: paid, '
  'the link will follow; cancellation: no longer paid; reminder: the link again before the '
  'meeting (due_at = starts_at minus an offset; never sent after starts_at); ops_alert: to '
  'OPS_EMAIL, a paid booking waits for a manual link.';
comment on column public.booking_emails.status is
  'pending (waits for due_at), sending (claimed until due_at), sent, failed (gave up after '
  'attempts; see last_error), skipped (ops_alert while OPS_EMAIL is not set; a reminder whose '
  'meeting had started).';

-- ---------------------------------------------------------------------------
-- The WhatsApp outbox
-- ---------------------------------------------------------------------------

create table public.booking_whatsapp_messages (
  id bigint generated always as identity primary key,
  booking_id uuid not null
    constraint booking_whatsapp_messages_booking_id_fkey references public.bookings (id) on delete cascade,
  kind text not null
    constraint booking_whatsapp_messages_kind_is_known
      check (kind in ('invite', 'link_pending', 'cancellation', 'reminder')),
  recipient text not null
    constraint booking_whatsapp_messages_recipient_is_e164 check (recipient ~ '^\+[1-9][0-9]{7,14}$'),
  -- What the message says, as it was when the change committed.
  order_id text not null,
  starts_at timestamptz not null,
  ends_at timestamptz not null,
  meeting_link text,
  previous_meeting_link text,
  customer_name text,
  locale text not null,
  time_zone text not null,
  reminder_offset interval,
  -- Delivery to Meta.
  status text not null default 'pending'
    constraint booking_whatsapp_messages_status_is_known
      check (status in ('pending', 'sending', 'sent', 'failed', 'skipped')),
  attempts bigint not null default 0,
  due_at timestamptz not null default now(),
  lease_token uuid,
  wamid text constraint booking_whatsapp_messages_wamid_key unique,
  last_error text,
  created_at timestamptz not null default now(),
  sent_at timestamptz,
  -- What Meta's webhook said since.
  delivery_status text
    constraint booking_whatsapp_messages_delivery_status_is_known
      check (delivery_status in ('sent', 'delivered', 'read', 'failed')),
  delivery_status_at timestamptz,
  delivery_error text,
  constraint booking_whatsapp_messages_lease_only_while_sending
    check ((status = 'sending') = (lease_token is not null))
);
alter table public.booking_whatsapp_messages enable row level security;
-- Created with the table (empty): no concurrent build needed.
create index booking_whatsapp_messages_due_idx on public.booking_whatsapp_messages (due_at)
  where status in ('pending', 'sending');
create index booking_whatsapp_messages_booking_id_idx on public.booking_whatsapp_messages (booking_id, id);

comment on table public.booking_whatsapp_messages is
  'Outbox of WhatsApp template messages (Meta''s Cloud API), one row per message, written in the '
  'transaction of the booking change, beside and independent of booking_emails: its own '
  'attempts and backoff. Delivered at least once by send-booking-emails.';
comment on column public.booking_whatsapp_messages.kind is
  'invite (link_changed template when previous_meeting_link is set), link_pending, cancellation, '
  'reminder: as in booking_emails.';
comment on column public.booking_whatsapp_messages.recipient is 'The customer''s phone (E.164) when the change committed.';
comment on column public.booking_whatsapp_messages.status is
  'The outbox: pending, sending (claimed until due_at), sent (Meta accepted it: wamid), failed '
  '(Meta refused it for good, or every attempt failed: last_error), skipped (a reminder whose '
  'meeting had started).';
comment on column public.booking_whatsapp_messages.wamid is 'The id Meta answered (wamid.…); its webhook reports statuses by it.';
comment on column public.booking_whatsapp_messages.delivery_status is
  'The latest status Meta''s webhook reported: sent, delivered, read, or failed (delivery_error). '
  'Never goes back: a delivered after a read is ignored.';

-- ---------------------------------------------------------------------------
-- Writing the outboxes: what the customer was last told against what is true now
-- ---------------------------------------------------------------------------

create or replace function public.write_booking_emails(p_booking_id uuid)
returns void
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_booking public.bookings;
  v_link text;
  v_linked boolean;                  -- paid and holding a link: reminders are due
  v_whatsapp boolean;                -- a phone and the customer's opt-in
  v_offsets interval[];
  v_last public.booking_emails;      -- the last customer email (not a reminder)
  v_calendar public.booking_emails;  -- the last email with an iCalendar part
  v_standing boolean;                -- the customer's calendar holds an invite
  v_kind text;
  v_method text;
  v_chat public.booking_whatsapp_messages; -- the last WhatsApp message (not a reminder)
begin
  select * into v_booking from public.bookings b where b.id = p_booking_id;
  if not found then
    return;
  end if;
  select l.meeting_link into v_link from public.meeting_links_pool l where l.id = v_booking.meeting_link_id;
  v_linked := v_booking.payment_status = 'paid' and v_link is not null;
  v_whatsapp := v_booking.customer_whatsapp_opt_in and v_booking.customer_phone is not null;

  -- Ops hear once per paid slot that waits for a manual link, whether or not the customer has
  -- an address.
  if v_booking.payment_status = 'paid' and v_booking.needs_manual_link and not exists (
    select 1 from public.booking_emails e
    where e.booking_id = v_booking.id and e.kind = 'ops_alert' and e.created_at >= v_booking.paid_at
      and e.starts_at = v_booking.starts_at and e.ends_at = v_booking.ends_at
  ) then
    insert into public.booking_emails (booking_id, kind, order_id, starts_at, ends_at,
      customer_name, locale, time_zone)
    values (v_booking.id, 'ops_alert', v_booking.order_id, v_booking.starts_at, v_booking.ends_at,
      v_booking.customer_name, 'en', v_booking.customer_time_zone);
  end if;

  -- Reminders not sent yet that no longer describe the booking (moved, new link, unpaid, no
  -- link, other recipient) are dropped; one being sent right now is let go.
  delete from public.booking_emails e
  where e.booking_id = v_booking.id and e.kind = 'reminder' and e.status = 'pending'
    and not coalesce(v_linked and e.recipient = v_booking.customer_email and e.meeting_link = v_link
      and e.starts_at = v_booking.starts_at and e.ends_at = v_booking.ends_at, false);
  delete from public.booking_whatsapp_messages m
  where m.booking_id = v_booking.id and m.kind = 'reminder' and m.status = 'pending'
    and not coalesce(v_linked and v_whatsapp and m.recipient = v_booking.customer_phone
      and m.meeting_link = v_link and m.starts_at = v_booking.starts_at
      and m.ends_at = v_booking.ends_at, false);

  -- One reminder per offset and channel whose time is still ahead, unless it is queued already.
  if v_linked then
    select s.reminder_offsets into v_offsets from public.booking_message_settings s where s.id;
    if v_booking.customer_email is not null then
      insert into public.booking_emails (booking_id, kind, recipient, order_id, starts_at, ends_at,
        meeting_link, customer_name, locale, time_zone, due_at, reminder_offset)
      select v_booking.id, 'reminder', v_booking.customer_email, v_booking.order_id,
        v_booking.starts_at, v_booking.ends_at, v_link, v_booking.customer_name, v_booking.locale,
        v_booking.customer_time_zone, v_booking.starts_at - o.offset_before, o.offset_before
      from unnest(v_offsets) as o(offset_before)
      where v_booking.starts_at - o.offset_before > now()
        and not exists (select 1 from public.booking_emails e
          where e.booking_id = v_booking.id and e.kind = 'reminder'
            and e.status in ('pending', 'sending') and e.starts_at = v_booking.starts_at
            and e.reminder_offset = o.offset_before)
      order by o.offset_before desc;
    end if;
    if v_whatsapp then
      insert into public.booking_whatsapp_messages (booking_id, kind, recipient, order_id,
        starts_at, ends_at, meeting_link, customer_name, locale, time_zone, due_at, reminder_offset)
      select v_booking.id, 'reminder', v_booking.customer_phone, v_booking.order_id,
        v_booking.starts_at, v_booking.ends_at, v_link, v_booking.customer_name, v_booking.locale,
        v_booking.customer_time_zone, v_booking.starts_at - o.offset_before, o.offset_before
      from unnest(v_offsets) as o(offset_before)
      where v_booking.starts_at - o.offset_before > now()
        and not exists (select 1 from public.booking_whatsapp_messages m
          where m.booking_id = v_booking.id and m.kind = 'reminder'
            and m.status in ('pending', 'sending') and m.starts_at = v_booking.starts_at
            and m.reminder_offset = o.offset_before)
      order by o.offset_before desc;
    end if;
  end if;

  <<email>>
  begin
    if v_booking.customer_email is null then
      exit email;
    end if;
    select * into v_last from public.booking_emails e
    where e.booking_id = v_booking.id and e.kind not in ('ops_alert', 'reminder')
    order by e.id desc limit 1;
    select * into v_calendar from public.booking_emails e
    where e.booking_id = v_booking.id and e.calendar_method is not null order by e.id desc limit 1;
    v_standing := coalesce(v_calendar.calendar_method = 'REQUEST', false);

    if v_linked then
      if v_standing and v_last.kind = 'invite' and v_calendar.meeting_link = v_link
         and v_calendar.starts_at = v_booking.starts_at and v_calendar.ends_at = v_booking.ends_at
         and v_calendar.recipient = v_booking.customer_email then
        exit email;
      end if;
      v_kind := 'invite';
      v_method := 'REQUEST';
    elsif v_booking.payment_status = 'paid' and v_booking.needs_manual_link then
      if v_last.kind = 'link_pending' and v_last.starts_at = v_booking.starts_at
         and v_last.ends_at = v_booking.ends_at then
        exit email;
      end if;
      v_kind := 'link_pending';
    elsif v_booking.payment_status <> 'paid' and (v_standing or v_last.kind = 'link_pending') then
      v_kind := 'cancellation';
      v_method := case when v_standing then 'CANCEL' end;
    else
      exit email;
    end if;

    insert into public.booking_emails (booking_id, kind, recipient, order_id, starts_at, ends_at,
      meeting_link, previous_meeting_link, previous_starts_at, previous_ends_at, customer_name,
      locale, time_zone, calendar_method, calendar_sequence)
    values (v_booking.id, v_kind, v_booking.customer_email, v_booking.order_id,
      v_booking.starts_at, v_booking.ends_at,
      case when v_kind = 'cancellation' and v_standing then v_calendar.meeting_link else v_link end,
      case when v_kind = 'invite' and v_standing and v_calendar.meeting_link <> v_link
        then v_calendar.meeting_link end,
      case when v_standing and (v_calendar.starts_at, v_calendar.ends_at)
        <> (v_booking.starts_at, v_booking.ends_at) then v_calendar.starts_at end,
      case when v_standing and (v_calendar.starts_at, v_calendar.ends_at)
        <> (v_booking.starts_at, v_booking.ends_at) then v_calendar.ends_at end,
      v_booking.customer_name, v_booking.locale, v_booking.customer_time_zone,
      v_method, case when v_method is not null then coalesce(v_calendar.calendar_sequence + 1, 0) end);
  end;

  -- WhatsApp: the same decisions against the last WhatsApp message (it has no calendar).
  <<whatsapp>>
  begin
    if not v_whatsapp then
      exit whatsapp;
    end if;
    select * into v_chat from public.booking_whatsapp_messages m
    where m.booking_id = v_booking.id and m.kind <> 'reminder' order by m.id desc limit 1;
    if v_linked then
      if v_chat.kind = 'invite' and v_chat.meeting_link = v_link
         and v_chat.starts_at = v_booking.starts_at and v_chat.ends_at = v_booking.ends_at
         and v_chat.recipient = v_booking.customer_phone then
        exit whatsapp;
      end if;
      v_kind := 'invite';
    elsif v_booking.payment_status = 'paid' and v_booking.needs_manual_link then
      if v_chat.kind = 'link_pending' and v_chat.starts_at = v_booking.starts_at
         and v_chat.ends_at = v_booking.ends_at then
        exit whatsapp;
      end if;
      v_kind := 'link_pending';
    elsif v_booking.payment_status <> 'paid' and v_chat.kind in ('invite', 'link_pending') then
      v_kind := 'cancellation';
    else
      exit whatsapp;
    end if;
    insert into public.booking_whatsapp_messages (booking_id, kind, recipient, order_id, starts_at,
      ends_at, meeting_link, previous_meeting_link, customer_name, locale, time_zone)
    values (v_booking.id, v_kind, v_booking.customer_phone, v_booking.order_id, v_booking.starts_at,
      v_booking.ends_at, case when v_kind = 'cancellation' then v_chat.meeting_link else v_link end,
      case when v_kind = 'invite' and v_chat.kind = 'invite' and v_chat.meeting_link <> v_link
        then v_chat.meeting_link end,
      v_booking.customer_name, v_booking.locale, v_booking.customer_time_zone);
  end;
end;
$$;
comment on function public.write_booking_emails(uuid) is
  'Compares a booking with what its customer was last told, per channel (email, WhatsApp), and '
  'queues the messages the difference calls for (none when nothing the customer sees changed); '
  'keeps its reminders in step (queued while paid with a link, for times still ahead; dropped '
  'when they no longer describe the booking). Run at commit by the bookings_write_emails_on_* triggers.';

-- The triggers also fire for customers reached on WhatsApp only.
drop trigger bookings_write_emails_on_insert on public.bookings;
create constraint trigger bookings_write_emails_on_insert
  after insert on public.bookings
  deferrable initially deferred
  for each row when (new.customer_email is not null or new.needs_manual_link
    or (new.customer_whatsapp_opt_in and new.customer_phone is not null))
  execute function public.bookings_write_emails();

drop trigger bookings_write_emails_on_update on public.bookings;
create constraint trigger bookings_write_emails_on_update
  after update of payment_status, meeting_link_id, starts_at, ends_at, needs_manual_link,
    customer_email, customer_phone, customer_whatsapp_opt_in
  on public.bookings
  deferrable initially deferred
  for each row when ((new.customer_email is not null or new.needs_manual_link
      or (new.customer_whatsapp_opt_in and new.customer_phone is not null)
      -- A contact removed: its pending reminders go.
      or old.customer_email is not null
      or (old.customer_whatsapp_opt_in and old.customer_phone is not null))
    and (old.payment_status, old.meeting_link_id, old.starts_at, old.ends_at, old.needs_manual_link,
      old.customer_email, old.customer_phone, old.customer_whatsapp_opt_in)
      is distinct from (new.payment_status, new.meeting_link_id, new.starts_at, new.ends_at,
      new.needs_manual_link, new.customer_email, new.customer_phone, new.customer_whatsapp_opt_in))
  execute function public.bookings_write_emails();

-- ---------------------------------------------------------------------------
-- Delivering (called by send-booking-emails)
-- ---------------------------------------------------------------------------

create or replace function public.claim_booking_emails(p_limit integer, p_lease interval,
  p_message_id_domain text)
returns setof public.booking_emails
language plpgsql
security definer
set search_path = ''
as $$
begin
  -- A lease that ran out with no attempts left: the drainer died (perhaps after sending).
  update public.booking_emails e
  set status = 'failed', lease_token = null,
      last_error = coalesce(e.last_error, 'lease ran out during the last attempt')
  where e.status = 'sending' and e.due_at <= now()
    and e.attempts >= public.booking_email_max_attempts();
  -- A reminder is never sent once its meeting has started.
  update public.booking_emails e
  set status = 'skipped', lease_token = null, last_error = 'the meeting started before it was sent'
  where e.status in ('pending', 'sending') and e.due_at <= now() and e.kind = 'reminder'
    and e.starts_at <= now();

  -- skip locked: concurrent drainers take disjoint rows; the lease hands an abandoned row to
  -- the next drainer once it runs out.
  return query
    update public.booking_emails e
    set status = 'sending', attempts = e.attempts + 1, due_at = now() + p_lease,
        lease_token = gen_random_uuid(),
        message_id = coalesce(e.message_id, format('<booking-email-%s.%s@%s>', e.id,
          replace(gen_random_uuid()::text, '-', ''), p_message_id_domain))
    where e.id = any (array(
      select d.id from public.booking_emails d
      where d.status in ('pending', 'sending') and d.due_at <= now()
      order by d.due_at, d.id
      limit p_limit
      for update skip locked))
    returning e.*;
end;
$$;

create or replace function public.finish_booking_email(p_id bigint, p_lease_token uuid, p_error text,
  p_skipped boolean default false)
returns text
language sql
security definer
set search_path = ''
as $$
  update public.booking_emails e
  set status = case
        when p_skipped then 'skipped'
        when p_error is null then 'sent'
        when e.attempts >= public.booking_email_max_attempts() then 'failed'
        else 'pending' end,
      sent_at = case when p_error is null and not p_skipped then now() end,
      last_error = left(p_error, 2000),
      due_at = case when p_error is null or p_skipped then e.due_at
        else now() + least(interval '30 seconds' * power(2, e.attempts - 1), interval '1 hour') end,
      lease_token = null
  where e.id = p_id and e.lease_token = p_lease_token and e.status = 'sending'
  returning e.status;
$$;
comment on function public.finish_booking_email(bigint, uuid, text, boolean) is
  'For send-booking-emails: records an attempt (p_error null: sent; p_skipped: skipped, with '
  'p_error as the reason). A failure is retried with exponential backoff, then failed. Returns '
  'the new status, or null when the lease was lost (another drainer owns the email now).';

create function public.claim_whatsapp_messages(p_limit integer, p_lease interval)
returns setof public.booking_whatsapp_messages
language plpgsql
security definer
set search_path = ''
as $$
begin
  update public.booking_whatsapp_messages m
  set status = 'failed', lease_token = null,
      last_error = coalesce(m.last_error, 'lease ran out during the last attempt')
  where m.status = 'sending' and m.due_at <= now()
    and m.attempts >= public.booking_email_max_attempts();
  update public.booking_whatsapp_messages m
  set status = 'skipped', lease_token = null, last_error = 'the meeting started before it was sent'
  where m.status in ('pending', 'sending') and m.due_at <= now() and m.kind = 'reminder'
    and m.starts_at <= now();

  return query
    update public.booking_whatsapp_messages m
    set status = 'sending', attempts = m.attempts + 1, due_at = now() + p_lease,
        lease_token = gen_random_uuid()
    where m.id = any (array(
      select d.id from public.booking_whatsapp_messages d
      where d.status in ('pending', 'sending') and d.due_at <= now()
      order by d.due_at, d.id
      limit p_limit
      for update skip locked))
    returning m.*;
end;
$$;
comment on function public.claim_whatsapp_messages(integer, interval) is
  'For send-booking-emails: claims up to p_limit due WhatsApp messages for p_lease (for update '
  'skip locked); reminders whose meeting started are skipped instead. Returns the claimed rows.';

create function public.finish_whatsapp_message(p_id bigint, p_lease_token uuid, p_wamid text,
  p_error text, p_permanent boolean default false, p_skipped boolean default false)
returns text
language sql
security definer
set search_path = ''
as $$
  update public.booking_whatsapp_messages m
  set status = case
        when p_skipped then 'skipped'
        when p_error is null then 'sent'
        when p_permanent or m.attempts >= public.booking_email_max_attempts() then 'failed'
        else 'pending' end,
      wamid = case when p_error is null and not p_skipped then p_wamid end,
      sent_at = case when p_error is null and not p_skipped then now() end,
      last_error = left(p_error, 2000),
      due_at = case when p_error is null or p_skipped or p_permanent then m.due_at
        else now() + least(interval '30 seconds' * power(2, m.attempts - 1), interval '1 hour') end,
      lease_token = null
  where m.id = p_id and m.lease_token = p_lease_token and m.status = 'sending'
  returning m.status;
$$;
comment on function public.finish_whatsapp_message(bigint, uuid, text, text, boolean, boolean) is
  'For send-booking-emails: records an attempt. p_error null: sent, with Meta''s wamid; '
  'p_permanent: failed at once (Meta refused it for good); otherwise retried with the emails'' '
  'backoff, then failed. Returns the new status, or null when the lease was lost.';

create function public.whatsapp_status_rank(p_status text)
returns integer
language sql
immutable
set search_path = ''
as $$
  select case p_status when 'sent' then 1 when 'delivered' then 2 when 'failed' then 2
    when 'read' then 3 end;
$$;
comment on function public.whatsapp_status_rank(text) is
  'How far a WhatsApp message got: sent 1, delivered or failed 2, read 3 (null: a status not '
  'recorded). A status is recorded only over a lower rank, so callbacks may repeat or arrive in '
  'any order.';

create function public.record_whatsapp_statuses(p_statuses jsonb)
returns table (recorded integer, unchanged integer, unknown_wamids text[])
language sql
security definer
set search_path = ''
as $$
  -- One status per wamid from this callback (the furthest), applied only over a lower one; a
  -- concurrent callback for the same message re-checks the rank on the row it waited for.
  with given as (
    select distinct on (s.wamid) s.wamid, s.status, s.at, s.error
    from jsonb_to_recordset(p_statuses) as s(wamid text, status text, at timestamptz, error text)
    where public.whatsapp_status_rank(s.status) is not null and s.wamid is not null
    order by s.wamid, public.whatsapp_status_rank(s.status) desc, s.at desc
  ), matched as (
    select g.*, m.id as message_id
    from given g left join public.booking_whatsapp_messages m on m.wamid = g.wamid
  ), updated as (
    update public.booking_whatsapp_messages m
    set delivery_status = k.status, delivery_status_at = k.at,
        delivery_error = case when k.status = 'failed' then left(k.error, 2000) end
    from matched k
    where m.id = k.message_id and public.whatsapp_status_rank(k.status)
      > coalesce(public.whatsapp_status_rank(m.delivery_status), 0)
    returning m.id
  )
  select (select count(*)::integer from updated),
    (select count(*)::integer from matched where message_id is not null)
      - (select count(*)::integer from updated),
    coalesce((select array_agg(wamid order by wamid) from matched where message_id is null), '{}');
$$;
comment on function public.record_whatsapp_statuses(jsonb) is
  'For whatsapp-webhook: records Meta''s statuses ([{wamid, status, at, error}]) on their '
  'messages, idempotently and out-of-order safe (whatsapp_status_rank). Returns how many changed, '
  'how many were already as far, and the wamids no message has.';

create function public.resend_whatsapp_message(p_id bigint)
returns void
language plpgsql
security definer
set search_path = ''
as $$
begin
  update public.booking_whatsapp_messages m
  set status = 'pending', attempts = 0, due_at = now(), last_error = null, lease_token = null,
      wamid = null, sent_at = null, delivery_status = null, delivery_status_at = null,
      delivery_error = null
  where m.id = p_id and m.status <> 'sending';
  if not found then
    raise exception 'WhatsApp message % does not exist or is being sent right now', p_id
      using errcode = 'ML404', hint = 'whatsapp_message_not_found';
  end if;
end;
$$;
comment on function public.resend_whatsapp_message(bigint) is
  'Queues a WhatsApp message again now (failed, sent or skipped), with fresh attempts.';

-- ---------------------------------------------------------------------------
-- Admin: every message of every booking, by channel
-- ---------------------------------------------------------------------------

create view public.booking_messages with (security_invoker = true) as
select e.booking_id, e.order_id, 'email'::text as channel, e.id, e.kind, e.recipient,
  e.status, e.attempts, e.due_at, e.sent_at, e.message_id as provider_id, e.last_error as error,
  e.created_at
from public.booking_emails e
where e.kind <> 'ops_alert'
union all
select m.booking_id, m.order_id, 'whatsapp', m.id, m.kind, m.recipient,
  case when m.status = 'sent' then coalesce(m.delivery_status, 'sent') else m.status end,
  m.attempts, m.due_at, m.sent_at, m.wamid, coalesce(m.delivery_error, m.last_error), m.created_at
from public.booking_whatsapp_messages m;
comment on view public.booking_messages is
  'Every message to a customer, per booking and channel (email, whatsapp), with its latest '
  'status: pending, sending, sent, failed, skipped, and for WhatsApp what Meta reported since '
  '(delivered, read, failed). Filter by booking_id or order_id.';

create view public.booking_messages_failed with (security_invoker = true) as
select m.* from public.booking_messages m
where m.status = 'failed'
order by m.created_at desc, m.id desc;
comment on view public.booking_messages_failed is
  'Messages that failed on either channel, newest first: error says why. After fixing the cause: '
  'select resend_booking_email(id) (email) or resend_whatsapp_message(id) (whatsapp).';

-- ---------------------------------------------------------------------------
-- Access
-- ---------------------------------------------------------------------------

revoke all on public.booking_message_settings, public.booking_whatsapp_messages,
  public.booking_whatsapp_messages_id_seq, public.booking_messages, public.booking_messages_failed
  from anon, authenticated, service_role, public;
grant select on public.booking_message_settings, public.booking_whatsapp_messages,
  public.booking_messages, public.booking_messages_failed to service_role;

revoke execute on function public.claim_whatsapp_messages(integer, interval),
  public.finish_whatsapp_message(bigint, uuid, text, text, boolean, boolean),
  public.whatsapp_status_rank(text), public.record_whatsapp_statuses(jsonb),
  public.resend_whatsapp_message(bigint)
  from anon, authenticated, service_role, public;
grant execute on function public.claim_whatsapp_messages(integer, interval),
  public.finish_whatsapp_message(bigint, uuid, text, text, boolean, boolean),
  public.record_whatsapp_statuses(jsonb), public.resend_whatsapp_message(bigint) to service_role;
