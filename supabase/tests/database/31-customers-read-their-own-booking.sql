-- A logged-in customer reads their own bookings' slot, payment status and link, and nothing
-- else; anon reads nothing.
begin;
create extension if not exists pgtap with schema extensions;
set local search_path = public, extensions;
select plan(12);

insert into auth.users (id, email) values
  ('00000000-0000-0000-0000-0000000000c1', 'citra@example.com'),
  ('00000000-0000-0000-0000-0000000000c2', 'dewi@example.com');
insert into meeting_links_pool (id, meeting_link) values
  ('00000000-0000-0000-0000-00000000c001', 'https://meet.google.com/own-link-one'),
  ('00000000-0000-0000-0000-00000000c002', 'https://meet.google.com/own-link-two'),
  ('00000000-0000-0000-0000-00000000c003', 'https://meet.google.com/own-link-thr');
insert into bookings (order_id, starts_at, ends_at, amount, payment_status, meeting_link_id,
  customer_user_id, review_reason) values
  ('own-c1', '2030-03-01 03:00Z', '2030-03-01 04:00Z', 1, 'paid',
   '00000000-0000-0000-0000-00000000c001', '00000000-0000-0000-0000-0000000000c1', 'secret note'),
  ('own-c1-pending', '2030-03-02 03:00Z', '2030-03-02 04:00Z', 1, 'pending', null,
   '00000000-0000-0000-0000-0000000000c1', null),
  ('own-c2', '2030-03-01 03:00Z', '2030-03-01 04:00Z', 1, 'paid',
   '00000000-0000-0000-0000-00000000c002', '00000000-0000-0000-0000-0000000000c2', null);

-- Citra.
set local role authenticated;
set local request.jwt.claims = '{"sub": "00000000-0000-0000-0000-0000000000c1", "role": "authenticated"}';
select results_eq($$select b.starts_at, b.ends_at, b.payment_status, l.meeting_link
    from bookings b left join meeting_links_pool l on l.id = b.meeting_link_id order by b.starts_at$$,
  $$values ('2030-03-01 03:00Z'::timestamptz, '2030-03-01 04:00Z'::timestamptz, 'paid', 'https://meet.google.com/own-link-one'),
    ('2030-03-02 03:00Z', '2030-03-02 04:00Z', 'pending', null)$$,
  'a customer reads their own bookings: slot, payment status and link');
select results_eq($$select meeting_link from meeting_links_pool$$,
  $$values ('https://meet.google.com/own-link-one')$$,
  'and of the pool only the link their paid booking holds');
select throws_ok($$select review_reason from bookings$$, '42501', null, 'not review_reason');
select throws_ok($$select paid_transaction_id from bookings$$, '42501', null, 'not paid_transaction_id');
select throws_ok($$select customer_email from bookings$$, '42501', null, 'not the customer columns');
select throws_ok($$select * from midtrans_notifications$$, '42501', null, 'not the notification log');
select throws_ok($$select * from booking_emails$$, '42501', null, 'not the outbox');
select throws_ok($$update bookings set starts_at = starts_at$$, '42501', null, 'and writes nothing');
reset role;

-- Dewi sees only hers.
set local role authenticated;
set local request.jwt.claims = '{"sub": "00000000-0000-0000-0000-0000000000c2", "role": "authenticated"}';
select results_eq($$select l.meeting_link from bookings b join meeting_links_pool l on l.id = b.meeting_link_id$$,
  $$values ('https://meet.google.com/own-link-two')$$, 'another customer reads only their own link');
reset role;

-- A signed-in user with no bookings, and anon.
set local role authenticated;
set local request.jwt.claims = '{"sub": "00000000-0000-0000-0000-0000000000c9", "role": "authenticated"}';
select is_empty($$select id from bookings union all select id from meeting_links_pool$$,
  'a user with no bookings sees no booking and no link');
reset role;
set local role anon;
select throws_ok($$select id from bookings$$, '42501', null, 'anon reads no booking');
select throws_ok($$select id from meeting_links_pool$$, '42501', null, 'anon reads no link');
reset role;

select * from finish();
rollback;
