-- The outbox: which change queues which email, and only at commit of that change. The emails'
-- triggers are deferred to commit; `set constraints all immediate` stands in for the commit
-- inside this rolled-back test.
begin;
create extension if not exists pgtap with schema extensions;
set local search_path = public, extensions;
select plan(38);

-- Who to tell: bad addresses, names, zones and locales are refused by the table itself (zones: 32-).
select throws_ok($$insert into bookings (order_id, starts_at, ends_at, amount, customer_email)
  values ('e-bad-1', '2030-01-01 10:00Z', '2030-01-01 11:00Z', 1, 'a b@example.com')$$,
  '23514', null, 'an address with a space is refused');
select throws_ok($$insert into bookings (order_id, starts_at, ends_at, amount, customer_email)
  values ('e-bad-2', '2030-01-01 10:00Z', '2030-01-01 11:00Z', 1,
    E'x@example.com\r\nBcc: victim@example.com')$$,
  '23514', null, 'an address carrying a header line is refused');
select throws_ok($$insert into bookings (order_id, starts_at, ends_at, amount, customer_email)
  values ('e-bad-3', '2030-01-01 10:00Z', '2030-01-01 11:00Z', 1, 'Eve <eve@example.com>')$$,
  '23514', null, 'a display name in the address column is refused');
select throws_ok($$insert into bookings (order_id, starts_at, ends_at, amount, customer_name)
  values ('e-bad-4', '2030-01-01 10:00Z', '2030-01-01 11:00Z', 1, E'Eve\nBcc: x@example.com')$$,
  '23514', null, 'a name with a line break is refused');
select throws_ok($$insert into bookings (order_id, starts_at, ends_at, amount, customer_time_zone)
  values ('e-bad-5', '2030-01-01 10:00Z', '2030-01-01 11:00Z', 1, 'WIB')$$,
  '23503', null, 'a zone abbreviation is not an IANA name');
select throws_ok($$insert into bookings (order_id, starts_at, ends_at, amount, customer_time_zone)
  values ('e-bad-6', '2030-01-01 10:00Z', '2030-01-01 11:00Z', 1, 'Asia/Atlantis')$$,
  '23503', null, 'an unknown zone is refused');
select throws_ok($$insert into bookings (order_id, starts_at, ends_at, amount, locale)
  values ('e-bad-7', '2030-01-01 10:00Z', '2030-01-01 11:00Z', 1, 'fr')$$,
  '23514', null, 'a locale other than en or id is refused');
select throws_ok($$insert into bookings (order_id, starts_at, ends_at, amount, customer_user_id)
  values ('e-bad-8', '2030-01-01 10:00Z', '2030-01-01 11:00Z', 1, gen_random_uuid())$$,
  '23503', null, 'customer_user_id must be an auth.users account');
insert into bookings (order_id, starts_at, ends_at, amount, customer_email)
values ('e-defaults', '2030-01-01 10:00Z', '2030-01-01 11:00Z', 1, 'o''brien+x@example.co.id');
select is((select (customer_time_zone, locale)::text from bookings where order_id = 'e-defaults'),
  '(Asia/Jakarta,id)', 'defaults: Asia/Jakarta, Bahasa Indonesia; an apostrophe and + are valid');

-- No reminders here (33-reminders-and-whatsapp-outbox.sql has them): each booking change queues its one email.
update booking_message_settings set reminder_offsets = '{}';

-- Links and bookings.
insert into meeting_links_pool (id, meeting_link) values
  ('00000000-0000-0000-0000-00000000e001', 'https://meet.google.com/eml-aaaa-one'),
  ('00000000-0000-0000-0000-00000000e002', 'https://meet.google.com/eml-aaaa-two');
insert into bookings (id, order_id, starts_at, ends_at, amount, payment_status, customer_email,
  customer_name, locale) values
  ('00000000-0000-0000-0000-0000000000a1', 'e-a1', '2030-02-01 03:00Z', '2030-02-01 04:00Z', 1,
   'paid', 'ayu@example.com', 'Ayu', 'id'),
  ('00000000-0000-0000-0000-0000000000b1', 'e-b1', '2030-02-01 03:00Z', '2030-02-01 04:00Z', 1,
   'paid', null, null, 'en');
set constraints all immediate;
set constraints all deferred;
select is_empty($$select * from booking_emails where order_id in ('e-a1', 'e-b1')$$,
  'paid without a link yet: nothing to tell');

create temp view emails_of_a1 as
select id, kind, calendar_method, calendar_sequence, meeting_link, previous_meeting_link,
  previous_starts_at is not null as rescheduled, recipient, status
from booking_emails where booking_id = '00000000-0000-0000-0000-0000000000a1';
grant select on emails_of_a1 to service_role;

-- A rolled-back assignment writes nothing.
savepoint before_assign;
do $$ begin perform assign_meeting_link('00000000-0000-0000-0000-0000000000a1'); end $$;
set constraints all immediate;
set constraints all deferred;
rollback to savepoint before_assign;
select is_empty($$select * from emails_of_a1$$, 'a rolled-back assignment leaves no email');

select is((select outcome from assign_meeting_link('00000000-0000-0000-0000-0000000000a1')),
  'assigned', 'a1 gets a link');
select is((select outcome from assign_meeting_link('00000000-0000-0000-0000-0000000000a1')),
  'already_assigned', 'asking again changes nothing');
set constraints all immediate;
set constraints all deferred;
select results_eq($$select kind, calendar_method, calendar_sequence, meeting_link, recipient, status
    from emails_of_a1$$,
  $$values ('invite', 'REQUEST', 0, 'https://meet.google.com/eml-aaaa-one', 'ayu@example.com', 'pending')$$,
  'a link assigned: one invite, REQUEST, SEQUENCE 0, to the customer');

select is((select outcome from assign_meeting_link('00000000-0000-0000-0000-0000000000b1')),
  'assigned', 'b1 (no address) gets the other link');
set constraints all immediate;
set constraints all deferred;
select is_empty($$select * from booking_emails where order_id = 'e-b1'$$,
  'a booking without an address is assigned and nobody is emailed');

-- Admin SQL changes the link: the customer hears it, with the old link named.
update bookings set payment_status = 'refunded' where order_id = 'e-b1';
update bookings set meeting_link_id = '00000000-0000-0000-0000-00000000e002'
where order_id = 'e-a1';
set constraints all immediate;
set constraints all deferred;
select results_eq($$select kind, calendar_method, calendar_sequence, meeting_link, previous_meeting_link
    from emails_of_a1 order by calendar_sequence desc limit 1$$,
  $$values ('invite', 'REQUEST', 1, 'https://meet.google.com/eml-aaaa-two', 'https://meet.google.com/eml-aaaa-one')$$,
  'a changed link: an updated invite, SEQUENCE 1, saying which link it replaces');

-- A corrected address gets the invite (the next SEQUENCE); nothing else changed.
update bookings set customer_email = 'ayu.lestari@example.com' where order_id = 'e-a1';
set constraints all immediate;
set constraints all deferred;
select results_eq($$select recipient, calendar_sequence from emails_of_a1 order by id desc limit 1$$,
  $$values ('ayu.lestari@example.com', 2)$$, 'a new address receives the current invite');

-- Several changes in one transaction: one email about where the booking ended.
update bookings set starts_at = '2030-02-02 03:00Z', ends_at = '2030-02-02 04:00Z' where order_id = 'e-a1';
update bookings set starts_at = '2030-02-03 03:00Z', ends_at = '2030-02-03 04:00Z' where order_id = 'e-a1';
set constraints all immediate;
set constraints all deferred;
select results_eq($$select count(*)::int, max(calendar_sequence) from emails_of_a1$$,
  $$values (4, 3)$$, 'two moves in one transaction: one more email, SEQUENCE 3');

-- Reschedule: keeps the link when it is free in the new slot.
select is((select outcome from reschedule_booking('00000000-0000-0000-0000-0000000000a1',
    '2030-02-04 03:00Z', '2030-02-04 04:00Z')), 'kept_link', 'reschedule keeps a free link');
set constraints all immediate;
set constraints all deferred;
select results_eq($$select kind, calendar_sequence, meeting_link, previous_meeting_link, rescheduled
    from emails_of_a1 order by calendar_sequence desc limit 1$$,
  $$values ('invite', 4, 'https://meet.google.com/eml-aaaa-two', null::text, true)$$,
  'an updated invite, SEQUENCE 4, same link, marked as rescheduled');

-- ... else takes the best free link.
insert into bookings (order_id, starts_at, ends_at, amount, payment_status, meeting_link_id) values
  ('e-c1', '2030-02-05 03:00Z', '2030-02-05 04:00Z', 1, 'paid', '00000000-0000-0000-0000-00000000e002');
select results_eq($$select outcome, meeting_link from reschedule_booking(
    '00000000-0000-0000-0000-0000000000a1', '2030-02-05 03:30Z', '2030-02-05 04:30Z')$$,
  $$values ('new_link', 'https://meet.google.com/eml-aaaa-one')$$,
  'reschedule onto a slot where its link is taken: the other link');
set constraints all immediate;
set constraints all deferred;
select results_eq($$select calendar_sequence, meeting_link, previous_meeting_link from emails_of_a1
    order by calendar_sequence desc limit 1$$,
  $$values (5, 'https://meet.google.com/eml-aaaa-one', 'https://meet.google.com/eml-aaaa-two')$$,
  'the email names the link that changed');

-- ... else flags it: the customer hears the link will follow, ops get an alert.
insert into bookings (order_id, starts_at, ends_at, amount, payment_status, meeting_link_id) values
  ('e-d1', '2030-02-06 03:00Z', '2030-02-06 04:00Z', 1, 'paid', '00000000-0000-0000-0000-00000000e001'),
  ('e-d2', '2030-02-06 03:00Z', '2030-02-06 04:00Z', 1, 'paid', '00000000-0000-0000-0000-00000000e002');
select is((select outcome from reschedule_booking('00000000-0000-0000-0000-0000000000a1',
    '2030-02-06 03:00Z', '2030-02-06 04:00Z')), 'pool_exhausted', 'reschedule where no link is free');
select ok((select needs_manual_link from bookings where order_id = 'e-a1'), 'flags the booking');
set constraints all immediate;
set constraints all deferred;
select results_eq($$select kind, recipient from booking_emails
    where order_id = 'e-a1' and id > (select max(id) from booking_emails where calendar_sequence = 5
      and order_id = 'e-a1') order by id$$,
  $$values ('ops_alert', null::text), ('link_pending', 'ayu.lestari@example.com')$$,
  'link_pending to the customer and an alert for ops');

-- Stops being paid while the customer holds an invite: CANCEL, same booking, next SEQUENCE.
update bookings set payment_status = 'refunded' where order_id = 'e-a1';
set constraints all immediate;
set constraints all deferred;
select results_eq($$select kind, calendar_method, calendar_sequence, meeting_link from emails_of_a1
    order by id desc limit 1$$,
  $$values ('cancellation', 'CANCEL', 6, 'https://meet.google.com/eml-aaaa-one')$$,
  'refunded while the customer''s calendar holds the invite: CANCEL of its link, SEQUENCE 6');

-- Pool exhausted at the first assignment; the invite once a link is added.
insert into bookings (id, order_id, starts_at, ends_at, amount, payment_status, customer_email) values
  ('00000000-0000-0000-0000-0000000000f1', 'e-f1', '2030-02-06 03:00Z', '2030-02-06 04:00Z', 1, 'paid',
   'fajar@example.com');
select is((select outcome from assign_meeting_link('00000000-0000-0000-0000-0000000000f1')),
  'pool_exhausted', 'f1 finds no free link');
set constraints all immediate;
set constraints all deferred;
insert into meeting_links_pool (meeting_link) values ('https://meet.google.com/eml-aaaa-thr');
set constraints all immediate;
set constraints all deferred;
select results_eq($$select kind, calendar_method, calendar_sequence, meeting_link from booking_emails
    where order_id = 'e-f1' order by id$$,
  $$values ('ops_alert', null, null, null), ('link_pending', null, null, null),
    ('invite', 'REQUEST', 0, 'https://meet.google.com/eml-aaaa-thr')$$,
  'pool exhausted: link will follow (and ops), then the invite once a link is added');

-- Delivery: claim, lease, retry, fail, resend.
update booking_emails set status = 'sent', sent_at = now() where order_id <> 'e-f1';
select results_eq($$select kind, status, attempts, message_id like '<booking-email-%@mail.test>'
    from claim_booking_emails(10, '1 minute', 'mail.test') order by id$$,
  $$values ('ops_alert', 'sending', 1, true), ('link_pending', 'sending', 1, true),
    ('invite', 'sending', 1, true)$$,
  'claim takes every due email, counts the attempt and fixes a Message-ID');
select is_empty($$select * from claim_booking_emails(10, '1 minute', 'mail.test')$$,
  'a leased email is not claimed twice');

create temp table f1_invite as
select id, lease_token, message_id from booking_emails where order_id = 'e-f1' and kind = 'invite';
select is(finish_booking_email(id, gen_random_uuid(), null), null,
  'a drainer that lost its lease cannot mark the email') from f1_invite;
select is(finish_booking_email(id, lease_token, 'connection refused'), 'pending',
  'a failed attempt is retried') from f1_invite;
select ok((select due_at between now() + interval '29 seconds' and now() + interval '31 seconds'
    from booking_emails where id = (select id from f1_invite)), 'first retry after 30 seconds');

-- The lease of a drainer that died runs out: another claims the email, same Message-ID.
update booking_emails set due_at = now() - interval '1 second' where id = (select id from f1_invite);
select results_eq($$select message_id, attempts from claim_booking_emails(1, '1 minute', 'other.test')$$,
  $$select message_id, 2 from f1_invite$$, 'a retry keeps the first Message-ID');

update booking_emails set attempts = booking_email_max_attempts() where id = (select id from f1_invite);
select is(finish_booking_email(e.id, e.lease_token, 'mailbox unavailable'), 'failed',
  'after the last attempt: failed') from booking_emails e where e.id = (select id from f1_invite);
select results_eq($$select order_id, kind, last_error from booking_emails_failed$$,
  $$values ('e-f1', 'invite', 'mailbox unavailable')$$, 'and listed in booking_emails_failed');

do $$ begin perform resend_booking_email((select id from f1_invite)); end $$;
select results_eq($$select status, attempts, message_id is null from booking_emails
    where id = (select id from f1_invite)$$,
  $$values ('pending', 0, true)$$, 'resend: pending again, new attempts and a new Message-ID');

select * from finish();
rollback;
