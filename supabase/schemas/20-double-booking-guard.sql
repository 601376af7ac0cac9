-- The double-booking guard, beside the exclusion constraint: it does not rest on the
-- constraint's GiST index, which PostgreSQL 15-18 can make lose live entries
-- (docs/postgres-gist-bug.md). Every claim and every write that gives a paid booking a link (or
-- moves its slot) takes the (link, hour) advisory locks and looks for an overlapping booking
-- through a btree index; no query of ours rescans the GiST index; an every-minute health check
-- compares the table with the index and logs what it finds (docs/decisions.md).

-- ---------------------------------------------------------------------------
-- The btree probe
-- ---------------------------------------------------------------------------

-- Only bookings that hold a link, and only paid ones do (bookings_only_paid_bookings_hold_a_link):
-- queries on meeting_link_id that do not say "payment_status = 'paid'" cannot be served by the
-- GiST index, whose predicate that is.
create index bookings_link_starts_at_idx on public.bookings (meeting_link_id, starts_at)
  where meeting_link_id is not null;
comment on index public.bookings_link_starts_at_idx is
  'Bookings holding a link, by link and start: the double-booking guard and placement read this '
  'btree, never the exclusion constraint''s GiST index.';
-- Bookings holding a link, by start: one range answers which links an hour has taken
-- (meeting_link_slot_is_full). "ends_at > starts_at" always holds, but only that query states it:
-- other queries cannot use this index (the planner preferred it to bookings_link_starts_at_idx
-- for the candidates' per-link ranges).
create index bookings_linked_starts_at_idx
  on public.bookings (starts_at) include (meeting_link_id, ends_at)
  where meeting_link_id is not null and ends_at > starts_at;

-- A body PostgreSQL parses once and can inline into its callers (a SET clause prevents inlining;
-- a BEGIN ATOMIC body needs no search_path).
create function public.meeting_link_lock_keys(p_link uuid, p_slot tstzrange)
returns table (link_key integer, hour_key integer)
language sql
immutable
begin atomic
  -- Two overlapping slots share an instant, so they share the hour that holds it: locking
  -- (link, every hour the slot touches) excludes exactly the claims that could collide.
  select hashtext(p_link::text), hour::integer
  from generate_series(
    floor(extract(epoch from lower(p_slot)) / 3600),
    ceil(extract(epoch from upper(p_slot)) / 3600) - 1) as hour;
end;

comment on function public.meeting_link_lock_keys(uuid, tstzrange) is
  'Advisory lock keys guarding claims of one link for one slot. Internal to assignment.';

create function public.lock_meeting_link(p_link uuid, p_slot tstzrange, p_wait boolean)
returns boolean
language plpgsql
set search_path = ''
as $$
begin
  -- One order for everyone (hour ascending), so two waiters for one link never wait on each
  -- other in a cycle.
  if p_wait then
    perform pg_advisory_xact_lock(k.link_key, k.hour_key)
    from public.meeting_link_lock_keys(p_link, p_slot) k
    order by k.hour_key;
    return true;
  end if;
  return (select bool_and(pg_try_advisory_xact_lock(k.link_key, k.hour_key))
          from public.meeting_link_lock_keys(p_link, p_slot) k);
end;
$$;

comment on function public.lock_meeting_link(uuid, tstzrange, boolean) is
  'Takes the transaction-level advisory locks on (link, every hour of the slot), hours ascending: '
  'waiting (p_wait) or not (false when one is taken; the caller rolls back its subtransaction). '
  'Internal to assignment and the guard trigger.';

create function public.wait_for_meeting_link(p_link uuid, p_slot tstzrange)
returns void
language sql
set search_path = ''
-- A claim queues for a busy link for at most this long per attempt (then it looks again).
set lock_timeout = '2s'
as $$
  select public.lock_meeting_link(p_link, p_slot, p_wait => true);
$$;

comment on function public.wait_for_meeting_link(uuid, tstzrange) is
  'Queues (first come, first served) for a link''s locks for one slot, at most 2 s. Internal to '
  'assignment.';

create function public.meeting_link_overlapping_booking(p_link uuid, p_slot tstzrange,
  p_except uuid default null)
returns uuid
language plpgsql
stable
set search_path = ''
-- PL/pgSQL keeps the plan for the session (SQL functions plan every call), planned with these
-- settings: an index scan even if first planned on a nearly empty table (a bulk load).
set enable_seqscan = off
set enable_bitmapscan = off
as $$
begin
  -- No condition here implies the GiST index's predicate (payment_status = 'paid'; a booking
  -- that holds a link is paid by bookings_only_paid_bookings_hold_a_link), so the planner cannot
  -- use the GiST index. A booking lasts at most a day (bookings_last_at_most_a_day), so one that
  -- overlaps p_slot starts in (lower - 24 h, upper): one bounded range of the btree.
  return (
    select b.id
    from public.bookings b
    where b.meeting_link_id = p_link
      and b.starts_at > lower(p_slot) - interval '24 hours'
      and b.starts_at < upper(p_slot)
      and b.ends_at > lower(p_slot)
      and b.id is distinct from p_except
    limit 1);
end;
$$;

comment on function public.meeting_link_overlapping_booking(uuid, tstzrange, uuid) is
  'A booking (other than p_except) holding p_link for a slot overlapping p_slot, or null. Reads the '
  'btree bookings_link_starts_at_idx, never the GiST index. Exact only under the link''s locks.';

-- ---------------------------------------------------------------------------
-- Every writer: a paid booking that gets a link, moves its slot or becomes paid is checked
-- ---------------------------------------------------------------------------

create function public.bookings_refuse_double_booking()
returns trigger
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_slot tstzrange := tstzrange(new.starts_at, new.ends_at, '[)');
  v_other_id uuid;
  v_other public.bookings;
  v_hold public.meeting_link_holds;
  v_rows integer := coalesce(nullif(current_setting('meeting_links.guard_rows', true), ''), '0')::integer + 1;
begin
  -- Under another isolation level the probe's snapshot could predate a conflicting booking
  -- committed while this transaction waited for the lock.
  if current_setting('transaction_isolation') <> 'read committed' then
    raise exception 'a paid booking can get a link or move its slot only in READ COMMITTED'
      using errcode = '0A000', hint = 'run this write in its own read committed transaction';
  end if;
  -- The link's (link, hour) locks, held to commit: any other writer of this link and hour waits,
  -- then sees this booking committed. A claim (try_claim_meeting_link says so) never waits: a
  -- busy link is MLBSY, which the claim answers as busy (a waiting claim already holds them).
  -- Saying so only changes waiting into failing, so it bypasses nothing.
  if current_setting('meeting_links.claiming', true) = 'on' then
    if not public.lock_meeting_link(new.meeting_link_id, v_slot, p_wait => false) then
      raise exception using errcode = 'MLBSY';
    end if;
  else
    -- A bulk write (over 500 such rows in one transaction) would fill the shared lock table: it
    -- locks out every other writer of bookings and holds instead, once, until it commits.
    perform set_config('meeting_links.guard_rows', v_rows::text, true);
    if v_rows <= 500 then
      perform public.lock_meeting_link(new.meeting_link_id, v_slot, p_wait => true);
    elsif v_rows = 501 then
      lock table public.bookings, public.meeting_link_holds in share row exclusive mode;
    end if;
  end if;
  -- An assignment, so the probe runs once per row whatever plan this statement would get.
  v_other_id := public.meeting_link_overlapping_booking(new.meeting_link_id, v_slot, new.id);
  if v_other_id is not null then
    select * into v_other from public.bookings b where b.id = v_other_id;
    raise exception 'booking % (order %) already holds meeting link % for an overlapping slot %',
        v_other.id, v_other.order_id, new.meeting_link_id, v_other.slot
      using errcode = 'exclusion_violation', constraint = 'bookings_paid_slots_never_share_a_link',
        table = 'bookings', schema = 'public';
  end if;
  -- Holds: an expired one ends here, under the locks; a live one of another booking is taken.
  -- One probe when the link has no hold near the slot (nearly always).
  if public.meeting_link_overlapping_hold(new.meeting_link_id, v_slot, new.id, true) is not null then
    perform public.release_expired_meeting_link_holds(new.meeting_link_id, v_slot, new.id);
    v_other_id := public.meeting_link_overlapping_hold(new.meeting_link_id, v_slot, new.id);
  end if;
  if v_other_id is not null then
    select * into v_hold from public.meeting_link_holds h where h.booking_id = v_other_id;
    raise exception 'booking % holds meeting link % for an overlapping slot % until %',
        v_hold.booking_id, new.meeting_link_id, v_hold.slot, v_hold.held_until
      using errcode = 'exclusion_violation', constraint = 'meeting_link_holds_never_share_a_link',
        table = 'bookings', schema = 'public';
  end if;
  return new;
end;
$$;
comment on function public.bookings_refuse_double_booking() is
  'Trigger: refuses (23P01) a write that would give a link to two overlapping paid bookings, or '
  'to a paid booking over another booking''s live hold, checked through btree indexes under the '
  'link''s advisory locks (so it holds even where a GiST index has lost entries); deletes the '
  'expired holds it meets on the way.';

-- BEFORE, after bookings_keep_payment_rules (triggers fire in name order), so NEW is final.
create trigger bookings_refuse_double_booking
  before insert on public.bookings
  for each row when (new.payment_status = 'paid' and new.meeting_link_id is not null)
  execute function public.bookings_refuse_double_booking();

create trigger bookings_refuse_double_booking_on_update
  before update of payment_status, meeting_link_id, starts_at, ends_at on public.bookings
  for each row when (new.payment_status = 'paid' and new.meeting_link_id is not null
    and (old.payment_status <> 'paid' or old.meeting_link_id is distinct from new.meeting_link_id
      or old.starts_at <> new.starts_at or old.ends_at <> new.ends_at))
  execute function public.bookings_refuse_double_booking();

create function public.paid_bookings_sharing_a_link()
returns table (meeting_link_id uuid, booking_id uuid, order_id text, starts_at timestamptz,
  ends_at timestamptz, overlaps_until timestamptz)
language sql
stable
security definer
set search_path = ''
-- Reads the table itself, never an index: an index entry wrongly marked dead hides a row from
-- index scans and from the exclusion constraint alike (docs/postgres-gist-bug.md).
set enable_indexscan = off
set enable_indexonlyscan = off
set enable_bitmapscan = off
as $$
  select meeting_link_id, id, order_id, starts_at, ends_at, previous_end
  from (
    select b.meeting_link_id, b.id, b.order_id, b.starts_at, b.ends_at,
      max(b.ends_at) over (partition by b.meeting_link_id order by b.starts_at, b.id
        rows between unbounded preceding and 1 preceding) as previous_end
    from public.bookings b
    where b.payment_status = 'paid' and b.meeting_link_id is not null
  ) ordered
  where starts_at < previous_end
  order by meeting_link_id, starts_at;
$$;

comment on function public.paid_bookings_sharing_a_link() is
  'Health check that trusts no index: paid bookings whose slot overlaps an earlier paid booking '
  'on the same link. Always empty while the exclusion constraint holds.';

create function public.live_holds_sharing_a_link()
returns table (booking_id uuid, order_id text, meeting_link_id uuid, starts_at timestamptz,
  ends_at timestamptz, held_until timestamptz, other_booking_id uuid, other_kind text)
language sql
stable
security definer
set search_path = ''
-- Reads the tables themselves, never an index, as paid_bookings_sharing_a_link() does: neither
-- the guard's btree probes nor meeting_link_holds_never_share_a_link are trusted here.
set enable_indexscan = off
set enable_indexonlyscan = off
set enable_bitmapscan = off
as $$
  -- One row per live hold and each paid booking (not its own) or other live hold that has its
  -- link for an overlapping slot: a pair of holds shows once from each side.
  select h.booking_id, b.order_id, h.meeting_link_id, h.starts_at, h.ends_at, h.held_until,
    o.booking_id, o.kind
  from public.meeting_link_holds h
  join (
    select p.id as booking_id, 'paid booking' as kind, p.meeting_link_id, p.starts_at, p.ends_at
    from public.bookings p
    where p.payment_status = 'paid' and p.meeting_link_id is not null
    union all
    select o.booking_id, 'live hold', o.meeting_link_id, o.starts_at, o.ends_at
    from public.meeting_link_holds o
    where o.held_until > now()
  ) o on o.meeting_link_id = h.meeting_link_id and o.starts_at < h.ends_at
    and o.ends_at > h.starts_at and o.booking_id <> h.booking_id
  left join public.bookings b on b.id = h.booking_id
  where h.held_until > now()
  order by h.meeting_link_id, h.starts_at, h.booking_id, o.booking_id;
$$;

comment on function public.live_holds_sharing_a_link() is
  'Health check that trusts no index: live holds (held_until > now()) whose link a paid booking '
  '(not the hold''s own) or another live hold has for an overlapping slot, one row per pair with '
  'the other booking (other_kind: paid booking or live hold). Always empty while the guard '
  'triggers and meeting_link_holds_never_share_a_link hold.';

-- ---------------------------------------------------------------------------
-- Watch: the every-minute health check
-- ---------------------------------------------------------------------------

-- The health check's findings, one row per run of check_double_booking() (kept a week).
create table public.double_booking_checks (
  id bigint generated always as identity primary key,
  checked_at timestamptz not null default now(),
  bookings_sharing_a_link integer not null,
  bookings_missing_from_index integer not null,
  details jsonb not null default '[]',
  took interval not null,
  holds_sharing_a_link bigint not null default 0
);

comment on table public.double_booking_checks is
  'Every run of check_double_booking() (every minute by pg_cron; kept 7 days): paid bookings '
  'sharing a link, upcoming paid bookings the exclusion constraint''s index no longer returns, and '
  'live holds sharing a link. All are always 0 on a healthy database; see docs/operations.md.';
comment on column public.double_booking_checks.holds_sharing_a_link is
  'Live holds whose link a paid booking (not the hold''s own) or another live hold has for an '
  'overlapping slot, from live_holds_sharing_a_link() (0 in runs before it was checked).';

alter table public.double_booking_checks enable row level security;

create index double_booking_checks_checked_at_idx on public.double_booking_checks (checked_at);

create function public.paid_bookings_in_table(p_window tstzrange)
returns table (ctid tid)
language sql
stable
set search_path = ''
set enable_indexscan = off
set enable_indexonlyscan = off
set enable_bitmapscan = off
as $$
  -- A sequential scan: what the table holds, whatever any index says.
  select b.ctid from public.bookings b where b.payment_status = 'paid' and b.slot && p_window;
$$;

comment on function public.paid_bookings_in_table(tstzrange) is
  'Heap rows of paid bookings overlapping p_window, read without any index. Internal to '
  'check_double_booking().';

create function public.paid_bookings_in_gist_index(p_window tstzrange)
returns table (ctid tid)
language sql
stable
set search_path = ''
set enable_seqscan = off
set enable_indexscan = off
set enable_indexonlyscan = off
as $$
  -- One bitmap scan of the exclusion constraint's GiST index (the only index whose predicate
  -- these conditions imply), never rescanned: the rows its live entries point to.
  select b.ctid from public.bookings b where b.payment_status = 'paid' and b.slot && p_window;
$$;

comment on function public.paid_bookings_in_gist_index(tstzrange) is
  'Heap rows of paid bookings overlapping p_window as the GiST index of '
  'bookings_paid_slots_never_share_a_link returns them. Internal to check_double_booking().';

create function public.check_double_booking()
returns table (bookings_sharing_a_link integer, bookings_missing_from_index integer,
  holds_sharing_a_link integer)
language plpgsql
security definer
set search_path = ''
set jit = off
as $$
declare
  v_started timestamptz := clock_timestamp();
  -- Paid bookings that have not ended: those a lost index entry could still let someone
  -- double-book.
  v_window tstzrange := tstzrange(now(), null);
  v_shared jsonb;
  v_in_table bigint;
  v_in_index bigint;
  v_missing jsonb := '[]'::jsonb;
  v_holds jsonb;
  v_holds_count integer;
begin
  -- 1. Double bookings, read from the table alone (no index can hide one).
  select coalesce(jsonb_agg(to_jsonb(s)), '[]') into v_shared
  from public.paid_bookings_sharing_a_link() s;

  -- 2. The constraint's index against the table: the same paid bookings both ways.
  select count(*) into v_in_table from public.paid_bookings_in_table(v_window);
  select count(*) into v_in_index from public.paid_bookings_in_gist_index(v_window);
  if v_in_index <> v_in_table then
    select coalesce(jsonb_agg(jsonb_build_object('booking_id', b.id, 'order_id', b.order_id,
      'meeting_link_id', b.meeting_link_id, 'starts_at', b.starts_at)), '[]') into v_missing
    from public.paid_bookings_in_table(v_window) t
    join public.bookings b on b.ctid = t.ctid
    where t.ctid not in (select i.ctid from public.paid_bookings_in_gist_index(v_window) i);
  end if;

  -- 3. Live holds sharing a link with a paid booking or another live hold, from the tables alone.
  select coalesce(jsonb_agg(to_jsonb(s)), '[]'), count(distinct s.booking_id)::integer
  into v_holds, v_holds_count
  from public.live_holds_sharing_a_link() s;

  insert into public.double_booking_checks (bookings_sharing_a_link, bookings_missing_from_index,
    details, took, holds_sharing_a_link)
  values (jsonb_array_length(v_shared), jsonb_array_length(v_missing),
    jsonb_build_object('sharing_a_link', v_shared, 'missing_from_index', v_missing,
      'holds_sharing_a_link', v_holds),
    clock_timestamp() - v_started, v_holds_count);
  delete from public.double_booking_checks c where c.checked_at < now() - interval '7 days';

  if jsonb_array_length(v_shared) > 0 then
    raise warning 'DOUBLE BOOKING: % paid bookings overlap another on the same link: %',
      jsonb_array_length(v_shared), v_shared
      using hint = 'docs/operations.md, "Double booking": move one booking of each pair, then REINDEX.';
  end if;
  if jsonb_array_length(v_missing) > 0 then
    raise warning 'the GiST index of bookings_paid_slots_never_share_a_link misses % paid bookings: %',
      jsonb_array_length(v_missing), v_missing
      using hint = 'docs/operations.md, "Double booking": REINDEX the index.';
  end if;
  if v_holds_count > 0 then
    raise warning 'DOUBLE BOOKING: % live holds share a link with a paid booking or another hold: %',
      v_holds_count, v_holds
      using hint = 'docs/operations.md, "Double booking": delete the hold (of two holds, either).';
  end if;
  return query select jsonb_array_length(v_shared), jsonb_array_length(v_missing), v_holds_count;
end;
$$;

comment on function public.check_double_booking() is
  'Health check, every minute by pg_cron: records in double_booking_checks (and logs a WARNING '
  'naming them) paid bookings sharing a link, paid bookings that have not ended which the '
  'exclusion constraint''s GiST index no longer returns, and live holds sharing a link with a paid '
  'booking or another live hold. All always 0 when healthy.';
