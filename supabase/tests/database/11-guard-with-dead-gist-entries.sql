-- PostgreSQL's GiST bug (docs/postgres-gist-bug.md) reproduced on the real bookings table: a
-- rescanned EXISTS-per-link read, held open by a cursor while claims split a leaf, marks the GiST
-- entries of live paid bookings LP_DEAD (proved with pageinspect). The exclusion constraint is
-- then blind to them, and every write path is still refused by the btree guard.
begin;
create extension if not exists pgtap with schema extensions;
create extension if not exists pageinspect with schema extensions;
set local search_path = public, extensions;
select plan(21);

-- A fresh, empty table and indexes for this transaction only (rolled back at the end), so the
-- GiST pages are laid out exactly as the reproduction needs, whatever earlier tests left behind.
truncate bookings, double_booking_checks cascade;

insert into meeting_links_pool (meeting_link)
select 'https://meet.google.com/dem-' || translate(lpad(i::text, 4, '0'), '0123456789', 'abcdefghij') || '-lnk'
from generate_series(1, 10) i;
create temp table x on commit drop as
  select id from meeting_links_pool order by created_at, meeting_link limit 1;

-- B1..B5: claims of X for slot S that rolled back (dead entries); B6: the committed holder.
insert into bookings (order_id, starts_at, ends_at, amount, payment_status)
select 'b' || i, '2031-12-01 10:00+00', '2031-12-01 11:00+00', 1, 'paid' from generate_series(1, 6) i;
do $$
begin
  for i in 1..5 loop
    begin
      update bookings set meeting_link_id = (select id from x) where order_id = 'b' || i;
      raise exception using errcode = 'P0001', message = 'roll this claim back';
    exception when raise_exception then null;
    end;
  end loop;
end $$;
update bookings set meeting_link_id = (select id from x) where order_id = 'b6';
-- Fillers holding X at other hours, so the index grows to two levels, then live bookings of X
-- in February, appended to the leaf that holds B1..B6.
insert into bookings (order_id, starts_at, ends_at, amount, payment_status, meeting_link_id)
select 'f' || h, timestamptz '2031-04-01 00:00+00' + h * interval '1 hour',
       timestamptz '2031-04-01 00:30+00' + h * interval '1 hour', 1, 'paid', (select id from x)
from generate_series(1, 300) h;
insert into bookings (order_id, starts_at, ends_at, amount, payment_status, meeting_link_id)
select 'feb' || h, timestamptz '2031-02-01 00:00+00' + h * interval '1 hour',
       timestamptz '2031-02-01 00:30+00' + h * interval '1 hour', 1, 'paid', (select id from x)
from generate_series(1, 10) h;

-- GiST entries marked LP_DEAD whose heap row is a live paid booking.
create function pg_temp.live_bookings_with_dead_gist_entries() returns setof bookings
language sql as $$
  select b.* from generate_series(0, (pg_relation_size('bookings_paid_slots_never_share_a_link') / 8192 - 1)::int) g(blkno),
    lateral gist_page_items_bytea(get_raw_page('bookings_paid_slots_never_share_a_link', g.blkno)) i
  join bookings b on b.ctid = i.ctid
  where i.dead
$$;
select is_empty($$select * from pg_temp.live_bookings_with_dead_gist_entries()$$,
  'before: no live booking has a dead GiST entry');

-- The read: EXISTS per link, the GiST index rescanned per link (an ad-hoc admin query of the
-- shape meeting_link_pool_status had before the guard).
set local enable_seqscan = off;
set local enable_bitmapscan = off;
set local enable_hashjoin = off;
set local enable_mergejoin = off;
set local enable_material = off;
set local enable_indexonlyscan = off;
declare c cursor for select l.id from meeting_links_pool l where exists (
  select 1 from bookings b where b.meeting_link_id = l.id and b.payment_status = 'paid'
    and b.slot && '[2031-12-01 10:00+00,2031-12-01 11:00+00)'::tstzrange and l.is_available) = true;
-- X: the scan passes B1..B5 (dead: their kills are remembered) and stops at B6.
create temp table first_fetched (id uuid) on commit drop;
do $$
declare
  cur refcursor := 'c';
  v_id uuid;
begin
  fetch cur into v_id;
  insert into first_fetched values (v_id);
end $$;
select is((select id from first_fetched), (select id from x), 'the cursor stops at link X');
-- Meanwhile, more claims of X at other hours until the index gains a page (a leaf split).
do $$
declare
  n0 bigint := pg_relation_size('bookings_paid_slots_never_share_a_link');
  h int := 0;
begin
  while pg_relation_size('bookings_paid_slots_never_share_a_link') = n0 and h < 1000 loop
    h := h + 1;
    insert into bookings (order_id, starts_at, ends_at, amount, payment_status, meeting_link_id)
    values ('g' || h, timestamptz '2031-08-01 00:00+00' + h * interval '1 hour',
            timestamptz '2031-08-01 00:30+00' + h * interval '1 hour', 1, 'paid', (select id from x));
  end loop;
end $$;
-- The next rescan reads the root, then applies the stale offsets to the split leaf.
move forward all in c;
close c;
reset enable_seqscan;
reset enable_bitmapscan;
reset enable_hashjoin;
reset enable_mergejoin;
reset enable_material;
reset enable_indexonlyscan;

create temp table victims on commit drop as
  select * from pg_temp.live_bookings_with_dead_gist_entries() order by starts_at;
-- Where the bug is fixed nothing dies: say so, and check the guard all the same (against a live
-- booking of X, which the constraint then also sees).
create temp table victim on commit drop as
  select * from victims union all select * from bookings where order_id = 'f241' and not exists (select from victims)
  limit 1;
select case when (select count(*) from victims) > 0
  then pass(format('reproduced on %s: the GiST entries of %s live paid bookings are LP_DEAD',
    current_setting('server_version'), (select count(*) from victims)))
  else skip(format('not reproduced: PostgreSQL %s did not mark live GiST entries dead (bug fixed?); the guard is checked all the same',
    current_setting('server_version')), 1) end;

-- Proof that the dead entries blind the constraint: with the guard trigger off (inside a
-- savepoint), a hand-written double booking goes through.
insert into bookings (order_id, starts_at, ends_at, amount, payment_status)
select 'intruder', starts_at, ends_at, 1, 'paid' from victim;
savepoint unguarded;
alter table bookings disable trigger bookings_refuse_double_booking_on_update;
select case when (select count(*) from victims) > 0
  then lives_ok($$update bookings set meeting_link_id = (select id from x) where order_id = 'intruder'$$,
    'without the guard, the exclusion constraint lets a double booking of a dead-entry booking through')
  else skip('not reproduced', 1) end;
rollback to savepoint unguarded;

-- Every write path, with the guard: refused.
select throws_like($$update bookings set meeting_link_id = (select id from x) where order_id = 'intruder'$$,
  '%already holds meeting link%', 'a hand-written UPDATE giving the link is refused by the guard');
select throws_ok($$update bookings set meeting_link_id = (select id from x) where order_id = 'intruder'$$,
  '23P01', null, 'with the exclusion constraint''s SQLSTATE');
select throws_like($$insert into bookings (order_id, starts_at, ends_at, amount, payment_status, meeting_link_id)
    select 'intruder-insert', starts_at, ends_at, 1, 'paid', (select id from x) from victim$$,
  '%already holds meeting link%', 'a hand-written INSERT of a paid booking with the link is refused');
select throws_like($$update bookings set starts_at = v.starts_at, ends_at = v.ends_at
    from victim v where bookings.order_id = 'g1'$$,
  '%already holds meeting link%', 'moving another booking of the link onto the slot is refused');
insert into bookings (order_id, starts_at, ends_at, amount) select 'intruder-pending', starts_at, ends_at, 1 from victim;
select throws_like($$update bookings set payment_status = 'paid', meeting_link_id = (select id from x)
    where order_id = 'intruder-pending'$$,
  '%already holds meeting link%', 'making a booking paid with the link is refused');
select is(try_claim_meeting_link((select id from bookings where order_id = 'intruder'), (select id from x),
    (select slot from victim)), 'taken', 'a claim of the link (try_claim_meeting_link) is answered taken by the guard');

-- Only X can serve the slot: the endpoint, the sweep and self-healing must all leave it alone.
update meeting_links_pool set is_available = false where id <> (select id from x);
select is((select outcome from assign_meeting_link((select id from bookings where order_id = 'intruder'))),
  'pool_exhausted', 'assign_meeting_link (the endpoint) does not hand out X');
select is(assign_pending_meeting_links(), 0, 'the sweep does not hand out X');
update meeting_links_pool set is_available = false where id = (select id from x);
update meeting_links_pool set is_available = true where id = (select id from x);
select is((select meeting_link_id from bookings where order_id = 'intruder'), null,
  'self-healing (the link re-enabled) does not hand out X');
select is((select id from find_available_meeting_link((select starts_at from victim), (select ends_at from victim))), null,
  'find_available_meeting_link does not offer X');

select is_empty($$select * from paid_bookings_sharing_a_link()$$, 'no two paid bookings share a link');

-- Watch and repair: the health check names the bookings the index lost; REINDEX restores them.
select is((select bookings_missing_from_index from check_double_booking()), (select count(*)::int from victims),
  'the health check counts the paid bookings the GiST index lost');
select is((select paid_bookings_missing_from_index from meeting_link_pool_status), (select count(*)::int from victims),
  'meeting_link_pool_status shows them');
select is((select array_agg(e ->> 'order_id' order by e ->> 'order_id') from double_booking_checks c,
    jsonb_array_elements(c.details -> 'missing_from_index') e),
  (select array_agg(order_id order by order_id) from victims), 'and the check records which ones');
reindex index bookings_paid_slots_never_share_a_link;
select is_empty($$select * from pg_temp.live_bookings_with_dead_gist_entries()$$,
  'after REINDEX no live booking has a dead GiST entry');
select is((select bookings_missing_from_index from check_double_booking()), 0, 'and the health check is clean');
select throws_ok($$update bookings set meeting_link_id = (select id from x) where order_id = 'intruder'$$,
  '23P01', null, 'the double booking is still refused');

select * from finish();
rollback;
