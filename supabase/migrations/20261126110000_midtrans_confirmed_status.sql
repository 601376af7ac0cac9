-- Trust only what Midtrans confirms (issue 13). The signature covers order_id, status_code and
-- gross_amount only, so the webhook now asks Midtrans's Get Status API for the transaction and
-- applies that answer; the notification as received is kept beside it, with what differed.
-- Also: the stored-once key is per order, a booking paid by hand is undone only by hand, the
-- sweep flags what it cannot serve, and capacity counts bookings running past midnight.

-- ---------------------------------------------------------------------------
-- The notification log keeps both sides
-- ---------------------------------------------------------------------------

alter table public.midtrans_notifications
  add column confirmed jsonb,
  add column notified_differences jsonb not null default '{}',
  -- Rows logged before this migration were never confirmed; every new row must be.
  add constraint midtrans_notifications_confirmed_by_midtrans check (confirmed is not null) not valid,
  drop constraint midtrans_notifications_stored_once,
  add constraint midtrans_notifications_stored_once
    unique nulls not distinct (order_id, transaction_id, transaction_status, status_code, fraud_status);

comment on table public.midtrans_notifications is
  'Every signed Midtrans notification that Midtrans confirmed, one row per confirmed state of a '
  'transaction of an order however often it is delivered (deliveries counts them), with what it '
  'did to its booking (outcome, payment_status_before/after).';
comment on column public.midtrans_notifications.payload is
  'The notification exactly as received (first delivery). Only order_id, status_code and '
  'gross_amount are signed: never act on its other fields, act on confirmed.';
comment on column public.midtrans_notifications.confirmed is
  'What Midtrans''s Get Status API answered for the notification''s transaction_id: the status '
  'that was applied. transaction_status, status_code, fraud_status and gross_amount are copied '
  'from it. Null only for rows logged before confirmation existed.';
comment on column public.midtrans_notifications.notified_differences is
  'Fields of the notification as received that differ from the confirmed status, as '
  '{field: {notified, confirmed}}: a late notification (the transaction moved on) or a tampered one.';
comment on constraint midtrans_notifications_stored_once on public.midtrans_notifications is
  'One row per confirmed (order, transaction, status, status code, fraud status): a redelivery is '
  'counted, never applied twice, and a notification of one order never stands for another''s.';

-- ---------------------------------------------------------------------------
-- Recording: the confirmed status is applied, the notification only logged
-- ---------------------------------------------------------------------------

-- The one-argument version applied the notification's own fields: nothing may call it again.
drop function public.record_midtrans_notification(jsonb);

create function public.record_midtrans_notification(p_notification jsonb, p_confirmed jsonb)
returns table (
  notification_id bigint,
  booking_id uuid,
  outcome text,
  duplicate boolean,
  payment_status text,
  needs_link boolean,
  notified_differences jsonb
)
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_order_id text := p_confirmed ->> 'order_id';
  v_transaction_id text := p_confirmed ->> 'transaction_id';
  v_transaction_status text := p_confirmed ->> 'transaction_status';
  v_status_code text := p_confirmed ->> 'status_code';
  v_fraud_status text := p_confirmed ->> 'fraud_status';
  v_gross_amount text := p_confirmed ->> 'gross_amount';
  v_currency text := coalesce(p_confirmed ->> 'currency', 'IDR');
  v_target text := public.midtrans_target_status(v_transaction_status, v_fraud_status);
  v_differences jsonb;
  v_booking public.bookings;
  v_outcome text;
  v_after text;
  v_review text;
  v_notification_id bigint;
  v_inserted boolean;
  v_stored_before_its_booking boolean;
  v_apply boolean;
begin
  -- The webhook checks this too; here it holds for any caller.
  if v_order_id is distinct from p_notification ->> 'order_id'
     or v_transaction_id is distinct from p_notification ->> 'transaction_id' then
    raise exception 'Midtrans confirmed transaction % of order %, not transaction % of order %',
      v_transaction_id, v_order_id, p_notification ->> 'transaction_id', p_notification ->> 'order_id'
      using errcode = 'MLMIS', hint = 'transaction_order_mismatch';
  end if;

  select coalesce(jsonb_object_agg(f.field, jsonb_build_object(
           'notified', p_notification -> f.field, 'confirmed', p_confirmed -> f.field)), '{}')
  into v_differences
  from unnest(array['transaction_status', 'status_code', 'fraud_status', 'gross_amount',
    'currency']) as f(field)
  -- A field the notification leaves out claims nothing (a capture without fraud_status).
  where p_notification ? f.field and p_notification -> f.field is distinct from p_confirmed -> f.field;

  -- Lock first: deliveries of notifications for one booking apply one after another, so the
  -- checks below read everything recorded before.
  select * into v_booking from public.bookings b where b.order_id = v_order_id for update;

  if v_booking.id is null then
    v_outcome := 'unknown_order';
  elsif v_target = 'paid' and exists (
    select 1 from public.midtrans_notifications n
    where n.order_id = v_order_id and n.transaction_id = v_transaction_id
      and public.midtrans_reverses_payment(n.transaction_status)
  ) then
    -- This transaction was confirmed denied, cancelled or refunded before: its payment was
    -- taken back, whatever Midtrans says of it later.
    v_outcome := 'ignored';
  elsif v_target = 'paid' and v_booking.payment_status in ('paid', 'refunded') then
    v_outcome := 'ignored';
    if v_transaction_id is distinct from v_booking.paid_transaction_id then
      -- A second payment (or the money behind a booking paid by hand): a person decides.
      v_review := format('transaction %s also settled for this %s booking%s', v_transaction_id,
        v_booking.payment_status,
        case when v_booking.paid_transaction_id is null then ' (paid by hand)' else '' end);
    end if;
  elsif v_target = 'paid' then
    -- Money received wins over an earlier expire, deny or cancel (of another attempt). What
    -- Midtrans confirms must still be a payment of what the booking costs.
    v_review := case
      when v_status_code is distinct from '200' then
        format('transaction %s reported %s with status_code %s, which is not a payment',
          v_transaction_id, v_transaction_status, v_status_code)
      when v_gross_amount::numeric is distinct from v_booking.amount or v_currency <> 'IDR' then
        format('transaction %s reported %s %s; the booking costs %s IDR', v_transaction_id,
          v_gross_amount, v_currency, v_booking.amount)
    end;
    v_outcome := case when v_review is null then 'paid' else 'needs_review' end;
    v_after := case when v_review is null then 'paid' end;
  elsif v_target in ('failed', 'expired', 'cancelled') and v_booking.payment_status = 'pending' then
    v_outcome := 'status_changed';
    v_after := v_target;
  elsif v_booking.payment_status = 'paid' and public.midtrans_reverses_payment(v_transaction_status)
        and v_transaction_id = v_booking.paid_transaction_id then
    -- The documented reversals of the transaction that paid: a refund or chargeback, a void,
    -- or a settlement some channels turn into deny minutes later. A booking paid by hand has
    -- no paying transaction, so no transaction can undo it.
    v_outcome := 'status_changed';
    v_after := v_target;
  else
    -- Anything else would move the booking backwards (pending after settlement), or belongs
    -- to another transaction, or is a status this system does not act on.
    v_outcome := 'ignored';
    if v_target = 'refunded' and v_booking.payment_status = 'paid'
       and v_booking.paid_transaction_id is null then
      v_review := format('transaction %s was %s; this booking was paid by hand: if that was its '
        'money, undo the payment by hand', v_transaction_id, v_transaction_status);
    end if;
  end if;

  -- A notification that came before its booking existed was stored as unknown_order; when
  -- Midtrans redelivers it after the booking appears, it is applied then, not lost.
  select n.booking_id is null into v_stored_before_its_booking
  from public.midtrans_notifications n
  where n.order_id = v_order_id and n.transaction_id = v_transaction_id
    and n.transaction_status = v_transaction_status and n.status_code = v_status_code
    and n.fraud_status is not distinct from v_fraud_status;

  insert into public.midtrans_notifications as n (order_id, transaction_id, transaction_status,
    status_code, fraud_status, gross_amount, payload, confirmed, notified_differences, booking_id,
    outcome, payment_status_before, payment_status_after)
  values (v_order_id, v_transaction_id, v_transaction_status, v_status_code, v_fraud_status,
    v_gross_amount, p_notification, p_confirmed, v_differences, v_booking.id, v_outcome,
    v_booking.payment_status, coalesce(v_after, v_booking.payment_status))
  on conflict on constraint midtrans_notifications_stored_once do update
    set deliveries = n.deliveries + 1, last_received_at = now(),
        booking_id = coalesce(n.booking_id, excluded.booking_id),
        outcome = case when n.booking_id is null then excluded.outcome else n.outcome end,
        payment_status_before = case when n.booking_id is null
          then excluded.payment_status_before else n.payment_status_before end,
        payment_status_after = case when n.booking_id is null
          then excluded.payment_status_after else n.payment_status_after end
  returning n.id, n.deliveries = 1 into v_notification_id, v_inserted;
  v_apply := v_inserted or (v_stored_before_its_booking and v_booking.id is not null);

  if v_apply and v_booking.id is not null then
    update public.bookings b
    set payment_status = coalesce(v_after, b.payment_status),
        paid_transaction_id = case when v_after = 'paid' then v_transaction_id else b.paid_transaction_id end,
        paid_at = case when v_after = 'paid' then now() else b.paid_at end,
        review_reason = coalesce(v_review, b.review_reason)
    where b.id = v_booking.id
      and (v_after is not null or v_review is not null);
  end if;

  return query
    select v_notification_id, b.id, case when v_apply then v_outcome else 'duplicate' end,
      not v_apply, b.payment_status, b.payment_status = 'paid' and b.meeting_link_id is null,
      v_differences
    from (select 1) as one
    left join public.bookings b on b.id = v_booking.id;
end;
$$;
comment on function public.record_midtrans_notification(jsonb, jsonb) is
  'Records a SIGNED Midtrans notification (p_notification, as received) with what the Get Status '
  'API CONFIRMED for its transaction (p_confirmed), once per confirmed state, and applies the '
  'confirmed status to the booking atomically. outcome: paid | status_changed | ignored | '
  'needs_review | unknown_order | duplicate (recorded before, not applied again). needs_link: the '
  'booking is paid and has no meeting link. MLMIS: the confirmation is of another order or transaction.';

-- ---------------------------------------------------------------------------
-- The sweep flags what it cannot serve
-- ---------------------------------------------------------------------------

create or replace function public.assign_pending_meeting_links()
returns integer
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_booking record;
  v_assigned integer := 0;
begin
  -- Like the self-healing pass it never waits: a booking another transaction holds is that
  -- transaction's, and a link being claimed right now (busy) is tried again next minute. Only a
  -- pool with no free link for the slot (exhausted) needs a person.
  for v_booking in
    select b.id, b.slot from public.bookings b
    where b.payment_status = 'paid' and b.meeting_link_id is null and b.ends_at > now()
    order by b.starts_at, b.created_at
    for update skip locked
  loop
    case public.claim_meeting_link(v_booking.id, v_booking.slot, p_wait => false)
      when 'claimed' then
        v_assigned := v_assigned + 1;
      when 'exhausted' then
        update public.bookings b set needs_manual_link = true
        where b.id = v_booking.id and not b.needs_manual_link;
      else
        null;
    end case;
  end loop;
  return v_assigned;
end;
$$;
comment on function public.assign_pending_meeting_links() is
  'For ops and the every-minute sweep: gives every paid, upcoming booking without a link one if '
  'the pool has it, and flags needs_manual_link on those the pool cannot serve (the flag clears '
  'when a link is assigned). Returns how many got a link.';

-- ---------------------------------------------------------------------------
-- Capacity: a booking counts toward every Asia/Jakarta day it overlaps
-- ---------------------------------------------------------------------------

create or replace view public.meeting_link_capacity with (security_invoker = true) as
with days as (
  -- Each paid booking once per Jakarta day it overlaps, clipped to that day: a 22:00-02:00
  -- booking counts on both days, a 24 h booking on the two days it touches.
  select greatest(b.starts_at, d.starts) as starts_at, least(b.ends_at, d.ends) as ends_at,
    d.day_in_jakarta
  from public.bookings b
  cross join lateral (
    select day::date as day_in_jakarta, day at time zone 'Asia/Jakarta' as starts,
      (day + interval '1 day') at time zone 'Asia/Jakarta' as ends
    from generate_series(date_trunc('day', b.starts_at at time zone 'Asia/Jakarta'),
      date_trunc('day', b.ends_at at time zone 'Asia/Jakarta'), interval '1 day') as day
  ) d
  where b.payment_status = 'paid' and b.ends_at > d.starts
),
changes as (
  select day_in_jakarta, starts_at as at, 1 as delta from days
  union all
  select day_in_jakarta, ends_at, -1 from days
),
running as (
  -- Ends sort before starts at the same instant: back-to-back bookings never overlap.
  select day_in_jakarta,
    sum(delta) over (partition by day_in_jakarta order by at, delta rows unbounded preceding)
      as overlapping
  from changes
)
select
  r.day_in_jakarta,
  max(r.overlapping) as peak_overlapping_paid_bookings,
  (select count(*) from public.meeting_links_pool l where l.is_available) as available_links
from running r
group by 1
order by 1;
comment on view public.meeting_link_capacity is
  'Per day (Asia/Jakarta): the most paid bookings overlapping at once on that day, counting every '
  'booking on each day it overlaps (one running past midnight counts on both days), against the '
  'links that can be assigned. Peak above available_links means bookings of that day wait for a link.';

-- ---------------------------------------------------------------------------
-- Access
-- ---------------------------------------------------------------------------

revoke execute on function public.record_midtrans_notification(jsonb, jsonb)
  from anon, authenticated, service_role, public;
grant execute on function public.record_midtrans_notification(jsonb, jsonb) to service_role;
