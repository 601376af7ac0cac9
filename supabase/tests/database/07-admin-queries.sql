-- The reference design's admin SQL keeps working verbatim, and the views tell the truth.
begin;
create extension if not exists pgtap with schema extensions;
set local search_path = public, extensions;
select plan(9);

select lives_ok($$INSERT INTO meeting_links_pool (meeting_link, notes) VALUES ('https://meet.google.com/adm-inqu-one', 'Link 1'), ('https://meet.google.com/adm-inqu-two', 'Link 2'), ('https://meet.google.com/adm-inqu-thr', 'Link 3')$$,
  'admins add links with a plain INSERT');
select is((SELECT COUNT(*) FROM meeting_links_pool), 3::bigint, 'SELECT COUNT(*) FROM meeting_links_pool');
select lives_ok($$UPDATE meeting_links_pool SET is_available = false WHERE meeting_link = 'https://meet.google.com/adm-inqu-thr'$$,
  'admins retire a link with a plain UPDATE');
select results_eq(
  $$SELECT COUNT(*) as total, COUNT(*) FILTER (WHERE is_available = true) as available FROM meeting_links_pool$$,
  $$values (3::bigint, 2::bigint)$$, 'the pool status query counts available links');

insert into bookings (order_id, starts_at, ends_at, amount, payment_status) values
  ('adm-1', '2030-08-01 10:00+07', '2030-08-01 11:00+07', 1000, 'paid'),
  ('adm-2', '2030-08-01 10:30+07', '2030-08-01 11:30+07', 1000, 'paid'),
  ('adm-3', '2030-08-01 10:45+07', '2030-08-01 11:45+07', 1000, 'paid'),
  ('adm-4', '2030-08-02 10:00+07', '2030-08-02 11:00+07', 1000, 'pending');
do $$
declare v_id uuid;
begin
  for v_id in select id from bookings where payment_status = 'paid' order by order_id loop
    perform assign_meeting_link(v_id);
  end loop;
end $$;

select results_eq($$SELECT order_id FROM bookings WHERE payment_status = 'paid' AND meeting_link_id IS NULL$$,
  $$values ('adm-3')$$, 'the reference query finds the paid booking without a link');
select results_eq($$select order_id, needs_manual_link from paid_bookings_without_link$$,
  $$values ('adm-3', true)$$, 'so does paid_bookings_without_link, with its manual flag');
select results_eq(
  $$SELECT mlp.meeting_link, COUNT(b.id) FROM meeting_links_pool mlp LEFT JOIN bookings b ON b.meeting_link_id = mlp.id GROUP BY mlp.meeting_link ORDER BY mlp.meeting_link$$,
  $$values ('https://meet.google.com/adm-inqu-one', 1::bigint), ('https://meet.google.com/adm-inqu-thr', 0), ('https://meet.google.com/adm-inqu-two', 1)$$,
  'the LEFT JOIN usage count per link works');
select results_eq($$select total_links, available_links, retired_links, upcoming_bookings_without_link from meeting_link_pool_status$$,
  $$values (3::bigint, 2::bigint, 1::bigint, 1::bigint)$$, 'meeting_link_pool_status sums it up');
select results_eq($$select day_in_jakarta, peak_overlapping_paid_bookings, available_links from meeting_link_capacity$$,
  $$values ('2030-08-01'::date, 3::bigint, 2::bigint)$$, 'meeting_link_capacity shows a day whose peak is above the pool');

select * from finish();
rollback;
