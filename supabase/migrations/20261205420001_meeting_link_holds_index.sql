-- squawk-disable-assume-in-transaction
-- The guard and the readers probe holds by link and start, like bookings_link_starts_at_idx.
-- Built concurrently, alone in its file (docs/conventions.md); the table is new and nearly empty.
set lock_timeout = '5s';
create index concurrently if not exists meeting_link_holds_link_starts_at_idx
  on public.meeting_link_holds (meeting_link_id, starts_at);
