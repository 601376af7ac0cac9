-- Who may do what, in one place. Hosted Supabase's default privileges grant every new table,
-- view, sequence and function in public to anon, authenticated and service_role (and functions
-- to PUBLIC): all of it is taken back, then granted exactly. Tables have RLS and no policy for
-- anon; service_role bypasses RLS; functions run as their owner where they are security definer.
-- supabase/tests/database/09-access-for-every-object.sql checks every object against this list,
-- and scripts/restore runs this file again after a restore (a dump replays grants, not revokes),
-- so it only revokes and grants.

revoke all on all tables in schema public from anon, authenticated, service_role, public;
revoke all on all sequences in schema public from anon, authenticated, service_role, public;
revoke all on all functions in schema public from anon, authenticated, service_role, public;

-- service_role: the edge functions and admins.
grant select, insert, update, delete on public.meeting_links_pool, public.bookings to service_role;
-- Written only by their functions.
grant select on public.midtrans_notifications, public.double_booking_checks, public.booking_emails,
  public.booking_whatsapp_messages, public.booking_message_settings to service_role;
-- Whoever writes bookings may offer the valid time zones (the foreign key needs no grant).
grant select on public.time_zone_names to service_role;
-- Holds, for admins (written only by hold_meeting_link and the guards).
grant select on public.meeting_link_holds to service_role;
grant select on public.meeting_link_pool_status, public.paid_bookings_without_link,
  public.meeting_link_usage, public.meeting_link_capacity, public.booking_emails_waiting,
  public.booking_emails_failed, public.booking_messages, public.booking_messages_failed
  to service_role;
-- What the endpoints, the sweep and admins call; every other function is internal.
grant execute on function public.assign_meeting_link(uuid),
  public.find_available_meeting_link(timestamptz, timestamptz),
  public.assign_pending_meeting_links(), public.paid_bookings_sharing_a_link(),
  public.live_holds_sharing_a_link(),
  public.record_midtrans_notification(jsonb, jsonb),
  public.claim_booking_emails(integer, interval, text),
  public.finish_booking_email(bigint, uuid, text, boolean), public.resend_booking_email(bigint),
  public.reschedule_booking(uuid, timestamptz, timestamptz),
  public.claim_whatsapp_messages(integer, interval),
  public.finish_whatsapp_message(bigint, uuid, text, text, boolean, boolean),
  public.record_whatsapp_statuses(jsonb), public.resend_whatsapp_message(bigint),
  public.hold_meeting_link(uuid, integer), public.meeting_link_availability(tstzrange[])
  to service_role;

-- authenticated: a customer who logs in reads their own bookings' slot, payment status and link
-- (with the RLS policies beside the tables, 10-pool-and-bookings.sql).
grant select (id, starts_at, ends_at, slot, payment_status, meeting_link_id)
  on public.bookings to authenticated;
grant select (id, meeting_link) on public.meeting_links_pool to authenticated;
