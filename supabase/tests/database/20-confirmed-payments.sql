-- Issue 13 in SQL: the confirmed status is what is applied, the stored-once key is per order, a
-- booking paid by hand is undone only by hand, the sweep flags what it cannot serve, and capacity
-- counts bookings running past midnight.
begin;
create extension if not exists pgtap with schema extensions;
set local search_path = public, extensions;
select plan(26);

-- A status as Midtrans's Get Status API answers it (status_code from transaction_status).
create function pg_temp.status(p_order text, p_tx text, p_status text, p_amount text default '100000.00')
returns jsonb language sql as $$
  select jsonb_build_object('order_id', p_order, 'transaction_id', p_tx,
    'transaction_status', p_status, 'gross_amount', p_amount, 'currency', 'IDR',
    'status_code', case when p_status in ('settlement', 'capture', 'refund', 'chargeback') then '200'
                        when p_status = 'pending' then '201' else '202' end);
$$;
create function pg_temp.confirm(p_notification jsonb, p_confirmed jsonb) returns text language sql as $$
  select outcome from record_midtrans_notification(p_notification, p_confirmed);
$$;
create function pg_temp.record(p_confirmed jsonb) returns text language sql as $$
  select pg_temp.confirm(p_confirmed, p_confirmed);
$$;
create function pg_temp.booking(p_order text) returns text language sql as $$
  select format('%s link=%s manual=%s review=%s', payment_status, meeting_link_id is not null,
    needs_manual_link, review_reason is not null)
  from bookings where order_id = p_order;
$$;

insert into meeting_links_pool (meeting_link) values ('https://meet.google.com/con-firm-one');
insert into bookings (order_id, starts_at, ends_at, amount)
select 'cf-' || n, timestamptz '2030-10-01 10:00Z' + n * interval '1 hour',
  timestamptz '2030-10-01 11:00Z' + n * interval '1 hour', 100000
from generate_series(1, 6) as n;

-- The confirmed status wins over the notification's unsigned fields, and the difference is kept.
select is(pg_temp.confirm(pg_temp.status('cf-1', 't1', 'settlement'), pg_temp.status('cf-1', 't1', 'expire')),
  'status_changed', 'a settlement notification that Midtrans confirms as expire expires the booking');
select is(pg_temp.booking('cf-1'), 'expired link=f manual=f review=f', 'so it is not paid');
select results_eq($$select transaction_status, status_code, payload ->> 'transaction_status',
    confirmed ->> 'transaction_status', notified_differences
  from midtrans_notifications where order_id = 'cf-1'$$,
  $$values ('expire', '202', 'settlement', 'expire', '{"status_code": {"notified": "200", "confirmed": "202"},
    "transaction_status": {"notified": "settlement", "confirmed": "expire"}}'::jsonb)$$,
  'the log keeps the notification as received, the confirmed status, and what differed');
select is(pg_temp.confirm(pg_temp.status('cf-2', 't2', 'settlement') - 'currency', pg_temp.status('cf-2', 't2', 'settlement')),
  'paid', 'a notification that leaves a field out agrees with Midtrans');
select is((select notified_differences from midtrans_notifications where order_id = 'cf-2'), '{}'::jsonb,
  'and no difference is logged for it');

-- The confirmation must be of the notification's own transaction and order.
select throws_ok($$select pg_temp.confirm(pg_temp.status('cf-3', 't3', 'settlement'), pg_temp.status('cf-4', 't3', 'settlement'))$$,
  'MLMIS', null, 'a confirmation of another order is refused');
select throws_ok($$select pg_temp.confirm(pg_temp.status('cf-3', 't3', 'settlement'), pg_temp.status('cf-3', 't3-other', 'settlement'))$$,
  'MLMIS', null, 'and one of another transaction');
select is((select count(*) from midtrans_notifications where order_id in ('cf-3', 'cf-4')), 0::bigint,
  'neither writes anything');

-- Idempotency per order: the same transaction_id and status for another order is not a duplicate.
select is(pg_temp.record(pg_temp.status('cf-3', 'shared-tx', 'settlement')), 'paid', 'order cf-3 is paid by shared-tx');
select is(pg_temp.record(pg_temp.status('cf-4', 'shared-tx', 'settlement')), 'paid',
  'a notification of order cf-4 with the same transaction_id and status is its own, not a duplicate');
select is(pg_temp.record(pg_temp.status('cf-4', 'shared-tx', 'settlement')), 'duplicate',
  'while the same order''s redelivery is a duplicate');

-- Paid by hand: undone only by hand.
update bookings set payment_status = 'paid' where order_id = 'cf-5';
select isnt((select meeting_link_id from assign_meeting_link((select id from bookings where order_id = 'cf-5'))),
  null, 'an admin marks cf-5 paid by hand and it gets a link');
select is(pg_temp.record(pg_temp.status('cf-5', 'earlier-card', 'deny')), 'ignored',
  'a confirmed deny of an earlier attempt does not undo a booking paid by hand');
select is(pg_temp.record(pg_temp.status('cf-5', 'earlier-card', 'cancel')), 'ignored', 'nor does a cancel');
select is(pg_temp.booking('cf-5'), 'paid link=t manual=f review=f', 'the booking stays paid with its link');
select is(pg_temp.record(pg_temp.status('cf-5', 'late-va', 'refund')), 'ignored',
  'a confirmed refund does not undo it either');
select is(pg_temp.booking('cf-5'), 'paid link=t manual=f review=t',
  'but flags it for a person, who may undo it by hand');

-- Paid by a transaction: only that transaction's confirmed reversal undoes it.
select is(pg_temp.record(pg_temp.status('cf-6', 'pays', 'settlement')), 'paid', 'cf-6 is paid by transaction pays');
select is(pg_temp.record(pg_temp.status('cf-6', 'other', 'refund')), 'ignored', 'a refund of another transaction is ignored');
select is(pg_temp.record(pg_temp.status('cf-6', 'pays', 'refund')), 'status_changed', 'the paying transaction''s refund undoes it');

-- The sweep flags what it cannot serve, and the flag clears when a link arrives.
delete from bookings;
insert into bookings (order_id, starts_at, ends_at, amount, payment_status) values
  ('sw-1', now() + interval '1 day', now() + interval '1 day 1 hour', 1000, 'paid'),
  ('sw-2', now() + interval '1 day', now() + interval '1 day 1 hour', 1000, 'paid'),
  ('sw-3', now() + interval '2 days', now() + interval '2 days 1 hour', 1000, 'paid');
select is(assign_pending_meeting_links(), 2, 'the sweep gives links to the two bookings the pool can serve');
select is_empty($$select order_id from bookings
  where payment_status = 'paid' and meeting_link_id is null and not needs_manual_link$$,
  'after the sweep every paid booking has a link or needs_manual_link');
select is((select count(*) from bookings where needs_manual_link), 1::bigint, 'exactly one is flagged');
insert into meeting_links_pool (meeting_link) values ('https://meet.google.com/con-firm-two');
select is((select count(*) from bookings where needs_manual_link or meeting_link_id is null), 0::bigint,
  'a new link serves the flagged booking and its flag clears');

-- Capacity counts every Jakarta day a booking overlaps.
delete from bookings;
insert into bookings (order_id, starts_at, ends_at, amount, payment_status) values
  ('night-1', '2030-11-01 22:00+07', '2030-11-02 02:00+07', 1000, 'paid'),
  ('night-2', '2030-11-01 22:00+07', '2030-11-02 02:00+07', 1000, 'paid'),
  ('night-3', '2030-11-01 22:30+07', '2030-11-02 01:00+07', 1000, 'paid'),
  ('day-long', '2030-11-05 12:00+07', '2030-11-06 12:00+07', 1000, 'paid'),
  ('to-midnight', '2030-11-08 23:00+07', '2030-11-09 00:00+07', 1000, 'paid');
select results_eq($$select day_in_jakarta, peak_overlapping_paid_bookings from meeting_link_capacity$$,
  $$values ('2030-11-01'::date, 3::bigint), ('2030-11-02', 3), ('2030-11-05', 1), ('2030-11-06', 1), ('2030-11-08', 1)$$,
  'three 22:00-02:00 bookings peak at 3 on both days, a 24 h booking counts on both its days, one ending at midnight only on its own');
select is((select count(*) from meeting_link_capacity), 5::bigint, 'and no other day is listed');

select * from finish();
rollback;
