-- paid_bookings_sharing_a_link() finds a double booking even where the constraint cannot see it.
begin;
create extension if not exists pgtap with schema extensions;
set local search_path = public, extensions;
select plan(3);

insert into meeting_links_pool (id, meeting_link) values
  ('00000000-0000-0000-0000-0000000000c1', 'https://meet.google.com/chk-shar-ing');
insert into bookings (order_id, starts_at, ends_at, amount, payment_status, meeting_link_id) values
  ('share-1', '2030-10-01 10:00Z', '2030-10-01 11:00Z', 1000, 'paid', '00000000-0000-0000-0000-0000000000c1'),
  ('share-2', '2030-10-01 11:00Z', '2030-10-01 12:00Z', 1000, 'paid', '00000000-0000-0000-0000-0000000000c1');

select is_empty($$select * from paid_bookings_sharing_a_link()$$,
  'back-to-back bookings on one link are no double booking');

-- Only inside this rolled-back test: without the constraint and the guard trigger, write what
-- they would refuse.
alter table bookings drop constraint bookings_paid_slots_never_share_a_link;
alter table bookings disable trigger bookings_refuse_double_booking;
insert into bookings (order_id, starts_at, ends_at, amount, payment_status, meeting_link_id) values
  ('share-3', '2030-10-01 10:30Z', '2030-10-01 10:45Z', 1000, 'paid', '00000000-0000-0000-0000-0000000000c1'),
  ('share-4', '2030-10-01 10:30Z', '2030-10-01 10:45Z', 1000, 'refunded', null);

select results_eq($$select order_id, overlaps_until from paid_bookings_sharing_a_link()$$,
  $$values ('share-3', '2030-10-01 11:00Z'::timestamptz)$$,
  'a paid booking overlapping an earlier one on the same link is reported, with the overlap');

set local role service_role;
select lives_ok($$select * from paid_bookings_sharing_a_link()$$, 'service_role can run the health check');
reset role;

select * from finish();
rollback;
