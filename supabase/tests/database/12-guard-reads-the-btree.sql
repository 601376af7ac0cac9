-- The double-booking guard's probe is a btree plan whatever the planner settings, it finds
-- exactly the overlapping bookings (a booking lasts at most a day), and the guard trigger takes
-- the same (link, hour) locks as a claim.
begin;
create extension if not exists pgtap with schema extensions;
set local search_path = public, extensions;
select plan(16);

-- The probe's own query (what its body returns), from the catalog, as a prepared statement
-- (named parameters become $1..$3), so EXPLAIN shows the plan the function runs.
do $$
begin
  execute format('prepare probe(uuid, tstzrange, uuid) as %s',
    regexp_replace(regexp_replace(regexp_replace(
      substring((select prosrc from pg_proc
                 where oid = 'meeting_link_overlapping_booking(uuid, tstzrange, uuid)'::regprocedure)
                from 'return \(([\s\S]*)\);'),
      '\mp_link\M', '$1', 'g'), '\mp_slot\M', '$2', 'g'), '\mp_except\M', '$3', 'g'));
end $$;
create function pg_temp.probe_plan() returns text language plpgsql as $$
declare
  v_line text;
  v_plan text := '';
begin
  for v_line in execute 'explain (costs off) execute probe(gen_random_uuid(), ''[2030-01-01 10:00Z,2030-01-01 11:00Z)'', null)' loop
    v_plan := v_plan || v_line || E'\n';
  end loop;
  return v_plan;
end $$;

insert into meeting_links_pool (id, meeting_link) values
  ('00000000-0000-0000-0000-0000000000b1', 'https://meet.google.com/btr-eeee-one'),
  ('00000000-0000-0000-0000-0000000000b2', 'https://meet.google.com/btr-eeee-two'),
  ('00000000-0000-0000-0000-0000000000b3', 'https://meet.google.com/btr-eeee-thr');
insert into bookings (order_id, starts_at, ends_at, amount, payment_status, meeting_link_id)
select 'btree-' || i, timestamptz '2030-01-01 00:00Z' + i * interval '1 hour',
  timestamptz '2030-01-01 00:30Z' + i * interval '1 hour', 1000, 'paid',
  case when i % 2 = 0 then '00000000-0000-0000-0000-0000000000b1'::uuid else '00000000-0000-0000-0000-0000000000b2'::uuid end
from generate_series(0, 399) i;
analyze bookings;

set local plan_cache_mode = force_generic_plan;
set local enable_seqscan = off;
select matches(pg_temp.probe_plan(), 'Index (Only )?Scan using bookings_link_starts_at_idx',
  'the probe reads the btree bookings_link_starts_at_idx');
select matches(pg_temp.probe_plan(), 'Index Cond: \(\(meeting_link_id = \$1\) AND \(starts_at > \(lower\(\$2\) - ''24:00:00''::interval\)\) AND \(starts_at < upper\(\$2\)\)\)',
  'one range of the link''s entries: from the slot''s start minus a day to its end');
-- Whatever the planner may use, never the exclusion constraint's GiST index.
create temp table planner_settings as
select s, i, b from (values ('on'), ('off')) s(s), (values ('on'), ('off')) i(i), (values ('on'), ('off')) b(b);
select is_empty($$
  select 1 from planner_settings p
  where set_config('enable_seqscan', p.s, true) is not null
    and set_config('enable_indexscan', p.i, true) is not null
    and set_config('enable_bitmapscan', p.b, true) is not null
    and pg_temp.probe_plan() like '%bookings_paid_slots_never_share_a_link%'$$,
  'no combination of enable_seqscan, enable_indexscan and enable_bitmapscan makes it read the GiST index');
reset enable_seqscan;
reset enable_indexscan;
reset enable_bitmapscan;
reset plan_cache_mode;
select is((select proconfig from pg_proc where oid = 'meeting_link_overlapping_booking(uuid, tstzrange, uuid)'::regprocedure),
  array['search_path=""', 'enable_seqscan=off', 'enable_bitmapscan=off'],
  'the function plans with sequential and bitmap scans off: a plain btree index scan');

-- Exactly the overlapping bookings: btree-10 holds b1 for [10:00, 10:30).
select is(meeting_link_overlapping_booking('00000000-0000-0000-0000-0000000000b1', '[2030-01-01 10:29Z,2030-01-01 10:31Z)'),
  (select id from bookings where order_id = 'btree-10'), 'an overlapping booking is found');
select is(meeting_link_overlapping_booking('00000000-0000-0000-0000-0000000000b1', '[2030-01-01 10:30Z,2030-01-01 11:30Z)'),
  null, 'a back-to-back slot is free');
select is(meeting_link_overlapping_booking('00000000-0000-0000-0000-0000000000b2', '[2030-01-01 10:00Z,2030-01-01 10:30Z)'),
  null, 'another link''s bookings do not count');
select is(meeting_link_overlapping_booking('00000000-0000-0000-0000-0000000000b1', '[2030-01-01 10:00Z,2030-01-01 10:30Z)',
  (select id from bookings where order_id = 'btree-10')), null, 'the booking itself does not count');
-- A 24-hour booking is found from its last minute, which is as far back as the range reaches.
insert into bookings (order_id, starts_at, ends_at, amount, payment_status, meeting_link_id) values
  ('btree-day', '2030-03-01 00:00Z', '2030-03-02 00:00Z', 1000, 'paid', '00000000-0000-0000-0000-0000000000b1');
select is(meeting_link_overlapping_booking('00000000-0000-0000-0000-0000000000b1', '[2030-03-01 23:59Z,2030-03-02 01:00Z)'),
  (select id from bookings where order_id = 'btree-day'), 'a day-long booking is found from its last minute');
select is(meeting_link_overlapping_booking('00000000-0000-0000-0000-0000000000b1', '[2030-03-02 00:00Z,2030-03-02 01:00Z)'),
  null, 'and not after it ends');

-- The guard trigger takes the claim's locks: (link, every hour of the slot), held to commit.
insert into bookings (order_id, starts_at, ends_at, amount, payment_status, meeting_link_id) values
  ('btree-locks', '2030-05-01 10:30Z', '2030-05-01 12:15Z', 1000, 'paid', '00000000-0000-0000-0000-0000000000b3');
select set_eq($$select objid::int from pg_locks
    where locktype = 'advisory' and pid = pg_backend_pid() and classid::int = hashtext('00000000-0000-0000-0000-0000000000b3')$$,
  $$select hour_key from meeting_link_lock_keys('00000000-0000-0000-0000-0000000000b3', '[2030-05-01 10:30Z,2030-05-01 12:15Z)')$$,
  'a hand-written write holds the link''s locks for every hour its slot touches');
select is((select count(*)::int from meeting_link_lock_keys('00000000-0000-0000-0000-0000000000b3', '[2030-05-01 10:30Z,2030-05-01 12:15Z)')),
  3, '(three hours: 10, 11 and 12)');
select lives_ok($$update bookings set review_reason = 'checked' where order_id = 'btree-locks'$$,
  'writes that do not touch the link, slot or payment are not checked');

-- A bulk write locks out other writers of bookings instead of taking a lock per row.
insert into bookings (order_id, starts_at, ends_at, amount, payment_status, meeting_link_id)
select 'bulk-' || i, timestamptz '2032-01-01 00:00Z' + i * interval '1 hour',
  timestamptz '2032-01-01 00:30Z' + i * interval '1 hour', 1000, 'paid', '00000000-0000-0000-0000-0000000000b2'
from generate_series(1, 700) i;
select ok((select count(*) from pg_locks where locktype = 'advisory' and pid = pg_backend_pid()) < 600,
  'a bulk write holds a bounded number of advisory locks (those of its first 500 rows)');
select ok(exists (select 1 from pg_locks where locktype = 'relation' and relation = 'bookings'::regclass
    and pid = pg_backend_pid() and mode = 'ShareRowExclusiveLock' and granted),
  'and holds bookings in SHARE ROW EXCLUSIVE mode instead');
select throws_ok($$insert into bookings (order_id, starts_at, ends_at, amount, payment_status, meeting_link_id)
    values ('bulk-late', '2032-01-01 05:15Z', '2032-01-01 05:45Z', 1000, 'paid', '00000000-0000-0000-0000-0000000000b2')$$,
  '23P01', null, 'rows past the threshold are still checked');

select * from finish();
rollback;
