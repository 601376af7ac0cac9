-- meeting_link_capacity compared each day's peak with every available link, including links that
-- have served their max_uses and are never assigned again: with link rotation by max_uses, an
-- admin saw capacity that did not exist. available_links now counts only links a claim could take.

create or replace view public.meeting_link_capacity with (security_invoker = true) as
with days as (
  -- Each paid booking once per Jakarta day it overlaps, clipped to that day: a 22:00-02:00
  -- booking counts on both days, a 24 h booking on the two days it touches.
  select greatest(b.starts_at, d.starts) as starts_at, least(b.ends_at, d.ends) as ends_at,
    d.day_in_jakarta
  from public.bookings b
  cross join lateral (
    select day::date as day_in_jakarta, day at time zone 'Asia/Jakarta' as starts,
      (day + interval '1 day') at time zone 'Asia/Jakarta' as ends
    from generate_series(date_trunc('day', b.starts_at at time zone 'Asia/Jakarta'),
      date_trunc('day', b.ends_at at time zone 'Asia/Jakarta'), interval '1 day') as day
  ) d
  where b.payment_status = 'paid' and b.ends_at > d.starts
),
changes as (
  select day_in_jakarta, starts_at as at, 1 as delta from days
  union all
  select day_in_jakarta, ends_at, -1 from days
),
running as (
  -- Ends sort before starts at the same instant: back-to-back bookings never overlap.
  select day_in_jakarta,
    sum(delta) over (partition by day_in_jakarta order by at, delta rows unbounded preceding)
      as overlapping
  from changes
)
select
  r.day_in_jakarta,
  max(r.overlapping) as peak_overlapping_paid_bookings,
  -- A link at its max_uses is never assigned again (counted once, not per link: no rescan).
  (select count(*) from public.meeting_links_pool l
    left join (select b.meeting_link_id, count(*) as uses from public.bookings b
               where b.meeting_link_id is not null group by b.meeting_link_id) u
      on u.meeting_link_id = l.id
    where l.is_available and (l.max_uses is null or coalesce(u.uses, 0) < l.max_uses))
    as available_links
from running r
group by 1
order by 1;
comment on view public.meeting_link_capacity is
  'Per day (Asia/Jakarta): the most paid bookings overlapping at once on that day, counting every '
  'booking on each day it overlaps (one running past midnight counts on both days), against the '
  'links that can be assigned (available, and below their max_uses). Peak above available_links '
  'means bookings of that day wait for a link.';
