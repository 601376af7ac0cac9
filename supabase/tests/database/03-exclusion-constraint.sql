-- The database itself refuses a double booking, whoever writes the row.
begin;
create extension if not exists pgtap with schema extensions;
set local search_path = public, extensions;
select plan(8);

insert into meeting_links_pool (id, meeting_link) values
  ('00000000-0000-0000-0000-00000000000a', 'https://meet.google.com/exc-lude-one');

insert into bookings (order_id, starts_at, ends_at, amount, payment_status, meeting_link_id) values
  ('exc-held', '2030-06-01 10:00Z', '2030-06-01 11:00Z', 1000, 'paid', '00000000-0000-0000-0000-00000000000a'),
  ('exc-other', '2030-06-01 10:30Z', '2030-06-01 11:30Z', 1000, 'paid', null),
  ('exc-pending', '2030-06-01 10:30Z', '2030-06-01 11:30Z', 1000, 'pending', null);

select throws_ok(
  $$update bookings set meeting_link_id = '00000000-0000-0000-0000-00000000000a' where order_id = 'exc-other'$$,
  '23P01', null, 'a direct UPDATE that would double-book a link is rejected');
select throws_ok(
  $$insert into bookings (order_id, starts_at, ends_at, amount, payment_status, meeting_link_id)
    values ('exc-insert', '2030-06-01 09:00Z', '2030-06-01 12:00Z', 1000, 'paid', '00000000-0000-0000-0000-00000000000a')$$,
  '23P01', null, 'so is a direct INSERT');
select throws_ok(
  $$update bookings set meeting_link_id = '00000000-0000-0000-0000-00000000000a' where order_id = 'exc-pending'$$,
  '23514', null, 'an unpaid booking cannot hold a link');
select throws_ok(
  $$insert into bookings (order_id, starts_at, ends_at, amount) values ('exc-backwards', '2030-06-01 11:00Z', '2030-06-01 10:00Z', 1000)$$,
  '22000', null, 'a booking must end after it starts');
select throws_ok(
  $$insert into bookings (order_id, starts_at, ends_at, amount) values ('exc-empty', '2030-06-01 11:00Z', '2030-06-01 11:00Z', 1000)$$,
  '23514', null, 'and cannot be empty');
select throws_ok(
  $$insert into bookings (order_id, starts_at, ends_at, amount) values ('exc held', '2030-06-01 10:00Z', '2030-06-01 11:00Z', 1000)$$,
  '23514', null, 'an order_id Midtrans would not accept is refused');
select throws_ok(
  $$insert into bookings (order_id, starts_at, ends_at, amount) values ('exc-held', '2030-07-01 10:00Z', '2030-07-01 11:00Z', 1000)$$,
  '23505', null, 'an order_id belongs to one booking');
select lives_ok(
  $$insert into bookings (order_id, starts_at, ends_at, amount, payment_status, meeting_link_id)
    values ('exc-after', '2030-06-01 11:00Z', '2030-06-01 12:00Z', 1000, 'paid', '00000000-0000-0000-0000-00000000000a')$$,
  'a back-to-back booking may hold the same link');

select * from finish();
rollback;
