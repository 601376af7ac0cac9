-- The customer's time zone, checked by a foreign key to a table of the names instead of a CHECK
-- that read pg_timezone_names (which parses every zone file: 6-20 ms) on every write of a
-- booking. A foreign key probes one index, and only when customer_time_zone is set or changed.
-- The names accepted are the same: today's rule, evaluated once per name here.

-- Every lock below is taken with a bounded wait: a queued ACCESS EXCLUSIVE would stall payments.
set lock_timeout = '1s';

create table public.time_zone_names (
  name text constraint time_zone_names_pkey primary key
);
alter table public.time_zone_names enable row level security;
comment on table public.time_zone_names is
  'The names bookings.customer_time_zone may take: the IANA Area/Location names (and UTC) of this '
  'server''s pg_timezone_names, not abbreviations (WIB) nor POSIX rules. After a tzdata or '
  'PostgreSQL update: select * from public.refresh_time_zone_names().';

create function public.refresh_time_zone_names()
returns table (name text, change text)
language plpgsql
set search_path = ''
as $$
declare
  v_current text[];
begin
  -- Area/Location names (and UTC) that both PostgreSQL and the functions' Intl know; not
  -- abbreviations (WIB) nor POSIX rules, whose meaning differs between systems.
  v_current := array(select z.name from pg_catalog.pg_timezone_names z
    where z.name ~ '^((Africa|America|Antarctica|Arctic|Asia|Atlantic|Australia|Europe|Indian|Pacific|Etc)/[A-Za-z0-9_+-]+(/[A-Za-z0-9_+-]+)?|UTC)$');

  return query
    insert into public.time_zone_names as t (name)
    select c.name from unnest(v_current) as c(name)
    on conflict on constraint time_zone_names_pkey do nothing
    returning t.name, 'added'::text;
  -- A name the server no longer knows stays while a booking holds it (its emails still render).
  return query
    delete from public.time_zone_names t
    where t.name <> all (v_current)
      and not exists (select 1 from public.bookings b where b.customer_time_zone = t.name)
    returning t.name, 'removed'::text;
  return query
    select t.name, 'unknown to the server, kept: bookings hold it'::text
    from public.time_zone_names t
    where t.name <> all (v_current);
end;
$$;
comment on function public.refresh_time_zone_names() is
  'Admin, after a tzdata or PostgreSQL update: makes time_zone_names match the server''s IANA '
  'names. Returns each name added or removed, and each unknown one kept because bookings hold it.';

revoke all on public.time_zone_names from anon, authenticated, service_role, public;
-- Whoever writes bookings may offer the valid names (the foreign key needs no grant).
grant select on public.time_zone_names to service_role;
revoke execute on function public.refresh_time_zone_names() from anon, authenticated, service_role, public;

select count(*) from public.refresh_time_zone_names();

-- One statement, so bookings is locked once at the strongest level it needs (ACCESS EXCLUSIVE, for
-- the drop): taking the foreign key's weaker lock first and then upgrading deadlocked with
-- payments in the rehearsal (bench/run --only migrations).
alter table public.bookings
  drop constraint bookings_customer_time_zone_is_iana,
  add constraint bookings_customer_time_zone_is_known foreign key (customer_time_zone)
    references public.time_zone_names (name) not valid;
drop function public.is_iana_time_zone(text);
comment on constraint bookings_customer_time_zone_is_known on public.bookings is
  'customer_time_zone is an IANA name this server knows (public.time_zone_names); refused: 23503.';
