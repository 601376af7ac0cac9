-- Bookings holding a link, by start: one range answers which links an hour has taken
-- (meeting_link_slot_is_full, next migration). Built concurrently: payments go on meanwhile.
-- "ends_at > starts_at" always holds (bookings_ends_after_it_starts), but no other query states
-- it, so the planner cannot prove this partial index for them: with a plain "meeting_link_id is
-- not null" predicate it preferred this index to bookings_link_starts_at_idx for the candidates'
-- per-link ranges (reading every link's bookings of three days for each link).
-- No SET for the timeouts: it would make this file a transaction, where CONCURRENTLY cannot run;
-- the build blocks no writer.
-- squawk-ignore require-lock-timeout, require-statement-timeout
create index concurrently if not exists bookings_linked_starts_at_idx
  on public.bookings (starts_at) include (meeting_link_id, ends_at)
  where meeting_link_id is not null and ends_at > starts_at;
