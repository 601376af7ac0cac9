-- The reference design's scenarios: who gets which link.
begin;
create extension if not exists pgtap with schema extensions;
set local search_path = public, extensions;
select plan(9);

insert into meeting_links_pool (meeting_link)
select format('https://meet.google.com/ref-link-%s', lpad(chr(97 + i), 3, 'a'))
from generate_series(0, 9) as i;

insert into bookings (order_id, starts_at, ends_at, amount, payment_status) values
  ('ref-first', '2030-12-01 14:00+07', '2030-12-01 15:00+07', 150000, 'paid'),
  ('ref-second', '2030-12-01 14:00+07', '2030-12-01 15:00+07', 150000, 'paid'),
  ('ref-later', '2030-12-01 16:00+07', '2030-12-01 17:00+07', 150000, 'paid');

-- One at a time, in booking order, as the webhook would.
create temporary table assigned on commit drop as
select b.order_id, a.* from bookings b cross join lateral assign_meeting_link(b.id) a
where b.order_id = 'ref-first';
insert into assigned
select b.order_id, a.* from bookings b cross join lateral assign_meeting_link(b.id) a
where b.order_id = 'ref-second';
insert into assigned
select b.order_id, a.* from bookings b cross join lateral assign_meeting_link(b.id) a
where b.order_id = 'ref-later';

select is((select outcome from assigned where order_id = 'ref-first'), 'assigned',
  'a paid booking gets a link');
select isnt((select meeting_link_id from assigned where order_id = 'ref-first'),
  (select meeting_link_id from assigned where order_id = 'ref-second'),
  'two paid bookings 14:00-15:00 on the same day get different links');
select is((select meeting_link from assigned where order_id = 'ref-first'),
  'https://meet.google.com/ref-link-aaa',
  'the first booking gets the first link of the pool');
select is((select meeting_link_id from assigned where order_id = 'ref-later'),
  (select meeting_link_id from assigned where order_id = 'ref-first'),
  'a booking at 16:00-17:00 reuses the first link');

select results_eq(
  $$select a.meeting_link_id, a.outcome from bookings b cross join lateral assign_meeting_link(b.id) a
    where b.order_id = 'ref-first'$$,
  $$select meeting_link_id, 'already_assigned'::text from assigned where order_id = 'ref-first'$$,
  'assigning again returns the same link, marked already assigned');

-- Fill the rest of the pool for 14:00-15:00, then one more.
insert into bookings (order_id, starts_at, ends_at, amount, payment_status)
select 'ref-fill-' || i, '2030-12-01 14:00+07', '2030-12-01 15:00+07', 150000, 'paid'
from generate_series(3, 11) as i;
select is(
  (select count(*) from bookings b cross join lateral assign_meeting_link(b.id) a
   where b.order_id like 'ref-fill-%' and a.outcome = 'assigned'),
  8::bigint, 'eight more overlapping bookings fill the pool of ten');
select is(
  (select a.outcome from bookings b cross join lateral assign_meeting_link(b.id) a
   where b.order_id = 'ref-fill-11'),
  'pool_exhausted', 'the eleventh overlapping booking finds the pool exhausted');
select is(
  (select (payment_status, needs_manual_link, meeting_link_id is null)::text
   from bookings where order_id = 'ref-fill-11'),
  '(paid,t,t)', 'and it is flagged for a manual link and stays paid');
select is(
  (select count(distinct meeting_link_id) from bookings
   where slot && tstzrange('2030-12-01 14:00+07', '2030-12-01 15:00+07')),
  10::bigint, 'the ten overlapping bookings hold ten distinct links');

select * from finish();
rollback;
