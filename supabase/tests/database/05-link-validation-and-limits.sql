-- What the pool accepts, and the per-link use limit.
begin;
create extension if not exists pgtap with schema extensions;
set local search_path = public, extensions;
select plan(9);

select lives_ok($$insert into meeting_links_pool (meeting_link, notes) values ('https://meet.google.com/abc-defg-hij', 'first')$$,
  'an https Google Meet link is accepted');
select throws_ok($$insert into meeting_links_pool (meeting_link) values ('https://meet.google.com/abc-defg-hij')$$,
  '23505', null, 'the same link twice is refused');
select throws_ok($$insert into meeting_links_pool (meeting_link) values ('http://meet.google.com/abc-defg-hik')$$,
  '23514', null, 'plain http is refused');
select throws_ok($$insert into meeting_links_pool (meeting_link) values (' https://meet.google.com/abc-defg-hik')$$,
  '23514', null, 'surrounding whitespace is refused');
select throws_ok($$insert into meeting_links_pool (meeting_link) values ('https://zoom.us/j/123456789')$$,
  '23514', null, 'a link that is not Google Meet is refused');
select throws_ok($$insert into meeting_links_pool (meeting_link) values ('https://meet.google.com/abc-defg-hik?authuser=1')$$,
  '23514', null, 'a query string is refused');

-- A link retired after two uses.
update meeting_links_pool set max_uses = 2 where meeting_link = 'https://meet.google.com/abc-defg-hij';
insert into bookings (order_id, starts_at, ends_at, amount, payment_status)
select 'uses-' || i, timestamptz '2030-05-01 08:00Z' + i * interval '1 hour',
  timestamptz '2030-05-01 09:00Z' + i * interval '1 hour', 1000, 'paid'
from generate_series(1, 3) as i;
select is(
  (select array_agg(a.outcome order by b.order_id) from bookings b cross join lateral assign_meeting_link(b.id) a
   where b.order_id in ('uses-1')) || (select array_agg(a.outcome) from bookings b cross join lateral assign_meeting_link(b.id) a
   where b.order_id = 'uses-2') || (select array_agg(a.outcome) from bookings b cross join lateral assign_meeting_link(b.id) a
   where b.order_id = 'uses-3'),
  array['assigned', 'assigned', 'pool_exhausted'],
  'a link with max_uses = 2 serves two bookings, then no more');
update meeting_links_pool set max_uses = 3;
select isnt((select meeting_link_id from bookings where order_id = 'uses-3'), null,
  'raising max_uses gives the link to the waiting booking');
select is((select count(*) from meeting_link_usage where paid_bookings = 3), 1::bigint,
  'meeting_link_usage counts the three uses');

select * from finish();
rollback;
