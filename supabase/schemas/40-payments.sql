-- Midtrans payment notifications: the audit trail, the idempotency key, and the only way a
-- booking becomes paid. The edge function verifies the signature and asks Midtrans's Get Status
-- API for the transaction (the signature covers order_id, status_code and gross_amount only);
-- applying what Midtrans confirmed is one atomic call here (docs/payments.md).

create table public.midtrans_notifications (
  id bigint generated always as identity primary key,
  received_at timestamptz not null default now(),
  last_received_at timestamptz not null default now(),
  deliveries integer not null default 1,
  order_id text not null,
  transaction_id text not null,
  transaction_status text not null,
  status_code text not null,
  fraud_status text,
  gross_amount text not null,
  payload jsonb not null,
  booking_id uuid
    constraint midtrans_notifications_booking_id_fkey references public.bookings (id) on delete set null,
  outcome text not null
    constraint midtrans_notifications_outcome_is_known
      check (outcome in ('paid', 'status_changed', 'ignored', 'needs_review', 'unknown_order')),
  payment_status_before text,
  payment_status_after text,
  -- Midtrans's answer, and where the notification as received differs from it.
  confirmed jsonb,
  notified_differences jsonb not null default '{}',
  constraint midtrans_notifications_stored_once
    unique nulls not distinct (order_id, transaction_id, transaction_status, status_code, fraud_status)
);

alter table public.midtrans_notifications enable row level security;

comment on table public.midtrans_notifications is
  'Every signed Midtrans notification that Midtrans confirmed, one row per confirmed state of a '
  'transaction of an order however often it is delivered (deliveries counts them), with what it '
  'did to its booking (outcome, payment_status_before/after).';

comment on column public.midtrans_notifications.outcome is
  'paid: made the booking paid; status_changed: moved it to another status; ignored: late, repeated '
  'or of another transaction; needs_review: a payment whose amount, currency or status_code does not '
  'match (see bookings.review_reason); unknown_order: no booking.';

comment on constraint midtrans_notifications_stored_once on public.midtrans_notifications is
  'One row per confirmed (order, transaction, status, status code, fraud status): a redelivery is '
  'counted, never applied twice, and a notification of one order never stands for another''s.';

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

-- Rows logged before Midtrans's confirmation was asked for have none; every new row must, so the
-- constraint stays not valid (it checks every write, not the old rows).
alter table public.midtrans_notifications
  add constraint midtrans_notifications_confirmed_by_midtrans check (confirmed is not null) not valid;

create index midtrans_notifications_order_id_idx on public.midtrans_notifications (order_id, received_at);

create function public.midtrans_target_status(p_transaction_status text, p_fraud_status text)
returns text
language sql
immutable
set search_path = ''
as $$
  -- Midtrans's documented statuses. A card capture is paid only once fraud screening accepts it;
  -- channels without fraud screening send no fraud_status, which counts as accept.
  select case
    when p_transaction_status = 'settlement' then 'paid'
    when p_transaction_status = 'capture' then
      case coalesce(p_fraud_status, 'accept')
        when 'accept' then 'paid'
        when 'challenge' then 'pending'
        else 'failed'
      end
    when p_transaction_status in ('pending', 'authorize') then 'pending'
    when p_transaction_status in ('deny', 'failure') then 'failed'
    when p_transaction_status = 'cancel' then 'cancelled'
    when p_transaction_status = 'expire' then 'expired'
    when p_transaction_status in ('refund', 'partial_refund', 'chargeback', 'partial_chargeback')
      then 'refunded'
  end;
$$;

comment on function public.midtrans_target_status(text, text) is
  'The booking payment_status a Midtrans transaction_status (and fraud_status) stands for; null '
  'for a status Midtrans may add later.';

create function public.midtrans_reverses_payment(p_transaction_status text)
returns boolean
language sql
immutable
set search_path = ''
as $$
  -- What Midtrans sends when the money of a transaction is taken back or never arrives after
  -- all: a void (cancel), a settlement that some channels turn into deny, a refund, a chargeback.
  select p_transaction_status in ('deny', 'cancel', 'refund', 'partial_refund', 'chargeback',
    'partial_chargeback');
$$;

comment on function public.midtrans_reverses_payment(text) is
  'true for the statuses that undo a transaction''s payment (deny, cancel, refunds, chargebacks).';

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
