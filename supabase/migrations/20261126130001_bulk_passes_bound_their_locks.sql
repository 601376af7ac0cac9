-- A bulk pass (the every-minute sweep, the self-healing passes) claims in one transaction, and
-- every claim holds its (link, hour) advisory locks until commit: 25 for a 24-hour slot. A backlog
-- of a few thousand waiting bookings ran out of shared lock memory ("out of shared memory"), so
-- the admin's INSERT or UPDATE of a link failed, and the sweep failed every minute, serving
-- nobody. Now a transaction's bulk passes stop claiming after about 2,000 locks; the sweep serves
-- the rest in the next minutes, each run its own transaction.

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

create or replace function public.assign_waiting_meeting_links(p_slot tstzrange default null,
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
  'takes several runs). Returns how many got a link.';

revoke execute on function public.bulk_claim_budget_left(tstzrange)
  from anon, authenticated, service_role, public;
