-- Meeting-link pool: pre-generated Google Meet links handed to paid bookings.
--
-- Correctness lives here, not in the edge functions: an exclusion constraint makes
-- double-booking a link impossible for any writer, and one SQL function per operation
-- does the work atomically.

create extension if not exists btree_gist with schema extensions;

-- ---------------------------------------------------------------------------
-- Tables
-- ---------------------------------------------------------------------------

create table public.meeting_links_pool (
  id uuid primary key default gen_random_uuid(),
  meeting_link text not null
    constraint meeting_links_pool_meeting_link_key unique
    constraint meeting_links_pool_link_is_a_google_meet_url
      check (meeting_link ~ '^https://meet\.google\.com/[a-z]{3}-[a-z]{4}-[a-z]{3}$'),
  is_available boolean not null default true,
  max_uses integer
    constraint meeting_links_pool_max_uses_is_positive check (max_uses > 0),
  notes text,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);
alter table public.meeting_links_pool enable row level security;

comment on table public.meeting_links_pool is
  'Pre-generated Google Meet links. Add links with INSERT, retire one with is_available = false '
  '(bookings that already hold it keep it). A link is handed to paid bookings whose slots do not overlap.';
comment on column public.meeting_links_pool.meeting_link is
  'https://meet.google.com/xxx-xxxx-xxx: lowercase Meet code, no whitespace, no query string.';
comment on column public.meeting_links_pool.is_available is
  'false: never assigned again. Re-enabling it assigns waiting paid bookings it can serve.';
comment on column public.meeting_links_pool.max_uses is
  'Optional: the link is retired from assignment once this many paid bookings hold it (link hygiene).';

create table public.bookings (
  id uuid primary key default gen_random_uuid(),
  order_id text not null
    constraint bookings_order_id_key unique
    constraint bookings_order_id_is_a_midtrans_order_id
      check (order_id ~ '^[A-Za-z0-9._~-]{1,50}$'),
  starts_at timestamptz not null,
  ends_at timestamptz not null,
  slot tstzrange not null generated always as (tstzrange(starts_at, ends_at, '[)')) stored,
  amount numeric(14, 2) not null
    constraint bookings_amount_is_positive check (amount > 0),
  payment_status text not null default 'pending'
    constraint bookings_payment_status_is_known
      check (payment_status in ('pending', 'paid', 'failed', 'expired', 'cancelled', 'refunded')),
  paid_at timestamptz,
  paid_transaction_id text,
  meeting_link_id uuid
    constraint bookings_meeting_link_id_fkey references public.meeting_links_pool (id) on delete restrict,
  needs_manual_link boolean not null default false,
  review_reason text,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  constraint bookings_ends_after_it_starts check (ends_at > starts_at),
  constraint bookings_last_at_most_a_day check (ends_at - starts_at <= interval '24 hours'),
  constraint bookings_only_paid_bookings_hold_a_link
    check (payment_status = 'paid' or meeting_link_id is null),
  constraint bookings_manual_flag_only_while_waiting
    check (not needs_manual_link or (payment_status = 'paid' and meeting_link_id is null)),
  constraint bookings_paid_slots_never_share_a_link
    exclude using gist (meeting_link_id with =, slot with &&) where (payment_status = 'paid')
);
alter table public.bookings enable row level security;

create index bookings_waiting_for_link_idx on public.bookings (starts_at)
  where payment_status = 'paid' and meeting_link_id is null;

comment on table public.bookings is
  'Bookings, as far as payments and meeting links go. A booking becomes paid only through a '
  'verified Midtrans notification (or an admin); a paid booking gets a link no overlapping paid booking holds.';
comment on column public.bookings.order_id is 'The Midtrans order_id of this booking''s payment.';
comment on column public.bookings.slot is
  'Half-open [starts_at, ends_at): back-to-back bookings can share a link. Instants, so time zones never matter.';
comment on column public.bookings.amount is 'IDR; Midtrans must report exactly this as gross_amount.';
comment on column public.bookings.paid_transaction_id is
  'The Midtrans transaction that paid: only its own deny, cancel or refund can undo the payment.';
comment on column public.bookings.needs_manual_link is
  'Paid, but the pool had no free link when it was assigned. Cleared when a link is assigned.';
comment on column public.bookings.review_reason is
  'Why a notification for this booking needs a person: e.g. an amount or currency that does not match.';
comment on constraint bookings_paid_slots_never_share_a_link on public.bookings is
  'No two paid bookings hold the same link for overlapping slots, whoever writes the row.';

-- ---------------------------------------------------------------------------
-- Row triggers: timestamps, and the rules any writer (function or admin SQL) follows
-- ---------------------------------------------------------------------------

create function public.touch_updated_at()
returns trigger
language plpgsql
set search_path = ''
as $$
begin
  new.updated_at := now();
  return new;
end;
$$;
comment on function public.touch_updated_at() is 'Trigger: keeps updated_at current.';

create trigger meeting_links_pool_touch_updated_at
  before update on public.meeting_links_pool
  for each row execute function public.touch_updated_at();

create function public.bookings_keep_payment_rules()
returns trigger
language plpgsql
set search_path = ''
as $$
begin
  if new.payment_status = 'paid' then
    new.paid_at := coalesce(new.paid_at, now());
  elsif tg_op = 'UPDATE' and old.payment_status = 'paid' then
    -- A booking that stops being paid gives its slot on the link back.
    new.meeting_link_id := null;
  end if;
  if new.meeting_link_id is not null or new.payment_status <> 'paid' then
    new.needs_manual_link := false;
  end if;
  return new;
end;
$$;
comment on function public.bookings_keep_payment_rules() is
  'Trigger: a paid booking has paid_at; one that stops being paid lets go of its link; a booking '
  'with a link is not waiting for one.';

create trigger bookings_keep_payment_rules
  before insert or update on public.bookings
  for each row execute function public.bookings_keep_payment_rules();

create trigger bookings_touch_updated_at
  before update on public.bookings
  for each row execute function public.touch_updated_at();

-- ---------------------------------------------------------------------------
-- Choosing and claiming a link
-- ---------------------------------------------------------------------------

create function public.meeting_link_candidates(p_slot tstzrange, p_only_link uuid default null)
returns uuid[]
language sql
stable
set search_path = ''
-- Its estimated cost crosses the JIT thresholds once bookings number in the 100,000s; JIT
-- compilation then added 50-650 ms to a query that runs in about 2 ms (bench/run, scaling).
set jit = off
as $$
  -- Best fit: prefer the link whose nearest paid neighbours sit closest to this slot, so
  -- long free stretches stay whole for later bookings. Each gap counts at most a day, so
  -- only neighbours within a day matter (and an idle link ranks last); ties fall back to
  -- pool order (first fit). Every probe goes through the exclusion constraint's GiST index.
  select coalesce(array_agg(l.id order by
           coalesce(lower(p_slot) - neighbours.previous_end, interval '1 day')
           + coalesce(neighbours.next_start - upper(p_slot), interval '1 day'),
           l.created_at, l.meeting_link), '{}')
  from public.meeting_links_pool l
  cross join lateral (
    select
      max(upper(b.slot)) filter (where upper(b.slot) <= lower(p_slot)) as previous_end,
      min(lower(b.slot)) filter (where lower(b.slot) >= upper(p_slot)) as next_start,
      count(*) filter (where b.slot && p_slot) as overlapping
    from public.bookings b
    where b.meeting_link_id = l.id and b.payment_status = 'paid'
      and b.slot && tstzrange(lower(p_slot) - interval '1 day', upper(p_slot) + interval '1 day')
  ) neighbours
  where l.is_available
    and (p_only_link is null or l.id = p_only_link)
    and neighbours.overlapping = 0
    and (l.max_uses is null or l.max_uses > (
      select count(*) from public.bookings b
      where b.meeting_link_id = l.id and b.payment_status = 'paid'));
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

create function public.meeting_link_lock_keys(p_link uuid, p_slot tstzrange)
returns table (link_key integer, hour_key integer)
language sql
immutable
set search_path = ''
as $$
  -- Two overlapping slots share an instant, so they share the hour that holds it: locking
  -- (link, every hour the slot touches) excludes exactly the claims that could collide.
  select hashtext(p_link::text), hour::integer
  from generate_series(
    floor(extract(epoch from lower(p_slot)) / 3600),
    ceil(extract(epoch from upper(p_slot)) / 3600) - 1) as hour;
$$;
comment on function public.meeting_link_lock_keys(uuid, tstzrange) is
  'Advisory lock keys guarding claims of one link for one slot. Internal to assignment.';

create function public.try_claim_meeting_link(p_booking_id uuid, p_link uuid, p_slot tstzrange)
returns text
language plpgsql
set search_path = ''
as $$
declare
  v_max_uses integer;
begin
  -- A subtransaction: when the claim fails, its advisory locks are released with it, so a
  -- caller never holds a lock while it waits for another (no deadlock cycle can form).
  begin
    if not (select bool_and(pg_try_advisory_xact_lock(k.link_key, k.hour_key))
            from public.meeting_link_lock_keys(p_link, p_slot) k) then
      raise exception using errcode = 'MLBSY';
    end if;
    select max_uses into v_max_uses from public.meeting_links_pool where id = p_link;
    if v_max_uses is not null then
      -- Counting uses is only exact while no other slot on this link is being claimed.
      if not pg_try_advisory_xact_lock(hashtext(p_link::text), -1) then
        raise exception using errcode = 'MLBSY';
      end if;
      if (select count(*) from public.bookings
          where meeting_link_id = p_link and payment_status = 'paid') >= v_max_uses then
        raise exception using errcode = 'MLTKN';
      end if;
    end if;
    -- Under the locks the committed state is the whole truth: look before writing, so a
    -- claim that lost a race writes nothing (see the README on PostgreSQL 15 and aborted
    -- index entries). The constraint still guards every writer.
    if exists (select 1 from public.bookings
               where meeting_link_id = p_link and payment_status = 'paid' and slot && p_slot) then
      raise exception using errcode = 'MLTKN';
    end if;
    update public.bookings set meeting_link_id = p_link where id = p_booking_id;
    return 'claimed';
  exception
    when sqlstate 'MLBSY' then return 'busy';
    when sqlstate 'MLTKN' or exclusion_violation then return 'taken';
  end;
end;
$$;
comment on function public.try_claim_meeting_link(uuid, uuid, tstzrange) is
  'Claims one link for a locked, paid booking without ever waiting: claimed, busy (another '
  'transaction is claiming an overlapping slot on it) or taken. Internal to assignment.';

create function public.claim_meeting_link(p_booking_id uuid, p_slot tstzrange, p_wait boolean,
  p_only_link uuid default null)
returns text
language plpgsql
set search_path = ''
as $$
declare
  v_link uuid;
  v_busy uuid[];
  v_key record;
  v_outcome text;
begin
  loop
    v_busy := '{}';
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
    exit when v_outcome <> 'busy' or not p_wait;
    -- Every free-looking link is being claimed by someone else right now. Wait for the first
    -- of them holding no lock of our own (lock, then unlock at once), then look again.
    for v_key in select * from public.meeting_link_lock_keys(v_busy[1], p_slot) loop
      perform pg_advisory_lock(v_key.link_key, v_key.hour_key);
      perform pg_advisory_unlock(v_key.link_key, v_key.hour_key);
    end loop;
  end loop;
  return v_outcome;
end;
$$;
comment on function public.claim_meeting_link(uuid, tstzrange, boolean, uuid) is
  'Claims the best free link for a locked, paid booking: claimed, exhausted, or (p_wait = false) '
  'busy. Internal to assignment.';

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
  elsif public.claim_meeting_link(p_booking_id, v_booking.slot, p_wait => true) = 'claimed' then
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
  -- next sweep: a bulk pass never waits, so it cannot hold up the endpoint or an admin.
  for v_booking in
    select b.id, b.slot from public.bookings b
    where b.payment_status = 'paid' and b.meeting_link_id is null
      and b.ends_at > now()
      and (p_slot is null or b.slot && p_slot)
    order by b.starts_at, b.created_at
    for update skip locked
  loop
    if public.claim_meeting_link(v_booking.id, v_booking.slot, p_wait => false,
         p_only_link => p_only_link) = 'claimed' then
      v_assigned := v_assigned + 1;
    end if;
  end loop;
  return v_assigned;
end;
$$;
comment on function public.assign_waiting_meeting_links(tstzrange, uuid) is
  'Bulk pass behind self-healing: gives waiting paid bookings (optionally only those overlapping '
  'p_slot, only with link p_only_link) a link without ever waiting. Returns how many got one.';

create function public.assign_pending_meeting_links()
returns integer
language sql
security definer
set search_path = ''
as $$
  select public.assign_waiting_meeting_links();
$$;
comment on function public.assign_pending_meeting_links() is
  'For ops and the every-minute sweep: gives every paid, upcoming booking without a link one '
  'if the pool has it. Returns how many got a link.';

-- ---------------------------------------------------------------------------
-- Self-healing: a link that becomes usable, or a slot that is given back, serves the waiting
-- ---------------------------------------------------------------------------

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
  count(*) filter (where exists (
    select 1 from public.bookings b
    where b.meeting_link_id = l.id and b.payment_status = 'paid' and b.slot @> now()))
    as links_in_a_meeting_now,
  (select count(*) from public.bookings b
    where b.payment_status = 'paid' and b.meeting_link_id is null and b.ends_at > now())
    as upcoming_bookings_without_link
from public.meeting_links_pool l;
comment on view public.meeting_link_pool_status is
  'One row: how many links the pool has, how many can be assigned, how many are in a meeting now, '
  'and how many upcoming paid bookings are waiting for a link.';

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
  count(b.id) as paid_bookings,
  count(b.id) filter (where b.ends_at > now()) as upcoming_bookings,
  max(b.ends_at) as last_booking_ends_at
from public.meeting_links_pool l
left join public.bookings b on b.meeting_link_id = l.id and b.payment_status = 'paid'
group by l.id
order by l.created_at, l.meeting_link;
comment on view public.meeting_link_usage is
  'Per link: how many paid bookings hold it (all time and upcoming) and when it was last used.';

create view public.meeting_link_capacity with (security_invoker = true) as
with changes as (
  select b.starts_at as at, 1 as delta from public.bookings b where b.payment_status = 'paid'
  union all
  select b.ends_at, -1 from public.bookings b where b.payment_status = 'paid'
),
running as (
  -- Ends sort before starts at the same instant: back-to-back bookings never overlap.
  select at, sum(delta) over (order by at, delta rows unbounded preceding) as overlapping
  from changes
)
select
  (r.at at time zone 'Asia/Jakarta')::date as day_in_jakarta,
  max(r.overlapping) as peak_overlapping_paid_bookings,
  (select count(*) from public.meeting_links_pool l where l.is_available) as available_links
from running r
group by 1
order by 1;
comment on view public.meeting_link_capacity is
  'Per day (Asia/Jakarta): the most paid bookings overlapping at once, against the links that can '
  'be assigned. Peak above available_links means bookings of that day wait for a link.';

create function public.paid_bookings_sharing_a_link()
returns table (meeting_link_id uuid, booking_id uuid, order_id text, starts_at timestamptz,
  ends_at timestamptz, overlaps_until timestamptz)
language sql
stable
security definer
set search_path = ''
-- Reads the table itself, never an index: an index entry wrongly marked dead hides a row from
-- index scans and from the exclusion constraint alike (see the README).
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

-- ---------------------------------------------------------------------------
-- Access: anon and authenticated get nothing; functions run as their owner.
-- ---------------------------------------------------------------------------

-- Hosted Supabase's default privileges grant every new object in public to all three API roles:
-- take them all back, then grant service_role exactly what it needs.
revoke all on public.meeting_links_pool, public.bookings, public.meeting_link_pool_status,
  public.paid_bookings_without_link, public.meeting_link_usage, public.meeting_link_capacity
  from anon, authenticated, service_role, public;
grant select, insert, update, delete on public.meeting_links_pool, public.bookings to service_role;
grant select on public.meeting_link_pool_status, public.paid_bookings_without_link,
  public.meeting_link_usage, public.meeting_link_capacity to service_role;

revoke execute on all functions in schema public from anon, authenticated, service_role, public;
grant execute on function public.find_available_meeting_link(timestamptz, timestamptz),
  public.assign_meeting_link(uuid), public.assign_pending_meeting_links(),
  public.paid_bookings_sharing_a_link() to service_role;
