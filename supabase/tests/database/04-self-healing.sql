-- Waiting paid bookings get a link without anyone calling the endpoint.
begin;
create extension if not exists pgtap with schema extensions;
set local search_path = public, extensions;
select plan(9);

insert into meeting_links_pool (id, meeting_link) values
  ('00000000-0000-0000-0000-0000000000b1', 'https://meet.google.com/hea-ling-one');
insert into bookings (order_id, starts_at, ends_at, amount, payment_status) values
  ('heal-holder', '2030-03-01 10:00Z', '2030-03-01 11:00Z', 1000, 'paid'),
  ('heal-waiter', '2030-03-01 10:30Z', '2030-03-01 11:30Z', 1000, 'paid'),
  ('heal-latecomer', '2030-03-01 10:45Z', '2030-03-01 11:15Z', 1000, 'paid');
do $$ begin
  perform assign_meeting_link(id) from bookings where order_id = 'heal-holder';
  perform assign_meeting_link(id) from bookings where order_id = 'heal-waiter';
end $$;

select is((select needs_manual_link from bookings where order_id = 'heal-waiter'), true,
  'with the only link taken, an overlapping booking waits for a manual link');

insert into meeting_links_pool (id, meeting_link) values
  ('00000000-0000-0000-0000-0000000000b2', 'https://meet.google.com/hea-ling-two');
select is((select meeting_link_id from bookings where order_id = 'heal-waiter'),
  '00000000-0000-0000-0000-0000000000b2'::uuid, 'adding a link assigns it to the waiting paid booking');
select is((select needs_manual_link from bookings where order_id = 'heal-waiter'), false,
  'and clears its manual flag');
select is((select meeting_link_id from bookings where order_id = 'heal-latecomer'), null,
  'a paid booking is only given one link: the new link is now busy for the latecomer');

update bookings set payment_status = 'refunded' where order_id = 'heal-holder';
select is((select meeting_link_id from bookings where order_id = 'heal-holder'), null,
  'refunding a booking frees its link');
select is((select meeting_link_id from bookings where order_id = 'heal-latecomer'),
  '00000000-0000-0000-0000-0000000000b1'::uuid, 'and a waiting overlapping booking takes the freed slot');

update meeting_links_pool set is_available = false;
insert into bookings (order_id, starts_at, ends_at, amount, payment_status) values
  ('heal-retired', '2030-03-02 10:00Z', '2030-03-02 11:00Z', 1000, 'paid');
select is((select outcome from bookings b cross join lateral assign_meeting_link(b.id) where b.order_id = 'heal-retired'),
  'pool_exhausted', 'a retired link is never assigned');
update meeting_links_pool set is_available = true where meeting_link = 'https://meet.google.com/hea-ling-one';
select is((select meeting_link_id from bookings where order_id = 'heal-retired'),
  '00000000-0000-0000-0000-0000000000b1'::uuid, 're-enabling a link assigns it to a waiting booking');

insert into bookings (order_id, starts_at, ends_at, amount, payment_status) values
  ('heal-swept', '2030-03-03 10:00Z', '2030-03-03 11:00Z', 1000, 'paid'),
  ('heal-ended', '2020-03-03 10:00Z', '2020-03-03 11:00Z', 1000, 'paid');
select is(assign_pending_meeting_links(), 1,
  'assign_pending_meeting_links() gives every upcoming waiting booking a link, not meetings already over');

select * from finish();
rollback;
