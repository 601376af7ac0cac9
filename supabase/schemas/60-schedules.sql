-- The every-minute jobs (pg_cron). scripts/restore runs this file again after a restore, which
-- brings no cron.job rows back: cron.schedule replaces a job of the same name.

-- The safety net behind the webhook's non-blocking assignment: waiting paid bookings get a link,
-- or the flag needs_manual_link.
select cron.schedule('assign-pending-meeting-links', '* * * * *',
  'select public.assign_pending_meeting_links()');

-- The health check: double bookings, and paid bookings the GiST index lost.
select cron.schedule('check-double-booking', '* * * * *', 'select public.check_double_booking()');

-- The outbox's safety net on hosted Supabase: pg_cron asks send-booking-emails to drain it,
-- through pg_net, with the project URL and a service-role (or sb_secret_) key kept in Vault
-- (Supabase's documented pattern for scheduling edge functions). Create the secrets once:
--   select vault.create_secret('https://<project-ref>.supabase.co', 'project_url');
--   select vault.create_secret('<service-role or sb_secret_ key>', 'booking_emails_key');
-- Where pg_net is not available (the local stack), nothing is scheduled here:
-- scripts/email_schedule.ts makes the same call on the same schedule.
do $schedule$
begin
  if not exists (select 1 from pg_catalog.pg_available_extensions where name = 'pg_net') then
    raise notice 'pg_net is not available: send-booking-emails is not scheduled by pg_cron here';
    return;
  end if;
  create extension if not exists pg_net with schema extensions;
  perform cron.schedule('send-booking-emails', '* * * * *', $job$
    select net.http_post(
      url := (select decrypted_secret from vault.decrypted_secrets where name = 'project_url')
        || '/functions/v1/send-booking-emails',
      headers := jsonb_build_object(
        'Content-Type', 'application/json',
        'Authorization', 'Bearer ' || (select decrypted_secret from vault.decrypted_secrets
          where name = 'booking_emails_key')),
      body := '{}'::jsonb,
      timeout_milliseconds := 60000)
  $job$);
end
$schedule$;
