-- meeting_link_candidates plans once per session instead of once per call (issue 17, hot path).
--
-- A SQL function with SET clauses is never inlined, and PostgreSQL 15-17 parse and plan its query
-- again on every call from a new transaction (the plan lives only as long as the calling
-- statement's expression state). The candidates query (a lateral aggregate per link) took
-- 0.3 ms to plan beside 0.2 ms to run, on every assignment and every exhausted answer
-- (bench/hot_path.ts; docs/decisions.md, "The hot path"). PL/pgSQL keeps the plan in the
-- session's plan cache, re-planned when the tables' statistics or definitions change. The query,
-- its settings (planned with enable_seqscan off, so a plan made on a nearly empty table is still
-- a btree probe per link) and its answers are unchanged.

-- No table lock is taken here; the house limits all the same (the operator retries on timeout).
set lock_timeout = '1s';
set statement_timeout = '10s';

create or replace function public.meeting_link_candidates(p_slot tstzrange, p_only_link uuid default null)
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
    -- read, so no rescan of it can kill live entries (docs/postgres-gist-bug.md).
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
    where l.is_available
      and (p_only_link is null or l.id = p_only_link)
      and neighbours.overlapping = 0
      and (l.max_uses is null or l.max_uses > (
        select count(*) from public.bookings b where b.meeting_link_id = l.id)));
end;
$$;
