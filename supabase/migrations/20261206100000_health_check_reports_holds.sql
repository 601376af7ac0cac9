-- The every-minute health check reports live holds sharing a link, as it reports paid bookings
-- sharing one: the second, independent check behind the guard triggers (which refuse a hold over
-- a paid booking and a paid booking over a live hold) and meeting_link_holds_never_share_a_link.
-- live_holds_sharing_a_link() reads bookings and meeting_link_holds without any index;
-- check_double_booking() records its count in double_booking_checks.holds_sharing_a_link, its
-- rows in details, and logs a WARNING naming them. Its result gains a column, so it is dropped
-- and created again (the pg_cron job calls it by name and needs no change).

-- The strongest lock first: ACCESS EXCLUSIVE on double_booking_checks, a small table only the
-- health check writes (a constant default rewrites nothing). No lock on bookings.
set lock_timeout = '1s';
set statement_timeout = '10s';

-- bigint, as squawk (prefer-bigint-over-int) asks of a new column; the older counts are integer.
alter table public.double_booking_checks
  add column holds_sharing_a_link bigint not null default 0;
comment on table public.double_booking_checks is
  'Every run of check_double_booking() (every minute by pg_cron; kept 7 days): paid bookings '
  'sharing a link, upcoming paid bookings the exclusion constraint''s index no longer returns, and '
  'live holds sharing a link. All are always 0 on a healthy database; see docs/operations.md.';
comment on column public.double_booking_checks.holds_sharing_a_link is
  'Live holds whose link a paid booking (not the hold''s own) or another live hold has for an '
  'overlapping slot, from live_holds_sharing_a_link() (0 in runs before it was checked).';

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

drop function public.check_double_booking();

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

-- ---------------------------------------------------------------------------
-- Access: as before for check_double_booking() (pg_cron runs it as its owner); the new check is
-- service_role's, as paid_bookings_sharing_a_link() is.
-- ---------------------------------------------------------------------------

revoke execute on function public.check_double_booking(), public.live_holds_sharing_a_link()
  from anon, authenticated, service_role, public;
grant execute on function public.live_holds_sharing_a_link() to service_role;
