-- Validating the foreign key of the previous migration in its own transaction: the scan of
-- bookings holds only a share update exclusive lock, which lets payments go on.
set lock_timeout = '1s';
alter table public.bookings validate constraint bookings_customer_time_zone_is_known;
