-- Slots are half-open instants: back-to-back bookings share, equal instants in any zone clash.
begin;
create extension if not exists pgtap with schema extensions;
set local search_path = public, extensions;
select plan(6);

insert into meeting_links_pool (meeting_link) values ('https://meet.google.com/one-link-onl');

insert into bookings (order_id, starts_at, ends_at, amount, payment_status) values
  ('slot-a', '2030-12-01 14:00+07', '2030-12-01 15:00+07', 1000, 'paid'),
  ('slot-b', '2030-12-01 15:00+07', '2030-12-01 16:00+07', 1000, 'paid'),
  ('slot-utc', '2030-12-01 07:30Z', '2030-12-01 08:30Z', 1000, 'paid');

select is(
  (select a.outcome from bookings b cross join lateral assign_meeting_link(b.id) a where b.order_id = 'slot-a'),
  'assigned', 'the only link goes to 14:00-15:00 Jakarta time');
select is(
  (select a.outcome from bookings b cross join lateral assign_meeting_link(b.id) a where b.order_id = 'slot-b'),
  'assigned', 'back-to-back 15:00-16:00 shares the same link');
select is(
  (select a.outcome from bookings b cross join lateral assign_meeting_link(b.id) a where b.order_id = 'slot-utc'),
  'pool_exhausted', '07:30-08:30 UTC is 14:30-15:30 Jakarta: it overlaps, so no link is left');

set local time zone 'America/New_York';
select is((select starts_at from bookings where order_id = 'slot-a'),
  '2030-12-01 07:00:00+00'::timestamptz, 'a booking entered as 14:00+07 is the same instant in any session time zone');
select is(
  (select meeting_link from find_available_meeting_link('2030-12-01 02:00-05', '2030-12-01 03:00-05')),
  null, 'find_available_meeting_link sees the clash whatever the zone of its arguments');
select is(
  (select meeting_link from find_available_meeting_link('2030-12-01 04:00-05', '2030-12-01 05:00-05')),
  'https://meet.google.com/one-link-onl', 'and finds the link free right after the last booking');

select * from finish();
rollback;
