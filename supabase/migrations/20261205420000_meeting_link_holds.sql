-- Holds at checkout (issue 18): a pending booking reserves a link for its slot until held_until,
-- so a slot the pool cannot serve is refused before anyone pays, and a booking that held a link
-- gets exactly that link when it is paid.
--
-- A hold is a row of its own table, not columns on bookings: counting holds in bookings' own
-- exclusion constraint would mean a new GiST exclusion constraint on bookings, which cannot be
-- added NOT VALID and holds ACCESS EXCLUSIVE (no payment can be written) while its index builds
-- over every booking. Holds get their own exclusion constraint; the guard (the btree probe under
-- the (link, hour) advisory locks) checks holds against paid bookings both ways.
--
-- Liveness depends on now(), which no constraint or index predicate may read: the constraint
-- counts every hold row, live or expired, so whoever writes a link for a slot first deletes the
-- expired holds it meets on that link, under the same (link, hour) locks (nothing has to run for
-- a hold to end); readers count only live holds (held_until > now()).

set lock_timeout = '1s';
set statement_timeout = '10s';

-- ---------------------------------------------------------------------------
-- The holds
-- ---------------------------------------------------------------------------

create table public.meeting_link_holds (
  -- References bookings (on delete cascade): added at the end of this migration.
  booking_id uuid primary key,
  meeting_link_id uuid not null
    constraint meeting_link_holds_meeting_link_id_fkey references public.meeting_links_pool (id)
      on delete restrict,
  starts_at timestamptz not null,
  ends_at timestamptz not null,
  slot tstzrange not null generated always as (tstzrange(starts_at, ends_at, '[)')) stored,
  held_until timestamptz not null,
  created_at timestamptz not null default now(),
  -- booking_id is never null (primary key): the predicate only keeps the planner from reading
  -- this GiST index for the probes, which never name booking_id (docs/postgres-gist-bug.md).
  constraint meeting_link_holds_never_share_a_link
    exclude using gist (meeting_link_id with =, slot with &&) where (booking_id is not null)
);
alter table public.meeting_link_holds enable row level security;

-- Its btree index, by link and start, is built in the next migration (concurrently, on its own).

comment on table public.meeting_link_holds is
  'Links reserved at checkout for pending bookings: a live hold (held_until > now()) is taken '
  'capacity, and the booking gets exactly this link when it is paid. Ends at held_until, or at '
  'once when the booking stops being pending. Write through hold_meeting_link().';
comment on column public.meeting_link_holds.held_until is
  'The hold is capacity until then; afterwards others may take the link (whoever does deletes '
  'the row), and the every-minute sweep deletes what is left.';
comment on column public.meeting_link_holds.slot is
  'The booking''s slot when it was held; a booking that moves lets go of its hold.';
comment on constraint meeting_link_holds_never_share_a_link on public.meeting_link_holds is
  'No two holds, live or expired, reserve the same link for overlapping slots (a writer deletes '
  'an expired one first). Against paid bookings the guard triggers check.';

-- ---------------------------------------------------------------------------
-- Probes of holds, through the btree
-- ---------------------------------------------------------------------------

create function public.meeting_link_overlapping_hold(p_link uuid, p_slot tstzrange,
  p_except uuid default null, p_expired_too boolean default false)
returns uuid
language plpgsql
stable
set search_path = ''
set enable_seqscan = off
set enable_bitmapscan = off
as $$
begin
  -- A slot lasts at most a day, so an overlapping hold starts in (lower - 24 h, upper).
  return (
    select h.booking_id
    from public.meeting_link_holds h
    where h.meeting_link_id = p_link
      and h.starts_at > lower(p_slot) - interval '24 hours'
      and h.starts_at < upper(p_slot)
      and h.ends_at > lower(p_slot)
      and (p_expired_too or h.held_until > now())
      and h.booking_id is distinct from p_except
    limit 1);
end;
$$;
comment on function public.meeting_link_overlapping_hold(uuid, tstzrange, uuid, boolean) is
  'The booking (other than p_except) with a live hold (or any hold: p_expired_too) of p_link for a '
  'slot overlapping p_slot, or null. Reads the btree, never the GiST index. Exact only under the '
  'link''s locks.';

create function public.release_expired_meeting_link_holds(p_link uuid, p_slot tstzrange,
  p_except uuid default null)
returns void
language sql
set search_path = ''
as $$
  -- Called under the link's (link, hour) locks by whoever is about to write p_link for p_slot.
  delete from public.meeting_link_holds h
  where h.meeting_link_id = p_link
    and h.starts_at > lower(p_slot) - interval '24 hours'
    and h.starts_at < upper(p_slot)
    and h.ends_at > lower(p_slot)
    and h.held_until <= now()
    and h.booking_id is distinct from p_except;
$$;
comment on function public.release_expired_meeting_link_holds(uuid, tstzrange, uuid) is
  'Deletes expired holds of p_link overlapping p_slot (except p_except''s). Internal to the guard: '
  'run under the link''s locks before a write, so an expired hold never blocks one.';

-- ---------------------------------------------------------------------------
-- The guard counts live holds as taken
-- ---------------------------------------------------------------------------

create or replace function public.bookings_refuse_double_booking()
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

create function public.meeting_link_holds_refuse_double_booking()
returns trigger
language plpgsql
security definer
set search_path = ''
as $$
declare
  -- NEW.slot is generated after BEFORE triggers run: null here.
  v_slot tstzrange := tstzrange(new.starts_at, new.ends_at, '[)');
  v_booking public.bookings;
  v_other_id uuid;
begin
  if current_setting('transaction_isolation') <> 'read committed' then
    raise exception 'a hold can be written only in READ COMMITTED'
      using errcode = '0A000', hint = 'run this write in its own read committed transaction';
  end if;
  select * into v_booking from public.bookings b where b.id = new.booking_id;
  if v_booking.payment_status is distinct from 'pending'
     or (v_booking.starts_at, v_booking.ends_at) is distinct from (new.starts_at, new.ends_at) then
    raise exception 'a hold is for a pending booking''s own slot: booking % is % for %',
        new.booking_id, v_booking.payment_status, v_booking.slot
      using errcode = 'check_violation', constraint = 'meeting_link_holds_never_share_a_link';
  end if;
  -- The same locks, probes and order as bookings_refuse_double_booking.
  if current_setting('meeting_links.claiming', true) = 'on' then
    if not public.lock_meeting_link(new.meeting_link_id, v_slot, p_wait => false) then
      raise exception using errcode = 'MLBSY';
    end if;
  else
    perform public.lock_meeting_link(new.meeting_link_id, v_slot, p_wait => true);
  end if;
  v_other_id := public.meeting_link_overlapping_booking(new.meeting_link_id, v_slot);
  if v_other_id is not null then
    raise exception 'booking % holds meeting link % for a slot overlapping %', v_other_id,
        new.meeting_link_id, v_slot
      using errcode = 'exclusion_violation', constraint = 'bookings_paid_slots_never_share_a_link',
        table = 'meeting_link_holds', schema = 'public';
  end if;
  if public.meeting_link_overlapping_hold(new.meeting_link_id, v_slot, new.booking_id, true) is not null then
    perform public.release_expired_meeting_link_holds(new.meeting_link_id, v_slot, new.booking_id);
    v_other_id := public.meeting_link_overlapping_hold(new.meeting_link_id, v_slot, new.booking_id);
  end if;
  if v_other_id is not null then
    raise exception 'booking % already holds meeting link % for a slot overlapping %', v_other_id,
        new.meeting_link_id, v_slot
      using errcode = 'exclusion_violation', constraint = 'meeting_link_holds_never_share_a_link',
        table = 'meeting_link_holds', schema = 'public';
  end if;
  return new;
end;
$$;
comment on function public.meeting_link_holds_refuse_double_booking() is
  'Trigger: a hold is for a pending booking''s own slot, and refuses (23P01) a hold of a link that '
  'a paid booking or another live hold has for an overlapping slot: the guard''s locks and btree '
  'probes, as for bookings.';

create trigger meeting_link_holds_refuse_double_booking
  before insert or update on public.meeting_link_holds
  for each row execute function public.meeting_link_holds_refuse_double_booking();

-- ---------------------------------------------------------------------------
-- Settlement takes the held link; leaving pending (or moving) lets go of the hold
-- ---------------------------------------------------------------------------

create function public.bookings_pay_with_held_link()
returns trigger
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_hold public.meeting_link_holds;
begin
  select * into v_hold from public.meeting_link_holds h where h.booking_id = new.id;
  if not found then
    return new;
  end if;
  if new.payment_status = 'paid' and new.meeting_link_id is null and v_hold.held_until > now()
     and v_hold.slot = tstzrange(new.starts_at, new.ends_at, '[)') then
    -- Decide under the link's locks (a bulk write holds the tables instead): a writer that found
    -- this hold expired by its own clock and took the link first has deleted it by now.
    if coalesce(nullif(current_setting('meeting_links.guard_rows', true), ''), '0')::integer < 500 then
      perform public.lock_meeting_link(v_hold.meeting_link_id, v_hold.slot, p_wait => true);
    end if;
    if exists (select 1 from public.meeting_link_holds h
               where h.booking_id = new.id and h.meeting_link_id = v_hold.meeting_link_id)
       and public.meeting_link_overlapping_booking(v_hold.meeting_link_id, v_hold.slot, new.id) is null
    then
      -- bookings_refuse_double_booking_on_update (next, in name order) checks it as any write.
      new.meeting_link_id := v_hold.meeting_link_id;
    end if;
  end if;
  delete from public.meeting_link_holds h where h.booking_id = new.id;
  return new;
end;
$$;
comment on function public.bookings_pay_with_held_link() is
  'Trigger: a pending booking that is paid (by the webhook, by hand, any writer) while its hold is '
  'live gets the held link in the same write; one that is paid later, fails, expires, is cancelled '
  'or moves lets go of its hold.';


-- ---------------------------------------------------------------------------
-- Placement counts live holds as taken (and as uses of a link with max_uses)
-- ---------------------------------------------------------------------------

create function public.meeting_link_uses(p_link uuid)
returns bigint
language sql
stable
set search_path = ''
as $$
  select (select count(*) from public.bookings b where b.meeting_link_id = p_link)
    + (select count(*) from public.meeting_link_holds h
       where h.meeting_link_id = p_link and h.held_until > now());
$$;
comment on function public.meeting_link_uses(uuid) is
  'Paid bookings holding p_link plus its live holds: what max_uses is compared with. Internal.';

create or replace function public.meeting_link_candidates(p_slot tstzrange, p_only_link uuid default null)
returns uuid[]
language plpgsql
stable
set search_path = ''
-- Its estimated cost crosses the JIT thresholds once bookings number in the 100,000s; JIT
-- compilation then added 50-650 ms to a query that runs in about 2 ms (bench/run, scaling).
set jit = off
-- Its plan is kept for the session (PL/pgSQL): never a scan of all bookings per link because it
-- was planned on a nearly empty table.
set enable_seqscan = off
as $$
begin
    -- Best fit: prefer the link whose nearest paid neighbours sit closest to this slot, so
    -- long free stretches stay whole for later bookings. Each gap counts at most a day, so
    -- only neighbours within a day matter (and an idle link ranks last); ties fall back to
    -- pool order (first fit). Per link, one bounded range of the btree bookings_link_starts_at_idx
    -- (a neighbour within a day starts at most 2 days before the slot); the GiST index is never
    -- read, so no rescan of it can kill live entries (docs/postgres-gist-bug.md). A live hold of
    -- the link for an overlapping slot makes it taken; holds are not neighbours.
    return (select coalesce(array_agg(l.id order by
             coalesce(lower(p_slot) - neighbours.previous_end, interval '1 day')
             + coalesce(neighbours.next_start - upper(p_slot), interval '1 day'),
             l.created_at, l.meeting_link), '{}')
    from public.meeting_links_pool l
    cross join lateral (
      select
        max(b.ends_at) filter (where b.ends_at <= lower(p_slot)) as previous_end,
        min(b.starts_at) filter (where b.starts_at >= upper(p_slot)) as next_start,
        count(*) filter (where b.starts_at < upper(p_slot) and b.ends_at > lower(p_slot)) as overlapping
      from public.bookings b
      where b.meeting_link_id = l.id
        and b.starts_at > lower(p_slot) - interval '2 days'
        and b.starts_at < upper(p_slot) + interval '1 day'
        and b.ends_at > lower(p_slot) - interval '1 day'
    ) neighbours
    cross join lateral (
      select count(*) as overlapping
      from public.meeting_link_holds h
      where h.meeting_link_id = l.id
        and h.starts_at > lower(p_slot) - interval '24 hours'
        and h.starts_at < upper(p_slot)
        and h.ends_at > lower(p_slot)
        and h.held_until > now()
    ) held
    where l.is_available
      and (p_only_link is null or l.id = p_only_link)
      and neighbours.overlapping = 0
      and held.overlapping = 0
      and (l.max_uses is null or l.max_uses > public.meeting_link_uses(l.id)));
end;
$$;

create or replace function public.try_claim_meeting_link(p_booking_id uuid, p_link uuid, p_slot tstzrange,
  p_wait boolean default false)
returns text
language plpgsql
set search_path = ''
as $$
declare
  v_max_uses integer;
begin
  -- A subtransaction: when the claim fails, its advisory locks are released with it.
  begin
    if p_wait then
      -- Queue for the link (first come, first served; at most 2 s) and keep its locks.
      perform public.wait_for_meeting_link(p_link, p_slot);
    end if;
    select max_uses into v_max_uses from public.meeting_links_pool where id = p_link;
    if v_max_uses is not null then
      -- Counting uses is only exact while no other slot on this link is being claimed.
      if not pg_try_advisory_xact_lock(hashtext(p_link::text), -1) then
        raise exception using errcode = 'MLBSY';
      end if;
      if public.meeting_link_uses(p_link) >= v_max_uses then
        raise exception using errcode = 'MLTKN';
      end if;
    end if;
    -- The guard trigger takes the link's (link, hour) locks without waiting (MLBSY when busy)
    -- and, under them, looks through the btree for an overlapping booking or live hold (23P01)
    -- before the row is written: a claim that lost a race writes nothing. The exclusion
    -- constraint checks the write too.
    perform set_config('meeting_links.claiming', 'on', true);
    update public.bookings set meeting_link_id = p_link where id = p_booking_id;
    perform set_config('meeting_links.claiming', '', true);
    return 'claimed';
  exception
    -- lock_not_available: queued 2 s in vain; deadlock_detected: an admin transaction that
    -- holds this link's lock waits for a row this caller holds (the admin's statement goes on).
    when sqlstate 'MLBSY' or lock_not_available or deadlock_detected then return 'busy';
    when sqlstate 'MLTKN' or exclusion_violation then return 'taken';
  end;
end;
$$;

-- ---------------------------------------------------------------------------
-- Holding a link
-- ---------------------------------------------------------------------------

create function public.try_hold_meeting_link(p_booking_id uuid, p_link uuid, p_slot tstzrange,
  p_held_until timestamptz, p_wait boolean default false)
returns text
language plpgsql
set search_path = ''
as $$
declare
  v_max_uses integer;
begin
  -- try_claim_meeting_link's steps, writing a hold instead of the booking's link.
  begin
    if p_wait then
      perform public.wait_for_meeting_link(p_link, p_slot);
    end if;
    select max_uses into v_max_uses from public.meeting_links_pool where id = p_link;
    if v_max_uses is not null then
      if not pg_try_advisory_xact_lock(hashtext(p_link::text), -1) then
        raise exception using errcode = 'MLBSY';
      end if;
      if public.meeting_link_uses(p_link) >= v_max_uses then
        raise exception using errcode = 'MLTKN';
      end if;
    end if;
    perform set_config('meeting_links.claiming', 'on', true);
    insert into public.meeting_link_holds (booking_id, meeting_link_id, starts_at, ends_at, held_until)
    values (p_booking_id, p_link, lower(p_slot), upper(p_slot), p_held_until);
    perform set_config('meeting_links.claiming', '', true);
    return 'held';
  exception
    when sqlstate 'MLBSY' or lock_not_available or deadlock_detected then return 'busy';
    when sqlstate 'MLTKN' or exclusion_violation then return 'taken';
  end;
end;
$$;
comment on function public.try_hold_meeting_link(uuid, uuid, tstzrange, timestamptz, boolean) is
  'Holds one link for a locked, pending booking without a hold: held, busy or taken, as '
  'try_claim_meeting_link. Internal to hold_meeting_link().';

create function public.hold_meeting_link(p_booking_id uuid, p_hold_minutes integer default 15)
returns table (booking_id uuid, held boolean, held_until timestamptz, already_held boolean)
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_booking public.bookings;
  v_hold public.meeting_link_holds;
  v_until timestamptz := now() + make_interval(mins => p_hold_minutes);
  v_link uuid;
  v_busy uuid[];
  v_outcome text;
  v_deadline timestamptz := clock_timestamp() + interval '5 seconds';
begin
  if p_hold_minutes is null or p_hold_minutes not between 1 and 1440 then
    raise exception 'a hold lasts 1 to 1440 minutes, not %', p_hold_minutes
      using errcode = '22023';
  end if;
  select * into v_booking from public.bookings b where b.id = p_booking_id for update;
  if not found then
    raise exception 'booking % does not exist', p_booking_id
      using errcode = 'ML404', hint = 'booking_not_found';
  end if;
  if v_booking.payment_status <> 'pending' then
    raise exception 'booking % is %, not pending', p_booking_id, v_booking.payment_status
      using errcode = 'MLPND', hint = 'booking_not_pending';
  end if;

  select * into v_hold from public.meeting_link_holds h where h.booking_id = p_booking_id;
  if found then
    -- Holding again extends the hold and keeps its link. The row still exists, so no one has
    -- taken the link since (whoever would have deleted it); queue for its locks (the lock order:
    -- the booking's row, the link's locks, then the hold's row) and extend under them.
    begin
      perform public.wait_for_meeting_link(v_hold.meeting_link_id, v_hold.slot);
      update public.meeting_link_holds h set held_until = greatest(h.held_until, v_until)
      where h.booking_id = p_booking_id;
    exception when lock_not_available then
      -- Queued 2 s behind another writer of the link: the hold stands as it was.
      null;
    end;
    return query select p_booking_id, true, h.held_until, true
      from public.meeting_link_holds h where h.booking_id = p_booking_id;
    return;
  end if;

  -- claim_meeting_link's loop: best fit first, never waiting while holding a link's locks,
  -- queueing for a busy link only when every free-looking link is busy, for at most 5 s.
  loop
    v_busy := '{}';
    v_outcome := null;
    foreach v_link in array public.meeting_link_candidates(v_booking.slot) loop
      v_outcome := public.try_hold_meeting_link(p_booking_id, v_link, v_booking.slot, v_until);
      exit when v_outcome = 'held';
      if v_outcome = 'busy' then
        v_busy := v_busy || v_link;
      end if;
    end loop;
    exit when v_outcome = 'held' or cardinality(v_busy) = 0 or clock_timestamp() > v_deadline;
    v_outcome := public.try_hold_meeting_link(p_booking_id, v_busy[1], v_booking.slot, v_until,
      p_wait => true);
    exit when v_outcome = 'held';
  end loop;
  return query select p_booking_id, v_outcome is not distinct from 'held',
    case when v_outcome = 'held' then v_until end, false;
end;
$$;
comment on function public.hold_meeting_link(uuid, integer) is
  'Reserves a link (best fit, as assignment) for a pending booking''s slot until now() + '
  'p_hold_minutes (1 to 1440): held, with held_until; held again, the hold is extended and keeps '
  'its link (already_held); held = false when the pool has no free link for the slot (nothing is '
  'written). The customer is not shown the link. Errors: ML404 no such booking, MLPND not pending, '
  '22023 minutes out of range.';

-- ---------------------------------------------------------------------------
-- Availability
-- ---------------------------------------------------------------------------

create function public.meeting_link_availability(p_slots tstzrange[])
returns table (slot_index integer, free integer)
language plpgsql
stable
security definer
set search_path = ''
set jit = off
as $$
begin
  -- PL/pgSQL keeps the plan for the session (a SQL function plans every call: most of its cost).
  return query
  with slots as (
    select s.slot, s.i::integer as slot_index
    from unnest(p_slots) with ordinality as s(slot, i)
  ),
  -- Where a booking overlapping some slot can start (a booking lasts at most a day): contiguous
  -- slots merge into one stretch.
  stretches as (
    select w from unnest((select range_agg(tstzrange(lower(s.slot) - interval '24 hours',
      upper(s.slot), '()')) from slots s)) as w
  ),
  -- Links a claim could take (available, below max_uses; live holds count as uses), each with
  -- the time its paid bookings and live holds take, as one multirange: one btree range of
  -- bookings_link_starts_at_idx per link and stretch, never the GiST index.
  links as materialized (
    select l.id, (
      select range_agg(o.slot) from (
        select tstzrange(b.starts_at, b.ends_at, '[)') as slot
        from stretches w
        cross join lateral (
          select b.starts_at, b.ends_at from public.bookings b
          where b.meeting_link_id = l.id
            and b.starts_at > lower(w.w) and b.starts_at < upper(w.w)) b
        union all
        select h.slot from public.meeting_link_holds h
        where h.meeting_link_id = l.id and h.held_until > now()
      ) o) as taken
    from public.meeting_links_pool l
    where l.is_available and (l.max_uses is null or l.max_uses > public.meeting_link_uses(l.id))
  )
  select s.slot_index,
    (select count(*) from links l where l.taken is null or not l.taken && s.slot)::integer
  from slots s
  order by s.slot_index;
end;
$$;
comment on function public.meeting_link_availability(tstzrange[]) is
  'For each slot, in order: how many links could still take a booking for the whole slot '
  '(available, below max_uses, no overlapping paid booking or live hold). Counts only; reads '
  'each link''s btree range once per stretch of slots.';

-- ---------------------------------------------------------------------------
-- The endpoint's rate limit: a token bucket per client in an unlogged table
-- ---------------------------------------------------------------------------

-- Unlogged: no WAL per request; after a crash the table is empty and every client starts full.
create unlogged table public.api_rate_limits (
  client text primary key,
  tokens double precision not null,
  refilled_at timestamptz not null
);
alter table public.api_rate_limits enable row level security;
comment on table public.api_rate_limits is
  'Token buckets of the public endpoints (meeting-link-availability), one row per client, shared by '
  'every function instance. Unlogged (emptied by a crash: buckets start full); rows idle for an '
  'hour are deleted by the every-minute sweep.';

create function public.take_rate_limit_token(p_client text, p_per_minute integer)
returns double precision
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_wait double precision;
begin
  -- A bucket of p_per_minute tokens refilled at p_per_minute a minute; a request takes one if
  -- there is one (one row write), else is refused without writing. Answers 0 (go on) or the
  -- seconds until the client's next token.
  insert into public.api_rate_limits as r (client, tokens, refilled_at)
  values (p_client, p_per_minute - 1, clock_timestamp())
  on conflict (client) do update
    set tokens = least(p_per_minute, r.tokens
          + extract(epoch from clock_timestamp() - r.refilled_at) * p_per_minute / 60.0) - 1,
      refilled_at = clock_timestamp()
    where least(p_per_minute, r.tokens
      + extract(epoch from clock_timestamp() - r.refilled_at) * p_per_minute / 60.0) >= 1
  returning 0 into v_wait;
  if found then
    return 0;
  end if;
  select (1 - r.tokens - extract(epoch from clock_timestamp() - r.refilled_at) * p_per_minute / 60.0)
      * 60.0 / p_per_minute
  into v_wait
  from public.api_rate_limits r where r.client = p_client;
  return greatest(coalesce(v_wait, 0), 0.001);
end;
$$;
comment on function public.take_rate_limit_token(text, integer) is
  'Rate limit of the public endpoints: takes a token from p_client''s bucket (p_per_minute tokens, '
  'refilled continuously) and answers 0, or, with none left, the seconds until the next one '
  '(nothing written). Shared by every function instance.';

-- ---------------------------------------------------------------------------
-- The sweep deletes expired holds and idle rate-limit rows
-- ---------------------------------------------------------------------------

create or replace function public.assign_pending_meeting_links()
returns integer
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_booking record;
  v_assigned integer := 0;
begin
  -- Expired holds are no capacity already (every reader and writer checks held_until); this
  -- only keeps the table small. A row someone holds (a writer under the link's locks) is theirs.
  delete from public.meeting_link_holds h
  where h.booking_id in (select x.booking_id from public.meeting_link_holds x
                         where x.held_until <= now() for update skip locked);
  delete from public.api_rate_limits r where r.refilled_at < now() - interval '1 hour';
  -- Like the self-healing pass it never waits: a booking another transaction holds is that
  -- transaction's, and a link being claimed right now (busy) is tried again next minute. Only a
  -- pool with no free link for the slot (exhausted) needs a person. Past the lock budget, the
  -- rest waits for the next run.
  for v_booking in
    select b.id, b.slot from public.bookings b
    where b.payment_status = 'paid' and b.meeting_link_id is null and b.ends_at > now()
    order by b.starts_at, b.created_at
    for update skip locked
  loop
    exit when not public.bulk_claim_budget_left();
    case public.claim_meeting_link(v_booking.id, v_booking.slot, p_wait => false)
      when 'claimed' then
        v_assigned := v_assigned + 1;
        perform public.bulk_claim_budget_left(v_booking.slot);
      when 'exhausted' then
        update public.bookings b set needs_manual_link = true
        where b.id = v_booking.id and not b.needs_manual_link;
      else
        null;
    end case;
  end loop;
  return v_assigned;
end;
$$;
comment on function public.assign_pending_meeting_links() is
  'For ops and the every-minute sweep: gives every paid, upcoming booking without a link one if '
  'the pool has it, and flags needs_manual_link on those the pool cannot serve (the flag clears '
  'when a link is assigned). Claims at most about 2,000 advisory locks per call (a large backlog '
  'takes several runs). Also deletes expired holds and idle rate-limit buckets. Returns how many '
  'got a link.';
-- ---------------------------------------------------------------------------
-- Admin views: live holds beside paid bookings
-- ---------------------------------------------------------------------------

create or replace view public.meeting_link_pool_status with (security_invoker = true) as
select
  count(*) as total_links,
  count(*) filter (where l.is_available) as available_links,
  count(*) filter (where not l.is_available) as retired_links,
  -- One scan of the bookings in a meeting now (an EXISTS per link would rescan an index per link).
  (select count(distinct b.meeting_link_id) from public.bookings b
    where b.meeting_link_id is not null and b.starts_at <= now() and b.ends_at > now())
    as links_in_a_meeting_now,
  (select count(*) from public.bookings b
    where b.payment_status = 'paid' and b.meeting_link_id is null and b.ends_at > now())
    as upcoming_bookings_without_link,
  (select c.bookings_sharing_a_link from public.double_booking_checks c
    order by c.checked_at desc limit 1) as double_booked_paid_bookings,
  (select c.bookings_missing_from_index from public.double_booking_checks c
    order by c.checked_at desc limit 1) as paid_bookings_missing_from_index,
  (select max(c.checked_at) from public.double_booking_checks c) as last_health_check_at,
  (select count(*) from public.meeting_link_holds h where h.held_until > now()) as live_holds,
  (select min(h.held_until) from public.meeting_link_holds h where h.held_until > now())
    as next_hold_ends_at
from public.meeting_links_pool l;
comment on view public.meeting_link_pool_status is
  'One row: how many links the pool has, how many can be assigned, how many are in a meeting now, '
  'how many upcoming paid bookings are waiting for a link, the last health check '
  '(double_booked_paid_bookings and paid_bookings_missing_from_index are always 0 when healthy; '
  'null before the first check), and the live holds of checkouts (each in meeting_link_holds '
  'with its held_until).';

create or replace view public.meeting_link_capacity with (security_invoker = true) as
with occupants as (
  select b.starts_at, b.ends_at, 1 as paid from public.bookings b where b.payment_status = 'paid'
  union all
  select h.starts_at, h.ends_at, 0 from public.meeting_link_holds h where h.held_until > now()
),
days as (
  -- Each paid booking (and live hold) once per Jakarta day it overlaps, clipped to that day: a
  -- 22:00-02:00 booking counts on both days, a 24 h booking on the two days it touches.
  select greatest(o.starts_at, d.starts) as starts_at, least(o.ends_at, d.ends) as ends_at,
    d.day_in_jakarta, o.paid
  from occupants o
  cross join lateral (
    select day::date as day_in_jakarta, day at time zone 'Asia/Jakarta' as starts,
      (day + interval '1 day') at time zone 'Asia/Jakarta' as ends
    from generate_series(date_trunc('day', o.starts_at at time zone 'Asia/Jakarta'),
      date_trunc('day', o.ends_at at time zone 'Asia/Jakarta'), interval '1 day') as day
  ) d
  where o.ends_at > d.starts
),
changes as (
  select day_in_jakarta, starts_at as at, 1 as delta, paid from days
  union all
  select day_in_jakarta, ends_at, -1, paid from days
),
running as (
  -- Ends sort before starts at the same instant: back-to-back bookings never overlap.
  select day_in_jakarta,
    sum(delta * paid) over (partition by day_in_jakarta order by at, delta rows unbounded preceding)
      as paid_overlapping,
    sum(delta) over (partition by day_in_jakarta order by at, delta rows unbounded preceding)
      as overlapping
  from changes
)
select
  r.day_in_jakarta,
  max(r.paid_overlapping) as peak_overlapping_paid_bookings,
  -- A link at its max_uses is never assigned again (counted once, not per link: no rescan).
  (select count(*) from public.meeting_links_pool l
    left join (select b.meeting_link_id, count(*) as uses from public.bookings b
               where b.meeting_link_id is not null group by b.meeting_link_id) u
      on u.meeting_link_id = l.id
    where l.is_available and (l.max_uses is null or coalesce(u.uses, 0) < l.max_uses))
    as available_links,
  max(r.overlapping) as peak_overlapping_paid_or_held
from running r
group by 1
order by 1;
comment on view public.meeting_link_capacity is
  'Per day (Asia/Jakarta): the most paid bookings overlapping at once on that day, counting every '
  'booking on each day it overlaps (one running past midnight counts on both days), against the '
  'links that can be assigned (available, and below their max_uses); peak_overlapping_paid_or_held '
  'counts live holds of checkouts too. Peak above available_links means bookings of that day wait '
  'for a link.';

-- ---------------------------------------------------------------------------
-- Access
-- ---------------------------------------------------------------------------

revoke all on public.meeting_link_holds, public.api_rate_limits
  from anon, authenticated, service_role, public;
grant select on public.meeting_link_holds to service_role;
revoke all on public.meeting_link_pool_status, public.meeting_link_capacity
  from anon, authenticated, service_role, public;
grant select on public.meeting_link_pool_status, public.meeting_link_capacity to service_role;
revoke execute on function public.meeting_link_overlapping_hold(uuid, tstzrange, uuid, boolean),
  public.release_expired_meeting_link_holds(uuid, tstzrange, uuid),
  public.meeting_link_holds_refuse_double_booking(), public.bookings_pay_with_held_link(),
  public.meeting_link_uses(uuid),
  public.try_hold_meeting_link(uuid, uuid, tstzrange, timestamptz, boolean),
  public.hold_meeting_link(uuid, integer), public.meeting_link_availability(tstzrange[]),
  public.take_rate_limit_token(text, integer)
  from anon, authenticated, service_role, public;
grant execute on function public.hold_meeting_link(uuid, integer),
  public.meeting_link_availability(tstzrange[]) to service_role;

-- ---------------------------------------------------------------------------
-- Last, the two statements that lock bookings (SHARE ROW EXCLUSIVE: payments wait for it), so
-- the migration holds that lock only for its last few milliseconds.
-- ---------------------------------------------------------------------------

-- meeting_link_holds is new and empty: validating it reads nothing.
alter table public.meeting_link_holds
  add constraint meeting_link_holds_booking_id_fkey foreign key (booking_id)
    references public.bookings (id) on delete cascade;

-- BEFORE, after bookings_keep_payment_rules and before bookings_refuse_double_booking_on_update
-- (name order), so the guard checks the held link like any other.
create trigger bookings_pay_with_held_link
  before update of payment_status, starts_at, ends_at on public.bookings
  for each row when (old.payment_status = 'pending' and (new.payment_status <> 'pending'
    or new.starts_at <> old.starts_at or new.ends_at <> old.ends_at))
  execute function public.bookings_pay_with_held_link();

reset lock_timeout;
reset statement_timeout;
