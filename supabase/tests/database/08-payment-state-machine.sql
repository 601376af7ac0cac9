-- How a confirmed Midtrans notification moves a booking, including late, repeated and foreign ones.
begin;
create extension if not exists pgtap with schema extensions;
set local search_path = public, extensions;
select plan(31);

create function pg_temp.notify(p_order text, p_tx text, p_status text, p_fraud text default null,
  p_amount text default '100000.00', p_currency text default 'IDR', p_code text default null)
returns text language sql as $$
  -- A notification that Midtrans's Get Status API confirms as it is.
  select r.outcome from (select jsonb_strip_nulls(jsonb_build_object(
    'order_id', p_order, 'transaction_id', p_tx, 'transaction_status', p_status,
    'status_code', coalesce(p_code, case when p_status in ('settlement', 'capture', 'cancel')
                                           or p_status like '%refund' or p_status like '%chargeback'
                                         then '200' when p_status = 'pending' then '201' else '202' end),
    'fraud_status', p_fraud, 'gross_amount', p_amount, 'currency', p_currency)) as n) as confirmed,
  lateral record_midtrans_notification(confirmed.n, confirmed.n) as r;
$$;
create function pg_temp.status(p_order text) returns text language sql as $$
  select payment_status from bookings where order_id = p_order;
$$;

insert into meeting_links_pool (meeting_link) values ('https://meet.google.com/sta-tema-chi');
insert into bookings (order_id, starts_at, ends_at, amount)
select 'sm-' || n, timestamptz '2030-09-01 10:00Z' + n * interval '1 hour',
  timestamptz '2030-09-01 11:00Z' + n * interval '1 hour', 100000
from generate_series(1, 14) as n;

select is(pg_temp.notify('sm-1', 't1', 'settlement'), 'paid', 'a settlement pays the booking');
select is(pg_temp.notify('sm-1', 't1', 'settlement'), 'duplicate', 'the same settlement again is a duplicate');
select is((select deliveries from midtrans_notifications where order_id = 'sm-1'), 2,
  'and is stored once, counting its deliveries');
select is(pg_temp.notify('sm-1', 't1', 'pending'), 'ignored', 'a late pending after settlement is ignored');
select is(pg_temp.status('sm-1'), 'paid', 'so the booking stays paid');

select is(pg_temp.notify('sm-2', 't2', 'capture', 'challenge'), 'ignored', 'a card capture under fraud challenge is not paid');
select is(pg_temp.notify('sm-2', 't2', 'capture', 'accept'), 'paid', 'an accepted capture is paid');
select is(pg_temp.notify('sm-3', 't3', 'capture'), 'paid', 'a capture without fraud_status counts as accepted');

select is(pg_temp.notify('sm-4', 't4', 'expire'), 'status_changed', 'a pending booking expires');
select is(pg_temp.notify('sm-4', 't4b', 'settlement'), 'paid', 'a settlement after expire still pays: money received wins');

select is(pg_temp.notify('sm-5', 't5', 'settlement'), 'paid', 'a Permata settlement pays');
select is(pg_temp.notify('sm-5', 't5', 'deny'), 'status_changed', 'and a deny of that same transaction un-pays it');
select is(pg_temp.notify('sm-6', 't6a', 'settlement'), 'paid', 'another booking is paid by one transaction');
select is(pg_temp.notify('sm-6', 't6b', 'deny'), 'ignored', 'a late deny of an earlier attempt does not un-pay it');

select is(pg_temp.notify('sm-7', 't7', 'settlement', null, '99999.00'), 'needs_review',
  'a settlement for a different amount is not paid but flagged');
select is((select (payment_status, review_reason is not null)::text from bookings where order_id = 'sm-7'),
  '(pending,t)', 'the booking stays pending with a review reason');

select is(pg_temp.notify('sm-8', 't8', 'settlement', null, '100000.00', 'USD'), 'needs_review',
  'a settlement in another currency is not paid but flagged');
select is(pg_temp.notify('sm-9', 't9', 'settlement', null, '100000.00', 'IDR', '201'), 'needs_review',
  'a settlement without status_code 200 is not paid: the signature does not cover transaction_status');
select is(pg_temp.status('sm-9'), 'pending', 'so that booking stays pending');

select is(pg_temp.notify('sm-10', 't10', 'deny'), 'status_changed', 'a deny that overtook its settlement fails the booking');
select is(pg_temp.notify('sm-10', 't10', 'settlement'), 'ignored', 'and the late settlement of that transaction is ignored');
select is(pg_temp.status('sm-10'), 'failed', 'so the booking stays failed');

select is(pg_temp.notify('sm-11', 't11', 'settlement'), 'paid', 'a settlement pays the booking, which gets the link');
select isnt((select meeting_link_id from assign_meeting_link((select id from bookings where order_id = 'sm-11'))),
  null, 'the paid booking holds the link');
select is(pg_temp.notify('sm-11', 't11', 'refund'), 'status_changed', 'a refund of the paying transaction ends the booking');
select is((select (payment_status, meeting_link_id is null)::text from bookings where order_id = 'sm-11'),
  '(refunded,t)', 'the refunded booking gives its link back');
select is(pg_temp.notify('sm-11', 't11b', 'settlement'), 'ignored', 'a later settlement does not revive a refunded booking');
select isnt((select review_reason from bookings where order_id = 'sm-11'), null, 'but flags it for review');

select is(pg_temp.notify('sm-late', 't12', 'settlement'), 'unknown_order',
  'a settlement for a booking that does not exist yet is recorded as unknown_order');
insert into bookings (order_id, starts_at, ends_at, amount)
values ('sm-late', '2030-09-02 10:00Z', '2030-09-02 11:00Z', 100000);
select is(pg_temp.notify('sm-late', 't12', 'settlement'), 'paid',
  'redelivered once the booking exists, it pays the booking instead of being a duplicate');
select is((select (deliveries, outcome, booking_id is not null)::text from midtrans_notifications where order_id = 'sm-late'),
  '(2,paid,t)', 'and the one stored notification now says what it did');

select * from finish();
rollback;
