-- Choosing and claiming a link, and the passes that serve waiting bookings: best fit, through
-- the btree only, never waiting while holding a lock; waiting for a busy link is fair and bounded
-- (docs/decisions.md). The admin views at the end.

-- ---------------------------------------------------------------------------
-- Choosing and claiming a link
-- ---------------------------------------------------------------------------

create function public.meeting_link_candidates(p_slot tstzrange, p_only_link uuid default null)
returns uuid[]
language plpgsql
stable
set search_path = ''
-- Its estimated cost crosses the JIT thresholds once bookings number in the 100,000s; JIT
-- compilation then added 50-650 ms to a query that runs in about 2 ms (bench/run, scaling).
set jit = off
-- Its plan is kept for the session: never a scan of all bookings per link because it was planned
-- on a nearly empty table.
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

comment on function public.meeting_link_candidates(tstzrange, uuid) is
  'Available links no overlapping paid booking holds, best fit first. Internal to assignment.';

create function public.find_available_meeting_link(p_starts_at timestamptz, p_ends_at timestamptz)
returns table (id uuid, meeting_link text)
language sql
stable
security definer
set search_path = ''
as $$
  select l.id, l.meeting_link
  from public.meeting_links_pool l
  where l.id = (public.meeting_link_candidates(tstzrange(p_starts_at, p_ends_at, '[)')))[1];
$$;

comment on function public.find_available_meeting_link(timestamptz, timestamptz) is
  'The link assignment would pick for [p_starts_at, p_ends_at) right now, or no row. Reads only: '
  'use assign_meeting_link() to claim it.';

create function public.try_claim_meeting_link(p_booking_id uuid, p_link uuid, p_slot tstzrange,
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

comment on function public.try_claim_meeting_link(uuid, uuid, tstzrange, boolean) is
  'Claims one link for a locked, paid booking: claimed, busy (another transaction is claiming an '
  'overlapping slot on it; with p_wait, it queued up to 2 s first) or taken. Checks overlaps '
  'through a btree index under the link''s locks. Internal to assignment (and reschedules).';

create function public.claim_meeting_link(p_booking_id uuid, p_slot tstzrange, p_wait boolean,
  p_only_link uuid default null)
returns text
language plpgsql
set search_path = ''
as $$
declare
  v_link uuid;
  v_busy uuid[];
  v_outcome text;
  -- The endpoint's own query timeout is 10 s: give up waiting well before it.
  v_deadline timestamptz := clock_timestamp() + interval '5 seconds';
begin
  loop
    v_busy := '{}';
    v_outcome := null;
    foreach v_link in array public.meeting_link_candidates(p_slot, p_only_link) loop
      v_outcome := public.try_claim_meeting_link(p_booking_id, v_link, p_slot);
      exit when v_outcome = 'claimed';
      if v_outcome = 'busy' then
        v_busy := v_busy || v_link;
      end if;
    end loop;
    if v_outcome is distinct from 'claimed' then
      v_outcome := case when cardinality(v_busy) = 0 then 'exhausted' else 'busy' end;
    end if;
    exit when v_outcome <> 'busy' or not p_wait or clock_timestamp() > v_deadline;
    -- Every free-looking link is being claimed by someone else right now. Queue for the first
    -- and claim it holding its locks (the old lock-then-unlock wait let try-locks, which yield
    -- to queued waiters, fail for as long as the queue never emptied: a convoy). Either it is
    -- ours, or its holder took it and it is no longer a candidate, or 2 s passed in the queue:
    -- look again, until the deadline.
    v_outcome := public.try_claim_meeting_link(p_booking_id, v_busy[1], p_slot, p_wait => true);
    exit when v_outcome = 'claimed';
  end loop;
  return v_outcome;
end;
$$;

comment on function public.claim_meeting_link(uuid, tstzrange, boolean, uuid) is
  'Claims the best free link for a locked, paid booking: claimed, exhausted, or busy (p_wait = '
  'false, or every free link stayed busy for 5 s). Internal to assignment.';

create function public.meeting_link_slot_is_full(p_slot tstzrange)
returns boolean
language plpgsql
stable
set search_path = ''
-- PL/pgSQL keeps the plan for the session: planned with these, it stays an index range even if
-- first planned on a nearly empty table.
set enable_seqscan = off
set enable_bitmapscan = off
-- The disabled sequential scan of the pool (it has no index to use instead) costs 1e10 to the
-- planner, past the JIT thresholds: JIT compiled a 0.1 ms query for 300-1,500 ms.
set jit = off
as $$
begin
  -- A booking lasts at most a day (bookings_last_at_most_a_day), so one that overlaps p_slot
  -- starts in (lower - 24 h, upper): one range of the btree, never the GiST index (no condition
  -- implies its predicate payment_status = 'paid'; docs/postgres-gist-bug.md).
  return (select count(distinct b.meeting_link_id)
          from public.bookings b
          join public.meeting_links_pool l on l.id = b.meeting_link_id
          where b.meeting_link_id is not null
            and b.starts_at > lower(p_slot) - interval '24 hours'
            and b.starts_at < upper(p_slot)
            and b.ends_at > lower(p_slot)
            and b.ends_at > b.starts_at -- always (a CHECK); names the index's predicate
            and l.is_available)
    >= (select count(*) from public.meeting_links_pool l where l.is_available);
end;
$$;
comment on function public.meeting_link_slot_is_full(tstzrange) is
  'True when every available link holds a booking overlapping p_slot (no claim could succeed), '
  'from one range of bookings_linked_starts_at_idx. False means "maybe free": the claim decides. '
  'Internal to assignment.';

create function public.assign_meeting_link(p_booking_id uuid)
returns table (booking_id uuid, meeting_link_id uuid, meeting_link text, outcome text)
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_booking public.bookings;
  v_outcome text;
begin
  select * into v_booking from public.bookings b where b.id = p_booking_id for update;
  if not found then
    raise exception 'booking % does not exist', p_booking_id
      using errcode = 'ML404', hint = 'booking_not_found';
  end if;
  if v_booking.payment_status <> 'paid' then
    raise exception 'booking % is %, not paid', p_booking_id, v_booking.payment_status
      using errcode = 'ML409', hint = 'booking_not_paid';
  end if;

  if v_booking.meeting_link_id is not null then
    v_outcome := 'already_assigned';
  elsif not public.meeting_link_slot_is_full(v_booking.slot)
        and public.claim_meeting_link(p_booking_id, v_booking.slot, p_wait => true) = 'claimed' then
    v_outcome := 'assigned';
  else
    update public.bookings b set needs_manual_link = true where b.id = p_booking_id;
    v_outcome := 'pool_exhausted';
  end if;

  return query
    select b.id, b.meeting_link_id, l.meeting_link, v_outcome
    from public.bookings b
    left join public.meeting_links_pool l on l.id = b.meeting_link_id
    where b.id = p_booking_id;
end;
$$;

comment on function public.assign_meeting_link(uuid) is
  'Gives a paid booking a meeting link, atomically. Returns its link if it has one '
  '(outcome already_assigned), else claims the best free link (assigned), else flags the booking '
  'needs_manual_link (pool_exhausted; it stays paid). Errors: ML404 no such booking, ML409 not paid. '
  'Safe under any concurrency: never a deadlock, constraint or serialization error.';

-- Holding a link at checkout, and the free links per slot a booking page shows.

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
-- Bulk passes: the sweep and self-healing
-- ---------------------------------------------------------------------------

-- A bulk pass claims in one transaction, and every claim holds its (link, hour) advisory locks
-- until commit: 25 for a 24-hour slot. So a transaction's bulk passes stop claiming after about
-- 2,000 locks (a backlog would otherwise run out of shared lock memory and fail every minute);
-- the sweep serves the rest in the next minutes, each run its own transaction.

create function public.bulk_claim_budget_left(p_slot tstzrange default null)
returns boolean
language plpgsql
set search_path = ''
as $$
declare
  v_used integer := coalesce(nullif(current_setting('meeting_links.bulk_locks', true), ''), '0')::integer;
begin
  if p_slot is not null then
    -- A claim of p_slot was made: count the locks it holds (one per hour it touches).
    v_used := v_used + (ceil(date_part('epoch', upper(p_slot)) / 3600)
      - floor(date_part('epoch', lower(p_slot)) / 3600))::integer;
    perform set_config('meeting_links.bulk_locks', v_used::text, true);
  end if;
  -- The shared lock table holds max_locks_per_transaction (64) per connection for all of them.
  return v_used < 2000;
end;
$$;

comment on function public.bulk_claim_budget_left(tstzrange) is
  'Internal to the bulk passes: records the advisory locks of a claim of p_slot in this '
  'transaction, and says whether the transaction may claim more (about 2,000 locks in all).';

create function public.assign_waiting_meeting_links(p_slot tstzrange default null,
  p_only_link uuid default null)
returns integer
language plpgsql
set search_path = ''
as $$
declare
  v_booking record;
  v_assigned integer := 0;
begin
  -- Bookings another transaction is handling are skipped, and a busy link is left for the
  -- next sweep: a bulk pass never waits, so it cannot hold up the endpoint or an admin. Past
  -- the lock budget, the rest is left to the sweep too.
  for v_booking in
    select b.id, b.slot from public.bookings b
    where b.payment_status = 'paid' and b.meeting_link_id is null
      and b.ends_at > now()
      and (p_slot is null or b.slot && p_slot)
    order by b.starts_at, b.created_at
    for update skip locked
  loop
    exit when not public.bulk_claim_budget_left();
    if public.claim_meeting_link(v_booking.id, v_booking.slot, p_wait => false,
         p_only_link => p_only_link) = 'claimed' then
      v_assigned := v_assigned + 1;
      perform public.bulk_claim_budget_left(v_booking.slot);
    end if;
  end loop;
  return v_assigned;
end;
$$;

comment on function public.assign_waiting_meeting_links(tstzrange, uuid) is
  'Bulk pass behind self-healing: gives waiting paid bookings (optionally only those overlapping '
  'p_slot, only with link p_only_link) a link without ever waiting, up to a lock budget per '
  'transaction (the sweep serves the rest). Returns how many got one.';

create function public.assign_pending_meeting_links()
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

-- Self-healing: a link that becomes usable, or a slot that is given back, serves the waiting.
create function public.meeting_links_pool_serve_waiting()
returns trigger
language plpgsql
security definer
set search_path = ''
as $$
begin
  perform public.assign_waiting_meeting_links(p_only_link => new.id);
  return null;
end;
$$;

comment on function public.meeting_links_pool_serve_waiting() is
  'Trigger: a link added, re-enabled or given more uses goes to waiting paid bookings it can serve.';

create trigger meeting_links_pool_serve_waiting_on_insert
  after insert on public.meeting_links_pool
  for each row when (new.is_available)
  execute function public.meeting_links_pool_serve_waiting();

create trigger meeting_links_pool_serve_waiting_on_update
  after update of is_available, max_uses on public.meeting_links_pool
  for each row when (new.is_available and (not old.is_available
    or coalesce(new.max_uses > old.max_uses, new.max_uses is null and old.max_uses is not null)))
  execute function public.meeting_links_pool_serve_waiting();

create function public.bookings_give_back_slot()
returns trigger
language plpgsql
security definer
set search_path = ''
as $$
begin
  perform public.assign_waiting_meeting_links(p_slot => old.slot, p_only_link => old.meeting_link_id);
  return null;
end;
$$;

comment on function public.bookings_give_back_slot() is
  'Trigger: when a booking stops holding a link for a slot (refund, cancel, moved), waiting paid '
  'bookings overlapping that slot may take the link.';

create trigger bookings_give_back_slot
  after update of payment_status, meeting_link_id, starts_at, ends_at on public.bookings
  for each row when (old.payment_status = 'paid' and old.meeting_link_id is not null
    and (new.payment_status <> 'paid' or new.meeting_link_id is distinct from old.meeting_link_id
      or new.slot <> old.slot))
  execute function public.bookings_give_back_slot();

-- ---------------------------------------------------------------------------
-- Admin views
-- ---------------------------------------------------------------------------

create view public.meeting_link_pool_status with (security_invoker = true) as
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

create view public.paid_bookings_without_link with (security_invoker = true) as
select b.id, b.order_id, b.starts_at, b.ends_at, b.paid_at, b.needs_manual_link, b.review_reason
from public.bookings b
where b.payment_status = 'paid' and b.meeting_link_id is null
order by b.starts_at;

comment on view public.paid_bookings_without_link is
  'Paid bookings that hold no link, soonest first. needs_manual_link: the pool was full when '
  'assignment ran; add a link (it is assigned automatically) or assign one by hand.';

create view public.meeting_link_usage with (security_invoker = true) as
select
  l.id, l.meeting_link, l.is_available, l.max_uses,
  coalesce(u.paid_bookings, 0) as paid_bookings,
  coalesce(u.upcoming_bookings, 0) as upcoming_bookings,
  u.last_booking_ends_at
from public.meeting_links_pool l
-- Aggregated once, then joined (a join per link would rescan an index per link).
left join (
  select b.meeting_link_id, count(*) as paid_bookings,
    count(*) filter (where b.ends_at > now()) as upcoming_bookings,
    max(b.ends_at) as last_booking_ends_at
  from public.bookings b
  where b.meeting_link_id is not null
  group by b.meeting_link_id
) u on u.meeting_link_id = l.id
order by l.created_at, l.meeting_link;

comment on view public.meeting_link_usage is
  'Per link: how many paid bookings hold it (all time and upcoming) and when it was last used.';

-- available_links counts only links a claim could take: available, and below their max_uses.

create view public.meeting_link_capacity with (security_invoker = true) as
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
