-- squawk-disable-assume-in-transaction
-- Bookings holding a link, by start: one range answers which links an hour has taken
-- (meeting_link_slot_is_full, next migration). Built concurrently: payments go on meanwhile.
-- "ends_at > starts_at" always holds (bookings_ends_after_it_starts), but no other query states
-- it, so the planner cannot prove this partial index for them: with a plain "meeting_link_id is
-- not null" predicate it preferred this index to bookings_link_starts_at_idx for the candidates'
-- per-link ranges (reading every link's bookings of three days for each link).
-- Alone in its file (docs/conventions.md): the CLI sends it outside a transaction. The build
-- blocks no writer; the timeout bounds its waits (a failed build: drop the invalid index, push again).
set lock_timeout = '5s';
create index concurrently if not exists bookings_linked_starts_at_idx
  on public.bookings (starts_at) include (meeting_link_id, ends_at)
  where meeting_link_id is not null and ends_at > starts_at;
