-- anon and authenticated (a signed-in user) can read or change nothing here.
begin;
create extension if not exists pgtap with schema extensions;
set local search_path = public, extensions;
select plan(14);

insert into meeting_links_pool (meeting_link) values ('https://meet.google.com/acc-esss-one');
insert into bookings (order_id, starts_at, ends_at, amount, payment_status) values
  ('acc-1', '2030-04-01 10:00Z', '2030-04-01 11:00Z', 1000, 'paid');

select is(
  (select array_agg(c.relname::text order by c.relname) from pg_class c
   where c.relnamespace = 'public'::regnamespace and c.relkind = 'r' and not c.relrowsecurity),
  null, 'every table in public has row level security enabled');

set local role anon;
select throws_ok($$select * from bookings$$, '42501', null, 'anon cannot read bookings');
select throws_ok($$select * from meeting_links_pool$$, '42501', null, 'anon cannot read the pool');
select throws_ok($$select * from paid_bookings_without_link$$, '42501', null, 'anon cannot read the admin views');
select throws_ok($$insert into meeting_links_pool (meeting_link) values ('https://meet.google.com/acc-esss-two')$$,
  '42501', null, 'anon cannot add links');
select throws_ok($$select assign_meeting_link(gen_random_uuid())$$, '42501', null, 'anon cannot assign links');
select throws_ok($$select assign_pending_meeting_links()$$, '42501', null, 'anon cannot run the sweep');
reset role;

set local role authenticated;
set local request.jwt.claims = '{"sub": "00000000-0000-0000-0000-000000000001", "role": "authenticated"}';
select throws_ok($$select * from bookings$$, '42501', null, 'a signed-in user cannot read bookings');
select throws_ok($$update bookings set payment_status = 'paid'$$, '42501', null, 'a signed-in user cannot mark a booking paid');
select throws_ok($$select * from find_available_meeting_link(now(), now() + interval '1 hour')$$,
  '42501', null, 'a signed-in user cannot probe the pool');
reset role;

set local role service_role;
select is((select count(*) from bookings), 1::bigint, 'service_role reads bookings');
select is((select outcome from assign_meeting_link((select id from bookings where order_id = 'acc-1'))),
  'assigned', 'service_role assigns links');
select is((select total_links from meeting_link_pool_status), 1::bigint, 'service_role reads the admin views');
reset role;

select is((select meeting_link_id is not null from bookings where order_id = 'acc-1'), true,
  'nothing anon or a user tried changed the booking; the service role''s assignment did');

select * from finish();
rollback;
