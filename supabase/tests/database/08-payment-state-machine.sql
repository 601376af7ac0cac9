-- How a verified Midtrans notification moves a booking, including late, repeated and foreign ones.
begin;
create extension if not exists pgtap with schema extensions;
set local search_path = public, extensions;
select plan(16);

create function pg_temp.notify(p_order text, p_tx text, p_status text, p_fraud text default null,
  p_amount text default '100000.00', p_currency text default 'IDR')
returns text language sql as $$
  select outcome from record_midtrans_notification(jsonb_strip_nulls(jsonb_build_object(
    'order_id', p_order, 'transaction_id', p_tx, 'transaction_status', p_status,
    'status_code', case p_status when 'settlement' then '200' when 'capture' then '200'
                                 when 'pending' then '201' else '202' end,
    'fraud_status', p_fraud, 'gross_amount', p_amount, 'currency', p_currency)));
$$;
create function pg_temp.status(p_order text) returns text language sql as $$
  select payment_status from bookings where order_id = p_order;
$$;

insert into meeting_links_pool (meeting_link) values ('https://meet.google.com/sta-tema-chi');
insert into bookings (order_id, starts_at, ends_at, amount)
select 'sm-' || n, timestamptz '2030-09-01 10:00Z' + n * interval '1 hour',
  timestamptz '2030-09-01 11:00Z' + n * interval '1 hour', 100000
from generate_series(1, 9) as n;

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

select * from finish();
rollback;
