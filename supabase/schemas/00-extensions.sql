-- The current schema, one file per concern. The Supabase CLI reads supabase/schemas/*.sql in
-- lexical order (config.toml leaves [db.migrations] schema_paths empty), hence the numbers: a
-- file only uses what an earlier one defines. supabase/migrations/ is the released history that
-- deploys reach this state by; tests/db/schema_files_match_the_migrations.test.ts proves the two
-- agree. docs/conventions.md says how a change is made.

-- Ranges and uuids in one exclusion constraint (bookings_paid_slots_never_share_a_link).
create extension if not exists btree_gist with schema extensions;

-- The every-minute schedules (60-schedules.sql). Hosted Supabase offers it; locally it is
-- preloaded (scripts/lib.sh).
create extension if not exists pg_cron with schema pg_catalog;
