-- The customer's time zone: the same names are accepted and refused as by the CHECK it replaced
-- (is_iana_time_zone: the regex below and pg_timezone_names), now through the foreign key to
-- time_zone_names; and the admin's refresh after a tzdata update.
begin;
create extension if not exists pgtap with schema extensions;
set local search_path = public, extensions;
select plan(9);

-- Whether a booking may take the zone (one savepoint per try).
create function pg_temp.zone_accepted(p_zone text) returns boolean language plpgsql as $$
begin
  insert into public.bookings (order_id, starts_at, ends_at, amount, customer_time_zone)
  values ('tz-' || md5(p_zone), '2030-01-01 10:00Z', '2030-01-01 11:00Z', 1, p_zone);
  return true;
exception when foreign_key_violation then
  return false;
end;
$$;

-- What the replaced CHECK answered, on 17 and on 15 (names whose answer differs between the
-- two servers' tzdata, such as Asia/Calcutta, are covered by the catalog comparison below).
select is(array(select z from unnest(array['Asia/Jakarta', 'Asia/Makassar', 'Asia/Jayapura', 'UTC',
    'Etc/UTC', 'Etc/GMT+7', 'Etc/GMT-14', 'Etc/GMT0', 'Etc/Zulu', 'Europe/London',
    'America/Argentina/Buenos_Aires', 'America/North_Dakota/New_Salem', 'Asia/Ho_Chi_Minh',
    'Australia/Sydney']) as z where not pg_temp.zone_accepted(z)), '{}'::text[],
  'IANA Area/Location names and UTC are accepted');
select is(array(select z from unnest(array['WIB', 'asia/jakarta', 'Factory', ' UTC', 'UTC ',
    'GMT', 'Asia/Atlantis', 'Etc/GMT+15', 'Asia/Jakarta/Extra', 'posixrules', 'localtime', 'Zulu',
    'UCT', 'Universal', 'GMT+0', 'UTC+7', '+07:00', 'Z', 'Asia', '']) as z
    where pg_temp.zone_accepted(z)), '{}'::text[],
  'abbreviations, other cases, spaces, POSIX names, unknown zones and offsets are refused');
select throws_ok($$insert into bookings (order_id, starts_at, ends_at, amount, customer_time_zone)
  values ('tz-wib', '2030-01-01 10:00Z', '2030-01-01 11:00Z', 1, 'WIB')$$,
  '23503', 'insert or update on table "bookings" violates foreign key constraint "bookings_customer_time_zone_is_known"',
  'a refused zone names the constraint');

-- Every name of this server's catalog: the table holds exactly those the CHECK accepted.
select set_eq($$select name from time_zone_names$$,
  $$select name from pg_timezone_names
    where name ~ '^((Africa|America|Antarctica|Arctic|Asia|Atlantic|Australia|Europe|Indian|Pacific|Etc)/[A-Za-z0-9_+-]+(/[A-Za-z0-9_+-]+)?|UTC)$'$$,
  'time_zone_names holds exactly the catalog''s names the replaced CHECK accepted');

-- A booking keeps its zone through updates of other columns, and may change it to a known one.
update bookings set customer_time_zone = 'Asia/Makassar', amount = 2 where order_id = 'tz-' || md5('Asia/Jakarta');
select is((select customer_time_zone from bookings where order_id = 'tz-' || md5('Asia/Jakarta')), 'Asia/Makassar',
  'a booking changes to another known zone');
select throws_ok($$update bookings set customer_time_zone = 'WITA' where order_id = 'tz-' || md5('Asia/Jakarta')$$,
  '23503', null, 'but not to an unknown one');

-- The refresh after a tzdata update: new names added, vanished ones removed unless held.
delete from time_zone_names where name = 'Asia/Pontianak';
insert into time_zone_names values ('Asia/Atlantis'), ('Asia/Lemuria');
insert into bookings (order_id, starts_at, ends_at, amount, customer_time_zone)
values ('tz-lemuria', '2030-01-01 10:00Z', '2030-01-01 11:00Z', 1, 'Asia/Lemuria');
select results_eq($$select name, change from refresh_time_zone_names() order by change, name$$,
  $$values ('Asia/Pontianak', 'added'), ('Asia/Atlantis', 'removed'),
    ('Asia/Lemuria', 'unknown to the server, kept: bookings hold it')$$,
  'the refresh adds new names, removes vanished ones, keeps (and names) those bookings hold');
select is_empty($$select * from refresh_time_zone_names() where name <> 'Asia/Lemuria'$$,
  'a second refresh changes nothing');
select ok(not has_function_privilege('service_role', 'refresh_time_zone_names()', 'EXECUTE'),
  'only an admin refreshes the names');

select * from finish();
rollback;
