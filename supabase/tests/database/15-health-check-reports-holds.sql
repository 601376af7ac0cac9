-- check_double_booking() reports a live hold whose link a paid booking (not the hold's own) or
-- another live hold has for an overlapping slot, read by live_holds_sharing_a_link() from the
-- tables alone, even with the guard triggers and the holds' exclusion constraint out of the way.
begin;
create extension if not exists pgtap with schema extensions;
set local search_path = public, extensions;
select plan(13);

-- This transaction's tables only (rolled back at the end): no hold or check left by others.
truncate bookings, double_booking_checks cascade;

insert into meeting_links_pool (id, meeting_link) values
  ('00000000-0000-0000-0000-0000000000d1', 'https://meet.google.com/hld-aaaa-one'),
  ('00000000-0000-0000-0000-0000000000d2', 'https://meet.google.com/hld-aaaa-two'),
  ('00000000-0000-0000-0000-0000000000d3', 'https://meet.google.com/hld-aaaa-thr'),
  ('00000000-0000-0000-0000-0000000000d4', 'https://meet.google.com/hld-aaaa-fou'),
  ('00000000-0000-0000-0000-0000000000d5', 'https://meet.google.com/hld-aaaa-fiv');

-- Healthy: a live hold of link 1, and a paid booking of it right after (back to back).
insert into bookings (order_id, starts_at, ends_at, amount, payment_status, meeting_link_id) values
  ('hold-1', '2030-11-01 10:00Z', '2030-11-01 11:00Z', 1000, 'pending', null),
  ('paid-1', '2030-11-01 11:00Z', '2030-11-01 12:00Z', 1000, 'paid', '00000000-0000-0000-0000-0000000000d1');
insert into meeting_link_holds (booking_id, meeting_link_id, starts_at, ends_at, held_until)
select id, '00000000-0000-0000-0000-0000000000d1', starts_at, ends_at, now() + interval '10 minutes'
from bookings where order_id = 'hold-1';

select is_empty($$select * from live_holds_sharing_a_link()$$,
  'a live hold next to a paid booking of its link is no double booking');
select results_eq($$select * from check_double_booking()$$, $$values (0, 0, 0)$$,
  'healthy data: the health check reports 0, 0 and 0');

-- Only inside this rolled-back test: without the guard triggers and the holds' exclusion
-- constraint, write what they would refuse.
alter table bookings disable trigger bookings_refuse_double_booking;
alter table meeting_link_holds disable trigger meeting_link_holds_refuse_double_booking;
alter table meeting_link_holds drop constraint meeting_link_holds_never_share_a_link;
insert into bookings (order_id, starts_at, ends_at, amount, payment_status, meeting_link_id) values
  -- link 1: a paid booking inside hold-1's slot
  ('paid-2', '2030-11-01 10:30Z', '2030-11-01 10:45Z', 1000, 'paid', '00000000-0000-0000-0000-0000000000d1'),
  -- link 2: two live holds of overlapping slots
  ('hold-2', '2030-11-02 10:00Z', '2030-11-02 11:00Z', 1000, 'pending', null),
  ('hold-3', '2030-11-02 10:30Z', '2030-11-02 11:30Z', 1000, 'pending', null),
  -- link 3: an expired hold under a paid booking; link 4: an expired hold under a live one
  ('expired-1', '2030-11-03 10:00Z', '2030-11-03 11:00Z', 1000, 'pending', null),
  ('paid-3', '2030-11-03 10:00Z', '2030-11-03 11:00Z', 1000, 'paid', '00000000-0000-0000-0000-0000000000d3'),
  ('expired-2', '2030-11-04 10:00Z', '2030-11-04 11:00Z', 1000, 'pending', null),
  ('hold-4', '2030-11-04 10:30Z', '2030-11-04 11:30Z', 1000, 'pending', null),
  -- link 5: a live hold of its own paid booking's link and slot
  ('own-1', '2030-11-05 10:00Z', '2030-11-05 11:00Z', 1000, 'paid', '00000000-0000-0000-0000-0000000000d5');
insert into meeting_link_holds (booking_id, meeting_link_id, starts_at, ends_at, held_until)
select b.id, h.link::uuid, b.starts_at, b.ends_at, now() + h.left_for::interval
from (values
  ('hold-2', '00000000-0000-0000-0000-0000000000d2', '10 minutes'),
  ('hold-3', '00000000-0000-0000-0000-0000000000d2', '5 minutes'),
  ('expired-1', '00000000-0000-0000-0000-0000000000d3', '-1 minute'),
  ('expired-2', '00000000-0000-0000-0000-0000000000d4', '0 minutes'),
  ('hold-4', '00000000-0000-0000-0000-0000000000d4', '10 minutes'),
  ('own-1', '00000000-0000-0000-0000-0000000000d5', '10 minutes')) as h(order_id, link, left_for)
join bookings b on b.order_id = h.order_id;

select results_eq($$select s.order_id, o.order_id, s.other_kind from live_holds_sharing_a_link() s
    join bookings o on o.id = s.other_booking_id order by 1, 2$$,
  $$values ('hold-1', 'paid-2', 'paid booking'), ('hold-2', 'hold-3', 'live hold'),
    ('hold-3', 'hold-2', 'live hold')$$,
  'a live hold under a paid booking, and each of two overlapping live holds, is reported with the other');
select results_eq($$select s.meeting_link_id, s.starts_at, s.ends_at, s.held_until
    from live_holds_sharing_a_link() s where s.order_id = 'hold-1'$$,
  $$values ('00000000-0000-0000-0000-0000000000d1'::uuid, '2030-11-01 10:00Z'::timestamptz,
    '2030-11-01 11:00Z'::timestamptz, now() + interval '10 minutes')$$,
  'with its link, slot and held_until');
select is_empty($$select * from live_holds_sharing_a_link() s
    join bookings b on b.id in (s.booking_id, s.other_booking_id)
    where b.order_id in ('expired-1', 'expired-2', 'paid-3', 'hold-4')$$,
  'an expired hold is not reported, nor is what overlaps it');
select is_empty($$select * from live_holds_sharing_a_link() s
    where s.meeting_link_id = '00000000-0000-0000-0000-0000000000d5'$$,
  'a hold overlapping its own paid booking is not reported');

select results_eq($$select * from check_double_booking()$$, $$values (0, 0, 3)$$,
  'check_double_booking() counts the three holds sharing a link, and no paid booking');
select is((select holds_sharing_a_link from double_booking_checks order by id desc limit 1), 3::bigint,
  'the run is recorded with the count');
select is((select array_agg(e ->> 'order_id' || '/' || (e ->> 'other_kind') order by e ->> 'order_id')
    from double_booking_checks c, jsonb_array_elements(c.details -> 'holds_sharing_a_link') e
    where c.id = (select max(id) from double_booking_checks)),
  array['hold-1/paid booking', 'hold-2/live hold', 'hold-3/live hold'],
  'and with the holds and what they collide with in details');
select is((select e ->> 'other_booking_id'
    from double_booking_checks c, jsonb_array_elements(c.details -> 'holds_sharing_a_link') e
    where c.id = (select max(id) from double_booking_checks) and e ->> 'order_id' = 'hold-1'),
  (select id::text from bookings where order_id = 'paid-2'), 'naming the other booking');

-- The fix: delete the hold (one of two holds); ending it by an update is refused by the guard.
alter table meeting_link_holds enable trigger meeting_link_holds_refuse_double_booking;
select throws_ok($$update meeting_link_holds set held_until = now()
    where booking_id = (select id from bookings where order_id = 'hold-1')$$,
  '23P01', null, 'a hold under a paid booking cannot be ended by an update');
delete from meeting_link_holds
where booking_id in (select id from bookings where order_id in ('hold-1', 'hold-3'));
select results_eq($$select * from check_double_booking()$$, $$values (0, 0, 0)$$,
  'once the holds are deleted the health check is clean');

set local role service_role;
select lives_ok($$select * from live_holds_sharing_a_link()$$, 'service_role can run the holds'' health check');
reset role;

select * from finish();
rollback;
