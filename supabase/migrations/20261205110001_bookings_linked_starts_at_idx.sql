-- Bookings holding a link, by start: one range answers which links an hour has taken
-- (meeting_link_slot_is_full, next migration). Built concurrently: payments go on meanwhile.
create index concurrently if not exists bookings_linked_starts_at_idx
  on public.bookings (starts_at) include (meeting_link_id, ends_at) where meeting_link_id is not null;
