-- Hosted Supabase's default privileges grant every new table and sequence in public to anon,
-- authenticated and service_role; the notification log's migration revoked them from the table
-- only. Its identity sequence stays out of reach (setval would make every insert collide), and
-- the log is written only by record_midtrans_notification (security definer): service_role
-- reads it.
revoke all on sequence public.midtrans_notifications_id_seq from anon, authenticated, public;
revoke insert, update, delete, truncate, references, trigger on public.midtrans_notifications
  from service_role;
