-- Local development data only: a migration would ship these fake links to production.

insert into public.meeting_links_pool (meeting_link, notes)
select format('https://meet.google.com/loc-%s-dev', code), 'local placeholder ' || n
from unnest(array['aaaa', 'bbbb', 'cccc', 'dddd', 'eeee', 'ffff', 'gggg', 'hhhh', 'iiii', 'jjjj'])
  with ordinality as codes(code, n);

-- The reference scenarios, tomorrow in Jakarta: two paid bookings at 14:00-15:00 (two links),
-- one at 16:00-17:00 (reuses the first link), and one still waiting for its payment (fixed ids,
-- so the docs' examples can name them). Each has a demo customer: their emails land in the local
-- inbox (MailDev, http://127.0.0.1:54324); Dewi also opted in to WhatsApp (the stand-in:
-- http://127.0.0.1:54327/_sandbox/messages).
with tomorrow as (
  select ((now() at time zone 'Asia/Jakarta')::date + 1)::timestamp as day
)
insert into public.bookings (id, order_id, starts_at, ends_at, amount, payment_status, customer_email,
  customer_name, locale, customer_time_zone, customer_phone, customer_whatsapp_opt_in)
select id::uuid, order_id, (day + starts) at time zone 'Asia/Jakarta', (day + ends) at time zone 'Asia/Jakarta',
  150000, status, email, name, locale, zone, phone, phone is not null
from tomorrow, (values
  ('5eed0000-0000-4000-8000-000000000001', 'seed-order-1',
   interval '14 hours', interval '15 hours', 'paid', 'ayu@example.com',
   'Ayu Lestari', 'id', 'Asia/Jakarta', null),
  ('5eed0000-0000-4000-8000-000000000002', 'seed-order-2',
   interval '14 hours', interval '15 hours', 'paid', 'budi@example.com',
   'Budi Santoso', 'id', 'Asia/Makassar', null),
  ('5eed0000-0000-4000-8000-000000000003', 'seed-order-3',
   interval '16 hours', interval '17 hours', 'paid', 'claire@example.com',
   'Claire Martin', 'en', 'Asia/Singapore', null),
  ('5eed0000-0000-4000-8000-000000000004', 'seed-order-4',
   interval '16 hours', interval '17 hours', 'pending', 'dewi@example.com',
   'Dewi Kusuma', 'id', 'Asia/Jakarta', '+6281100000004')
) as b(id, order_id, starts, ends, status, email, name, locale, zone, phone);

select public.assign_meeting_link(id) from public.bookings
where payment_status = 'paid' order by order_id;
