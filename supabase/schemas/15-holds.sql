-- Holds at checkout (issue 18): a pending booking reserves a link for its slot until held_until.
-- A live hold (held_until > now()) is taken capacity for every claim, hold and availability
-- count; the guard triggers check holds against paid bookings both ways under the link's
-- (link, hour) locks and delete the expired holds they meet, so nothing has to run for a hold to
-- end. A payment takes the held link in the paying write. Why a table of its own:
-- docs/decisions.md, "Holds at checkout".

create table public.meeting_link_holds (
  booking_id uuid primary key
    constraint meeting_link_holds_booking_id_fkey references public.bookings (id) on delete cascade,
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

-- The guard and the readers probe holds by link and start, like bookings_link_starts_at_idx.
create index meeting_link_holds_link_starts_at_idx
  on public.meeting_link_holds (meeting_link_id, starts_at);

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

-- BEFORE, after bookings_keep_payment_rules and before bookings_refuse_double_booking_on_update
-- (name order), so the guard checks the held link like any other.
create trigger bookings_pay_with_held_link
  before update of payment_status, starts_at, ends_at on public.bookings
  for each row when (old.payment_status = 'pending' and (new.payment_status <> 'pending'
    or new.starts_at <> old.starts_at or new.ends_at <> old.ends_at))
  execute function public.bookings_pay_with_held_link();

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

-- The availability endpoint's rate limit: a token bucket per client.

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
