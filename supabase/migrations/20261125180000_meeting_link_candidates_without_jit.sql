-- The candidate query runs in about 2 ms, but once bookings number in the 100,000s its
-- estimated cost crosses PostgreSQL's JIT thresholds (the max_uses count is costed over every
-- paid booking of each link, and a pool of fewer than 50 links is never auto-analyzed, so the
-- planner guesses far more links): JIT compilation then adds 50-650 ms to every assignment
-- (bench/run, scaling). Planned without JIT, one assignment costs the same at 1,000 and
-- 1,000,000 bookings.
alter function public.meeting_link_candidates(tstzrange, uuid) set jit = off;
