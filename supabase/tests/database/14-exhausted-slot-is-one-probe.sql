-- An exhausted slot is answered from one range of bookings_linked_starts_at_idx, not a walk of
-- every link; it is "full" only when every available link holds an overlapping booking, and the
-- functions on the assignment path keep their plans for the session (PL/pgSQL).
begin;
create extension if not exists pgtap with schema extensions;
set local search_path = public, extensions;
select plan(20);

-- The check's own query, from the catalog, as a prepared statement ($1 = the slot).
do $$
begin
  execute format('prepare full_check(tstzrange) as select %s',
    regexp_replace(
      substring((select prosrc from pg_proc
                 where oid = 'meeting_link_slot_is_full(tstzrange)'::regprocedure)
                from 'return (\([\s\S]*\));\s*end;'),
      '\mp_slot\M', '$1', 'g'));
end $$;
create function pg_temp.full_check_plan() returns text language plpgsql as $$
declare
  v_line text;
  v_plan text := '';
begin
  for v_line in execute 'explain (costs off) execute full_check(''[2030-01-01 10:00Z,2030-01-01 11:00Z)'')' loop
    v_plan := v_plan || v_line || E'\n';
  end loop;
  return v_plan;
end $$;

insert into meeting_links_pool (id, meeting_link, is_available, max_uses) values
  ('00000000-0000-0000-0000-0000000000f1', 'https://meet.google.com/ful-eeee-one', true, null),
  ('00000000-0000-0000-0000-0000000000f2', 'https://meet.google.com/ful-eeee-two', true, null),
  ('00000000-0000-0000-0000-0000000000f3', 'https://meet.google.com/ful-eeee-thr', true, null),
  ('00000000-0000-0000-0000-0000000000f4', 'https://meet.google.com/ful-eeee-fou', true, null);
-- Many bookings elsewhere in time, so the planner has a table worth an index.
insert into bookings (order_id, starts_at, ends_at, amount, payment_status, meeting_link_id)
select 'full-bg-' || i, timestamptz '2029-01-01 00:00Z' + i * interval '1 hour',
  timestamptz '2029-01-01 00:30Z' + i * interval '1 hour', 1000, 'paid',
  '00000000-0000-0000-0000-0000000000f1'
from generate_series(0, 1999) i;
analyze bookings, meeting_links_pool;

set local plan_cache_mode = force_generic_plan;
set local enable_seqscan = off;
set local enable_bitmapscan = off;
select matches(pg_temp.full_check_plan(), 'Index (Only )?Scan using bookings_linked_starts_at_idx on bookings',
  'the taken links are read from one range of bookings_linked_starts_at_idx');
select matches(pg_temp.full_check_plan(), 'Index Cond: \(\(starts_at > \(lower\(\$1\) - ''24:00:00''::interval\)\) AND \(starts_at < upper\(\$1\)\)\)',
  'the range: from the slot''s start minus a day to its end');
select doesnt_match(pg_temp.full_check_plan(), 'bookings_link_starts_at_idx|bookings_paid_slots_never_share_a_link',
  'no probe per link, and never the GiST index');
-- The candidates' walk keeps its per-link range of bookings_link_starts_at_idx: the new index's
-- predicate (ends_at > starts_at, stated only by the check) keeps the planner off it.
do $$
begin
  execute format('prepare candidates_query(tstzrange, uuid) as select %s',
    regexp_replace(regexp_replace(
      substring((select prosrc from pg_proc
                 where oid = 'meeting_link_candidates(tstzrange, uuid)'::regprocedure)
                from 'return (\([\s\S]*\));\s*end;'),
      '\mp_slot\M', '$1', 'g'), '\mp_only_link\M', '$2', 'g'));
end $$;
create function pg_temp.candidates_plan() returns text language plpgsql as $$
declare
  v_line text;
  v_plan text := '';
begin
  for v_line in execute 'explain (costs off) execute candidates_query(''[2030-01-01 10:00Z,2030-01-01 11:00Z)'', null)' loop
    v_plan := v_plan || v_line || E'\n';
  end loop;
  return v_plan;
end $$;
set local jit = off;
select matches(pg_temp.candidates_plan(), 'Index Cond: \(\(meeting_link_id = l\.id\) AND \(starts_at >',
  'the candidates still read one range of bookings_link_starts_at_idx per link');
select doesnt_match(pg_temp.candidates_plan(), 'bookings_linked_starts_at_idx',
  'and never the fullness check''s index');
reset jit;
reset enable_seqscan;
reset enable_bitmapscan;
reset plan_cache_mode;
select is((select proconfig from pg_proc where oid = 'meeting_link_slot_is_full(tstzrange)'::regprocedure),
  array['search_path=""', 'enable_seqscan=off', 'enable_bitmapscan=off', 'jit=off'],
  'planned as an index range whatever the statistics, and never JIT-compiled (a disabled seq scan costs past its thresholds)');
select is(array(select p.proname::text from pg_proc p join pg_language l on l.oid = p.prolang
    where p.oid in ('meeting_link_slot_is_full(tstzrange)'::regprocedure,
      'meeting_link_candidates(tstzrange, uuid)'::regprocedure, 'assign_meeting_link(uuid)'::regprocedure)
      and l.lanname = 'plpgsql' order by 1),
  array['assign_meeting_link', 'meeting_link_candidates', 'meeting_link_slot_is_full'],
  'the assignment path is PL/pgSQL, whose plans the session keeps (a SQL function with SET clauses is planned on every call)');

-- The hour 2030-01-01 10:00-11:00 (UTC), and bookings that overlap it or not.
create temp table slot as select tstzrange('2030-01-01 10:00Z', '2030-01-01 11:00Z') as s;
select is(meeting_link_slot_is_full((select s from slot)), false, 'an empty hour is not full');
insert into bookings (order_id, starts_at, ends_at, amount, payment_status, meeting_link_id) values
  ('full-1', '2030-01-01 10:00Z', '2030-01-01 11:00Z', 1000, 'paid', '00000000-0000-0000-0000-0000000000f1'),
  ('full-2', '2030-01-01 10:30Z', '2030-01-01 10:45Z', 1000, 'paid', '00000000-0000-0000-0000-0000000000f2'),
  -- Back to back with the hour, before and after: not overlapping.
  ('full-3a', '2030-01-01 09:00Z', '2030-01-01 10:00Z', 1000, 'paid', '00000000-0000-0000-0000-0000000000f3'),
  ('full-3b', '2030-01-01 11:00Z', '2030-01-01 12:00Z', 1000, 'paid', '00000000-0000-0000-0000-0000000000f3');
select is(meeting_link_slot_is_full((select s from slot)), false,
  'two of four links taken, and back-to-back bookings do not take a third');
-- A day-long booking from the day before, ending inside the hour.
insert into bookings (order_id, starts_at, ends_at, amount, payment_status, meeting_link_id) values
  ('full-4', '2029-12-31 10:05Z', '2030-01-01 10:05Z', 1000, 'paid', '00000000-0000-0000-0000-0000000000f4');
select is(meeting_link_slot_is_full((select s from slot)), false, 'three of four taken (one by a day-long booking from the day before)');
insert into bookings (order_id, starts_at, ends_at, amount, payment_status, meeting_link_id) values
  ('full-3c', '2030-01-01 10:10Z', '2030-01-01 10:50Z', 1000, 'paid', '00000000-0000-0000-0000-0000000000f3');
select is(meeting_link_slot_is_full((select s from slot)), true, 'all four taken: full');
select is(meeting_link_slot_is_full(tstzrange('2030-01-01 11:00Z', '2030-01-01 11:30Z')), false,
  'the next half hour is not (only f3 is taken then)');

-- A disabled link holding a booking counts neither as taken nor as available.
update meeting_links_pool set is_available = false where id = '00000000-0000-0000-0000-0000000000f4';
insert into meeting_links_pool (id, meeting_link) values
  ('00000000-0000-0000-0000-0000000000f5', 'https://meet.google.com/ful-eeee-fiv');
select is(meeting_link_slot_is_full((select s from slot)), false,
  'a disabled link''s booking does not hide a free link (3 of 4 available taken)');

-- The assignment: claims the free link, then answers the next booking pool_exhausted at once.
insert into bookings (order_id, starts_at, ends_at, amount, payment_status) values
  ('full-new-1', '2030-01-01 10:00Z', '2030-01-01 11:00Z', 1000, 'paid'),
  ('full-new-2', '2030-01-01 10:00Z', '2030-01-01 11:00Z', 1000, 'paid');
select is((select outcome || ' ' || meeting_link_id from assign_meeting_link((select id from bookings where order_id = 'full-new-1'))),
  'assigned 00000000-0000-0000-0000-0000000000f5', 'the one free link is assigned');
select is(meeting_link_slot_is_full((select s from slot)), true, 'now the hour is full');
select is((select outcome from assign_meeting_link((select id from bookings where order_id = 'full-new-2'))),
  'pool_exhausted', 'the next booking is answered pool_exhausted');
select is((select needs_manual_link from bookings where order_id = 'full-new-2'), true, 'and flagged for a manual link');

-- A link at its max_uses counts as available here (it is only "maybe free"): the walk answers.
update meeting_links_pool set max_uses = 1 where id = '00000000-0000-0000-0000-0000000000f4';
update meeting_links_pool set is_available = true where id = '00000000-0000-0000-0000-0000000000f4';
-- f6 served one booking a year before, while disabled (an enabled link would serve the waiting
-- full-new-2 on insert), and allows one use.
insert into meeting_links_pool (id, meeting_link, max_uses, is_available) values
  ('00000000-0000-0000-0000-0000000000f6', 'https://meet.google.com/ful-eeee-six', 1, false);
insert into bookings (order_id, starts_at, ends_at, amount, payment_status, meeting_link_id) values
  ('full-6', '2029-06-01 10:00Z', '2029-06-01 11:00Z', 1000, 'paid', '00000000-0000-0000-0000-0000000000f6');
update meeting_links_pool set is_available = true where id = '00000000-0000-0000-0000-0000000000f6';
insert into bookings (order_id, starts_at, ends_at, amount, payment_status) values
  ('full-new-3', '2030-01-01 10:00Z', '2030-01-01 11:00Z', 1000, 'paid');
select is(meeting_link_slot_is_full((select s from slot)), false,
  'a link used up by max_uses is not counted as taken: not full');
select is((select outcome from assign_meeting_link((select id from bookings where order_id = 'full-new-3'))),
  'pool_exhausted', 'the walk finds it used up: pool_exhausted, the link is not given');

-- An empty pool is full.
update meeting_links_pool set is_available = false;
select is(meeting_link_slot_is_full((select s from slot)), true, 'no available link: full');

select * from finish();
rollback;
