-- Telling the customer: an outbox of emails written at the commit of the change they announce
-- (by comparing the booking with what its customer was last told), delivered over SMTP by the
-- edge function send-booking-emails at least once, with a stable Message-ID. Who the customer is
-- lives on bookings (10-pool-and-bookings.sql).

-- ---------------------------------------------------------------------------
-- The outbox
-- ---------------------------------------------------------------------------

create table public.booking_emails (
  id bigint generated always as identity primary key,
  booking_id uuid not null
    constraint booking_emails_booking_id_fkey references public.bookings (id) on delete cascade,
  kind text not null
    constraint booking_emails_kind_is_known
      check (kind in ('invite', 'link_pending', 'cancellation', 'ops_alert')),
  recipient text,
  -- What the email says, as it was when the change committed.
  order_id text not null,
  starts_at timestamptz not null,
  ends_at timestamptz not null,
  meeting_link text,
  previous_meeting_link text,
  previous_starts_at timestamptz,
  previous_ends_at timestamptz,
  customer_name text,
  locale text not null,
  time_zone text not null,
  calendar_method text
    constraint booking_emails_calendar_method_is_known check (calendar_method in ('REQUEST', 'CANCEL')),
  calendar_sequence integer,
  -- Delivery.
  status text not null default 'pending'
    constraint booking_emails_status_is_known
      check (status in ('pending', 'sending', 'sent', 'failed', 'skipped')),
  attempts integer not null default 0,
  due_at timestamptz not null default now(),
  lease_token uuid,
  message_id text constraint booking_emails_message_id_key unique,
  last_error text,
  created_at timestamptz not null default now(),
  sent_at timestamptz,
  constraint booking_emails_customer_messages_have_a_recipient
    check (kind = 'ops_alert' or recipient is not null),
  constraint booking_emails_calendar_method_has_a_sequence
    check ((calendar_method is null) = (calendar_sequence is null)),
  constraint booking_emails_lease_only_while_sending check ((status = 'sending') = (lease_token is not null))
);

comment on table public.booking_emails is
  'Outbox: one row per email a booking change calls for, written by a trigger in the same '
  'transaction as the change. send-booking-emails delivers them (at least once; the Message-ID '
  'is stable, so a rare duplicate is folded by mail clients).';

comment on column public.booking_emails.kind is
  'invite: the link and a calendar invite (new, changed link, or rescheduled); link_pending: paid, '
  'the link will follow; cancellation: no longer paid; ops_alert: to OPS_EMAIL, a paid booking '
  'waits for a manual link.';

comment on column public.booking_emails.recipient is 'The customer''s address when the change committed; null for ops_alert (OPS_EMAIL).';

comment on column public.booking_emails.previous_meeting_link is
  'The link of the invite this one replaces, when it differs: the email says the link changed.';

comment on column public.booking_emails.calendar_method is
  'The attached iCalendar''s METHOD: REQUEST (invite or update) or CANCEL; null: no attachment.';

comment on column public.booking_emails.calendar_sequence is
  'iCalendar SEQUENCE: grows by one with each calendar message of the booking (UID stays the same).';

comment on column public.booking_emails.status is
  'pending (waits for due_at), sending (claimed until due_at), sent, failed (gave up after '
  'attempts; see last_error), skipped (ops_alert while OPS_EMAIL is not set).';

comment on column public.booking_emails.due_at is
  'pending: when the next attempt may start (exponential backoff); sending: when the lease ends.';

comment on column public.booking_emails.message_id is
  'The Message-ID header, chosen at the first attempt and kept for every retry.';

alter table public.booking_emails enable row level security;

create index booking_emails_due_idx on public.booking_emails (due_at) where status in ('pending', 'sending');

create index booking_emails_booking_id_idx on public.booking_emails (booking_id, id);

-- ---------------------------------------------------------------------------
-- Writing the outbox: what the customer was last told against what is true now
-- ---------------------------------------------------------------------------

create function public.write_booking_emails(p_booking_id uuid)
returns void
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_booking public.bookings;
  v_link text;
  v_last public.booking_emails;     -- the last customer email
  v_calendar public.booking_emails; -- the last email with an iCalendar part
  v_standing boolean;               -- the customer's calendar holds an invite
  v_kind text;
  v_method text;
begin
  select * into v_booking from public.bookings b where b.id = p_booking_id;
  if not found then
    return;
  end if;
  select l.meeting_link into v_link from public.meeting_links_pool l where l.id = v_booking.meeting_link_id;

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

  if v_booking.customer_email is null then
    return;
  end if;
  select * into v_last from public.booking_emails e
  where e.booking_id = v_booking.id and e.kind <> 'ops_alert' order by e.id desc limit 1;
  select * into v_calendar from public.booking_emails e
  where e.booking_id = v_booking.id and e.calendar_method is not null order by e.id desc limit 1;
  v_standing := coalesce(v_calendar.calendar_method = 'REQUEST', false);

  if v_booking.payment_status = 'paid' and v_link is not null then
    if v_standing and v_last.kind = 'invite' and v_calendar.meeting_link = v_link
       and v_calendar.starts_at = v_booking.starts_at and v_calendar.ends_at = v_booking.ends_at
       and v_calendar.recipient = v_booking.customer_email then
      return;
    end if;
    v_kind := 'invite';
    v_method := 'REQUEST';
  elsif v_booking.payment_status = 'paid' and v_booking.needs_manual_link then
    if v_last.kind = 'link_pending' and v_last.starts_at = v_booking.starts_at
       and v_last.ends_at = v_booking.ends_at then
      return;
    end if;
    v_kind := 'link_pending';
  elsif v_booking.payment_status <> 'paid' and (v_standing or v_last.kind = 'link_pending') then
    v_kind := 'cancellation';
    v_method := case when v_standing then 'CANCEL' end;
  else
    return;
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
$$;

comment on function public.write_booking_emails(uuid) is
  'Compares a booking with what its customer was last told and queues the email(s) the '
  'difference calls for (none when nothing the customer sees changed). Run at commit by the '
  'bookings_write_emails_on_* triggers.';

create function public.bookings_write_emails()
returns trigger
language plpgsql
security definer
set search_path = ''
as $$
begin
  perform public.write_booking_emails(new.id);
  return null;
end;
$$;

comment on function public.bookings_write_emails() is
  'Trigger (deferred to commit): queues the emails a booking change calls for.';

-- Deferred to commit: a transaction that moves a booking through several states (a reschedule
-- gives its link back, moves, claims again) tells the customer once, about where it ended.
-- It is still the same transaction: a committed change always has its email, a rolled-back one
-- never. Only rows that can call for an email queue an event (a customer address, or a flag
-- ops must hear about).
create constraint trigger bookings_write_emails_on_insert
  after insert on public.bookings
  deferrable initially deferred
  for each row when (new.customer_email is not null or new.needs_manual_link)
  execute function public.bookings_write_emails();

create constraint trigger bookings_write_emails_on_update
  after update of payment_status, meeting_link_id, starts_at, ends_at, needs_manual_link,
    customer_email
  on public.bookings
  deferrable initially deferred
  for each row when ((new.customer_email is not null or new.needs_manual_link)
    and (old.payment_status, old.meeting_link_id, old.starts_at, old.ends_at, old.needs_manual_link,
      old.customer_email) is distinct from (new.payment_status, new.meeting_link_id, new.starts_at,
      new.ends_at, new.needs_manual_link, new.customer_email))
  execute function public.bookings_write_emails();

-- ---------------------------------------------------------------------------
-- Delivering the outbox (called by send-booking-emails)
-- ---------------------------------------------------------------------------

create function public.booking_email_max_attempts()
returns integer
language sql
immutable
set search_path = ''
as $$ select 8 $$;

comment on function public.booking_email_max_attempts() is
  'Attempts before an email is failed: retries wait 30 s, 1, 2, 4, 8, 16 and 32 min (about an hour).';

create function public.claim_booking_emails(p_limit integer, p_lease interval,
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

comment on function public.claim_booking_emails(integer, interval, text) is
  'For send-booking-emails: claims up to p_limit due emails for p_lease (for update skip locked), '
  'fixing each one''s Message-ID at its first attempt. Returns the claimed rows with lease_token.';

create function public.finish_booking_email(p_id bigint, p_lease_token uuid, p_error text,
  p_skipped boolean default false)
returns text
language sql
security definer
set search_path = ''
as $$
  update public.booking_emails e
  set status = case
        when p_error is null then case when p_skipped then 'skipped' else 'sent' end
        when e.attempts >= public.booking_email_max_attempts() then 'failed'
        else 'pending' end,
      sent_at = case when p_error is null then now() end,
      last_error = left(p_error, 2000),
      due_at = case when p_error is null then e.due_at
        else now() + least(interval '30 seconds' * power(2, e.attempts - 1), interval '1 hour') end,
      lease_token = null
  where e.id = p_id and e.lease_token = p_lease_token and e.status = 'sending'
  returning e.status;
$$;

comment on function public.finish_booking_email(bigint, uuid, text, boolean) is
  'For send-booking-emails: records an attempt (p_error null: sent, or skipped). A failure is '
  'retried with exponential backoff, then failed. Returns the new status, or null when the lease '
  'was lost (another drainer owns the email now).';

-- ---------------------------------------------------------------------------
-- Admin
-- ---------------------------------------------------------------------------

create view public.booking_emails_waiting with (security_invoker = true) as
select e.id, e.booking_id, e.order_id, e.kind, e.recipient, e.status, e.attempts, e.due_at,
  e.last_error, e.created_at
from public.booking_emails e
where e.status in ('pending', 'sending')
order by e.due_at, e.id;

comment on view public.booking_emails_waiting is
  'Emails not delivered yet, next due first. attempts > 0 with last_error: the mail server '
  'refused or could not be reached; they are retried with backoff.';

create view public.booking_emails_failed with (security_invoker = true) as
select e.id, e.booking_id, e.order_id, e.kind, e.recipient, e.attempts, e.last_error,
  e.created_at, e.due_at as last_attempt_ended_at
from public.booking_emails e
where e.status = 'failed'
order by e.id desc;

comment on view public.booking_emails_failed is
  'Emails given up on after booking_email_max_attempts() attempts, newest first. Fix the cause, '
  'then: select public.resend_booking_email(id).';

create function public.resend_booking_email(p_id bigint)
returns void
language plpgsql
security definer
set search_path = ''
as $$
begin
  -- A new Message-ID: a resent email must not be folded into the one it replaces.
  update public.booking_emails e
  set status = 'pending', attempts = 0, due_at = now(), last_error = null, lease_token = null,
      message_id = null, sent_at = null
  where e.id = p_id and e.status <> 'sending';
  if not found then
    raise exception 'booking email % does not exist or is being sent right now', p_id
      using errcode = 'ML404', hint = 'booking_email_not_found';
  end if;
end;
$$;

comment on function public.resend_booking_email(bigint) is
  'Queues an email again now (failed, sent or skipped), with fresh attempts and a new Message-ID.';

-- ---------------------------------------------------------------------------
-- Reschedule
-- ---------------------------------------------------------------------------

create function public.reschedule_booking(p_booking_id uuid, p_starts_at timestamptz,
  p_ends_at timestamptz)
returns table (booking_id uuid, starts_at timestamptz, ends_at timestamptz, meeting_link_id uuid,
  meeting_link text, outcome text)
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_booking public.bookings;
  v_new_slot tstzrange := tstzrange(p_starts_at, p_ends_at, '[)');
  v_link uuid;
  v_outcome text;
begin
  select * into v_booking from public.bookings b where b.id = p_booking_id for update;
  if not found then
    raise exception 'booking % does not exist', p_booking_id
      using errcode = 'ML404', hint = 'booking_not_found';
  end if;

  -- Give the old slot back (the self-healing trigger may serve a waiting booking with it, or
  -- even this one when the new slot overlaps the old), then claim through the assignment path.
  update public.bookings b
  set starts_at = p_starts_at, ends_at = p_ends_at, meeting_link_id = null
  where b.id = p_booking_id;

  if v_booking.payment_status <> 'paid' then
    v_outcome := 'moved';
  else
    select b.meeting_link_id into v_link from public.bookings b where b.id = p_booking_id;
    if v_link is not null then
      v_outcome := case when v_link = v_booking.meeting_link_id then 'kept_link' else 'new_link' end;
    elsif v_booking.meeting_link_id is not null and public.claim_meeting_link(p_booking_id,
        v_new_slot, p_wait => true, p_only_link => v_booking.meeting_link_id) = 'claimed' then
      v_outcome := 'kept_link';
    elsif public.claim_meeting_link(p_booking_id, v_new_slot, p_wait => true) = 'claimed' then
      v_outcome := 'new_link';
    else
      update public.bookings b set needs_manual_link = true where b.id = p_booking_id;
      v_outcome := 'pool_exhausted';
    end if;
  end if;

  return query
    select b.id, b.starts_at, b.ends_at, b.meeting_link_id, l.meeting_link, v_outcome
    from public.bookings b
    left join public.meeting_links_pool l on l.id = b.meeting_link_id
    where b.id = p_booking_id;
end;
$$;

comment on function public.reschedule_booking(uuid, timestamptz, timestamptz) is
  'Moves a booking to [p_starts_at, p_ends_at), atomically. A paid booking keeps its link when '
  'it is free in the new slot (kept_link), else takes the best free link (new_link), else is '
  'flagged needs_manual_link (pool_exhausted); an unpaid one just moves (moved). The customer gets '
  'the updated invite (same UID, higher SEQUENCE). Errors: ML404 no such booking; 23514 a slot '
  'that ends before it starts or lasts over a day.';
