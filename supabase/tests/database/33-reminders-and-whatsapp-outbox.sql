-- Reminders and the WhatsApp outbox, as the trigger writes them: both queued in the transaction
-- that gives a booking its link, kept in step by moves, link changes and refunds, never for a
-- time already past, never claimed after the meeting started; Meta's statuses by wamid.
begin;
create extension if not exists pgtap with schema extensions;
set local search_path = public, extensions;
select plan(24);

insert into meeting_links_pool (id, meeting_link) values
  ('00000000-0000-0000-0000-00000000f001', 'https://meet.google.com/rem-aaaa-one'),
  ('00000000-0000-0000-0000-00000000f002', 'https://meet.google.com/rem-aaaa-two');

select is((select reminder_offsets from booking_message_settings),
  array[interval '24 hours', interval '1 hour'], 'reminders default to 24 hours and 1 hour before');

-- Phones: E.164 or refused, by the named check.
select throws_ok($$insert into bookings (order_id, starts_at, ends_at, amount, customer_phone)
  values ('r-bad', now() + interval '3 days', now() + interval '3 days 1 hour', 1, '081234567890')$$,
  '23514', null, 'a national number is refused');
select throws_like($$insert into bookings (order_id, starts_at, ends_at, amount, customer_phone)
  values ('r-bad', now() + interval '3 days', now() + interval '3 days 1 hour', 1,
    E'+6281234567890\n{"x":1}')$$,
  '%bookings_customer_phone_is_e164%', 'a number with anything after it is refused, naming the check');

-- A booking three days ahead with both channels, one with email only.
insert into bookings (id, order_id, starts_at, ends_at, amount, payment_status, customer_email,
  customer_name, customer_phone, customer_whatsapp_opt_in) values
  ('00000000-0000-0000-0000-0000000000c1', 'r-c1', date_trunc('hour', now()) + interval '3 days',
   date_trunc('hour', now()) + interval '3 days 1 hour', 1, 'paid', 'citra@example.com', 'Citra',
   '+6281234567890', true),
  ('00000000-0000-0000-0000-0000000000d1', 'r-d1', date_trunc('hour', now()) + interval '3 days',
   date_trunc('hour', now()) + interval '3 days 1 hour', 1, 'paid', 'dian@example.com', 'Dian',
   '+6281200000001', false);

create temp view messages_of as
select b.order_id, x.channel, x.kind, x.status,
  case when x.kind = 'reminder' then x.due_at - b.starts_at end as before_start, x.meeting_link
from (select booking_id, 'email' as channel, kind, status, due_at, meeting_link, id from booking_emails
      union all
      select booking_id, 'whatsapp', kind, status, due_at, meeting_link, id from booking_whatsapp_messages) x
join bookings b on b.id = x.booking_id
where x.kind <> 'ops_alert';

select is_empty($$select * from messages_of$$, 'paid without a link: nothing queued');
select is((select outcome from assign_meeting_link('00000000-0000-0000-0000-0000000000c1')),
  'assigned', 'c1 gets a link');
select is((select outcome from assign_meeting_link('00000000-0000-0000-0000-0000000000d1')),
  'assigned', 'd1 gets the other');
set constraints all immediate;
set constraints all deferred;
select set_eq($$select channel, kind, before_start from messages_of where order_id = 'r-c1' and status = 'pending'$$,
  $$values ('email', 'invite', null::interval), ('email', 'reminder', interval '-24 hours'),
    ('email', 'reminder', interval '-1 hour'), ('whatsapp', 'invite', null),
    ('whatsapp', 'reminder', interval '-24 hours'), ('whatsapp', 'reminder', interval '-1 hour')$$,
  'the link queues, per channel, the invite and a reminder 24 h and 1 h before the start');
select set_eq($$select channel, kind from messages_of where order_id = 'r-d1'$$,
  $$values ('email', 'invite'), ('email', 'reminder'), ('email', 'reminder')$$,
  'no WhatsApp opt-in: email only');
select is((select count(*)::int from booking_emails where order_id = 'r-c1' and kind = 'reminder'
    and calendar_method is null and meeting_link = 'https://meet.google.com/rem-aaaa-one'), 2,
  'reminders carry the link and no calendar REQUEST');

-- Opting out and in again in one transaction: the trigger runs, and finds nothing to tell.
update bookings set customer_whatsapp_opt_in = false where order_id = 'r-c1';
update bookings set customer_whatsapp_opt_in = true where order_id = 'r-c1';
set constraints all immediate;
set constraints all deferred;
select is((select count(*)::int from messages_of where order_id = 'r-c1'), 6, 'a change the customer does not see queues nothing');

-- Moved: the old reminders go, new ones at the new times.
select is((select outcome from reschedule_booking('00000000-0000-0000-0000-0000000000c1',
    date_trunc('hour', now()) + interval '5 days', date_trunc('hour', now()) + interval '5 days 1 hour')),
  'kept_link', 'c1 moves two days later');
set constraints all immediate;
set constraints all deferred;
select is((select count(*)::int from messages_of where order_id = 'r-c1' and kind = 'reminder'), 4, 'the old reminders are dropped, not kept beside the new ones');
select is((select count(*)::int from booking_emails e join bookings b on b.id = e.booking_id
    where e.order_id = 'r-c1' and e.kind = 'reminder' and e.starts_at = b.starts_at
      and e.due_at in (b.starts_at - interval '24 hours', b.starts_at - interval '1 hour')), 2,
  'the email reminders are at the new times');
select is((select count(*)::int from booking_whatsapp_messages m join bookings b on b.id = m.booking_id
    where m.order_id = 'r-c1' and m.kind = 'reminder' and m.starts_at = b.starts_at), 2,
  'and the WhatsApp ones');
select results_eq($$select count(*)::int from booking_whatsapp_messages where order_id = 'r-c1' and kind = 'invite'$$,
  $$values (2)$$, 'the customer gets the moved invite on WhatsApp too');

-- A new link: the reminders carry it.
update bookings set meeting_link_id = '00000000-0000-0000-0000-00000000f002' where order_id = 'r-c1';
set constraints all immediate;
set constraints all deferred;
select set_eq($$select channel, meeting_link from messages_of where order_id = 'r-c1' and kind = 'reminder'$$,
  $$values ('email', 'https://meet.google.com/rem-aaaa-two'), ('whatsapp', 'https://meet.google.com/rem-aaaa-two')$$,
  'a changed link replaces the reminders with ones that carry it');
select is((select previous_meeting_link from booking_whatsapp_messages where order_id = 'r-c1'
    and kind = 'invite' order by id desc limit 1), 'https://meet.google.com/rem-aaaa-one',
  'the WhatsApp invite names the link it replaces (link_changed template)');

-- Refunded: pending reminders dropped, a cancellation on each channel.
update bookings set payment_status = 'refunded', meeting_link_id = null where order_id = 'r-c1';
set constraints all immediate;
set constraints all deferred;
select is_empty($$select * from messages_of where order_id = 'r-c1' and kind = 'reminder'$$,
  'a refund drops the reminders');
select set_eq($$select channel from messages_of where order_id = 'r-c1' and kind = 'cancellation'$$,
  $$values ('email'), ('whatsapp')$$, 'and tells the customer on both channels');

-- Paid 30 minutes (then 2 hours) before the start: no reminder for a time already past.
insert into bookings (id, order_id, starts_at, ends_at, amount, payment_status, customer_email,
  customer_phone, customer_whatsapp_opt_in) values
  ('00000000-0000-0000-0000-0000000000e1', 'r-e1', now() + interval '30 minutes',
   now() + interval '90 minutes', 1, 'paid', 'eka@example.com', '+6281200000002', true),
  ('00000000-0000-0000-0000-0000000000e2', 'r-e2', now() + interval '2 hours',
   now() + interval '3 hours', 1, 'paid', 'eko@example.com', '+6281200000003', true);
select is((select outcome from assign_meeting_link('00000000-0000-0000-0000-0000000000e1')), 'assigned', 'e1 gets a link');
select is((select outcome from assign_meeting_link('00000000-0000-0000-0000-0000000000e2')), 'assigned', 'e2 gets a link');
set constraints all immediate;
set constraints all deferred;
select set_eq($$select order_id, channel, kind, before_start from messages_of where order_id in ('r-e1', 'r-e2')$$,
  $$values ('r-e1', 'email', 'invite', null::interval), ('r-e1', 'whatsapp', 'invite', null),
    ('r-e2', 'email', 'invite', null), ('r-e2', 'whatsapp', 'invite', null),
    ('r-e2', 'email', 'reminder', interval '-1 hour'), ('r-e2', 'whatsapp', 'reminder', interval '-1 hour')$$,
  'paid 30 minutes before: the invite only; 2 hours before: the 1-hour reminder only');

-- A reminder the drains never reached before the meeting started is skipped, not sent.
update booking_emails set starts_at = now() - interval '1 minute', due_at = now() - interval '61 minutes'
where order_id = 'r-e2' and kind = 'reminder';
update booking_whatsapp_messages set starts_at = now() - interval '1 minute', due_at = now() - interval '61 minutes'
where order_id = 'r-e2' and kind = 'reminder';
select is((select count(*)::int from claim_booking_emails(100, '1 minute', 'x.test') where kind = 'reminder')
    + (select count(*)::int from claim_whatsapp_messages(100, '1 minute') where kind = 'reminder'), 0,
  'neither drain claims a reminder once the meeting started');
select set_eq($$select channel, status from messages_of where order_id = 'r-e2' and kind = 'reminder'$$,
  $$values ('email', 'skipped'), ('whatsapp', 'skipped')$$, 'it is skipped on both channels');

select * from finish();
rollback;
