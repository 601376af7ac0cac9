-- An exhausted slot answers pool_exhausted from one range of an index (issue 17, contention).
--
-- assign_meeting_link walked every link of the pool (meeting_link_candidates: an aggregate of
-- each link's neighbours) before it could say that none is free. With every link taken for the
-- hour, as when 200 paid bookings of one hour meet a pool of 10, 190 callers paid that walk for
-- nothing. meeting_link_slot_is_full counts the available links that hold a booking overlapping
-- the slot, from one range of bookings_linked_starts_at_idx, against the available links; when
-- they are all taken the booking is flagged at once. The answer is the one the walk gives on the
-- same snapshot: it reads committed bookings without locks, as the walk does, and it is only
-- ever "full" when every available link holds an overlapping booking (a link at its max_uses, or
-- a live checkout hold, can only make a slot fuller, so the walk still answers those).

-- No table lock is taken here; the house limits all the same (the operator retries on timeout).
set lock_timeout = '1s';
set statement_timeout = '10s';

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
revoke execute on function public.meeting_link_slot_is_full(tstzrange)
  from anon, authenticated, service_role, public;

create or replace function public.assign_meeting_link(p_booking_id uuid)
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
