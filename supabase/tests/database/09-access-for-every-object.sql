-- Every table, view, sequence and function of this system, enumerated from the catalog (so a
-- new object is covered without editing this file): anon can use none of them, authenticated
-- only reads its own bookings' slot, payment status and link, and service_role can do exactly
-- what the functions need.
begin;
create extension if not exists pgtap with schema extensions;
set local search_path = public, extensions;

-- This system's objects: everything in schema public that no extension installed.
create temp view system_relations as
select c.oid, c.relkind,
  format('%s %I', case c.relkind when 'r' then 'table' when 'p' then 'table' when 'v' then 'view'
    when 'm' then 'materialized view' when 'S' then 'sequence' when 'f' then 'foreign table' end,
    c.relname) as name
from pg_class c
where c.relnamespace = 'public'::regnamespace and c.relkind in ('r', 'p', 'v', 'm', 'S', 'f')
  and not exists (select 1 from pg_depend d
                  where d.classid = 'pg_class'::regclass and d.objid = c.oid and d.deptype = 'e');
create temp view system_functions as
select p.oid, p.oid::regprocedure::text as name, p.prosecdef as security_definer
from pg_proc p
where p.pronamespace = 'public'::regnamespace
  and not exists (select 1 from pg_depend d
                  where d.classid = 'pg_proc'::regclass and d.objid = p.oid and d.deptype = 'e');
grant select on system_relations, system_functions to anon, authenticated, service_role;

-- As the current role: every object it could reach (an error other than "permission denied"
-- means the privilege check let it through).
create function pg_temp.reachable() returns setof text language plpgsql as $$
declare
  v record;
begin
  for v in select * from system_relations loop
    begin
      if v.relkind = 'S' then
        execute format('select last_value from %s', v.oid::regclass);
      else
        execute format('select from %s limit 1', v.oid::regclass);
      end if;
      return next 'read ' || v.name;
    exception when insufficient_privilege then null;
    end;
    if v.relkind in ('r', 'p') then
      begin
        execute format('delete from %s', v.oid::regclass);
        return next 'delete from ' || v.name;
      exception when insufficient_privilege then null;
      end;
    end if;
  end loop;
  for v in select f.name, p.pronargs, p.oid from system_functions f join pg_proc p on p.oid = f.oid loop
    begin
      execute format('select %s(%s)', v.oid::regproc,
        (select string_agg('null', ', ') from generate_series(1, v.pronargs)));
      return next 'execute ' || v.name;
    exception
      when insufficient_privilege then null;
      when others then return next 'execute ' || v.name || ' (' || sqlerrm || ')';
    end;
  end loop;
end;
$$;
grant execute on function pg_temp.reachable() to anon, authenticated;

select plan(
  2                                                             -- the catalog lists objects
  + 2 * (select count(*)::int from system_relations) - 2        -- per role and relation
  + 4                                                           -- a customer's columns
  + 2 * (select count(*)::int from system_functions)            -- per role and function
  + 2                                                           -- trying, per role
  + 16 + 1                                                      -- service_role's functions
  + (select count(*)::int from system_relations where relkind = 'v')  -- its views
  + 4 + 4                                                       -- its notification log
  + 2                                                           -- the WhatsApp outbox, the settings
  + 1                                                           -- its time zone names
);

select cmp_ok((select count(*)::int from system_relations), '>=', 8,
  'the catalog lists this system''s tables, views and sequences');
select cmp_ok((select count(*)::int from system_functions), '>=', 10,
  'the catalog lists this system''s functions');

-- The catalog's answer, one assertion per role and object.
select ok(not (
    case when s.relkind = 'S' then has_sequence_privilege(r.role, s.oid, 'USAGE, SELECT, UPDATE')
    else has_table_privilege(r.role, s.oid, 'SELECT, INSERT, UPDATE, DELETE, TRUNCATE, REFERENCES, TRIGGER')
      or has_any_column_privilege(r.role, s.oid, 'SELECT, INSERT, UPDATE, REFERENCES') end),
  format('%s has no privilege on %s', r.role, s.name))
from (values ('anon'), ('authenticated')) as r(role), system_relations s
where (r.role, s.name) not in (('authenticated', 'table bookings'),
  ('authenticated', 'table meeting_links_pool'))
order by r.role, s.name;

-- A signed-in customer: SELECT on exactly these columns (RLS limits the rows), nothing else.
create temp view authenticated_columns as
select a.attrelid::regclass::text as relation, a.attname::text as column_name,
  has_column_privilege('authenticated', a.attrelid, a.attnum, 'SELECT') as can_select,
  has_column_privilege('authenticated', a.attrelid, a.attnum, 'INSERT, UPDATE, REFERENCES') as can_write
from pg_attribute a
where a.attrelid in ('public.bookings'::regclass, 'public.meeting_links_pool'::regclass)
  and a.attnum > 0 and not a.attisdropped;
select is(array(select column_name from authenticated_columns
    where relation = 'bookings' and can_select order by column_name),
  array['ends_at', 'id', 'meeting_link_id', 'payment_status', 'slot', 'starts_at']::text[],
  'authenticated may select only a booking''s id, slot, payment status and link id');
select is(array(select column_name from authenticated_columns
    where relation = 'meeting_links_pool' and can_select order by column_name),
  array['id', 'meeting_link']::text[], 'authenticated may select only a link''s id and URL');
select is_empty($$select * from authenticated_columns where can_write$$,
  'authenticated may write no column');
select ok(bool_and(not has_table_privilege('authenticated', s.oid,
    'SELECT, INSERT, UPDATE, DELETE, TRUNCATE, REFERENCES, TRIGGER')),
  'authenticated has no table-wide privilege on bookings or the pool')
from system_relations s where s.name in ('table bookings', 'table meeting_links_pool');
select ok(not has_function_privilege(r.role, f.oid, 'EXECUTE'),
  format('%s cannot execute %s', r.role, f.name))
from (values ('anon'), ('authenticated')) as r(role), system_functions f
order by r.role, f.name;

-- And trying: read, delete and execute everything.
set local role anon;
select is_empty($$select * from pg_temp.reachable()$$, 'anon reaches no object by trying');
reset role;
set local role authenticated;
set local request.jwt.claims = '{"sub": "00000000-0000-0000-0000-000000000001", "role": "authenticated"}';
select results_eq($$select * from pg_temp.reachable() order by 1$$,
  $$values ('read table bookings'), ('read table meeting_links_pool')$$,
  'a signed-in user reaches nothing by trying but reading bookings and links (their own rows: see 31-)');
reset role;

-- service_role: what the functions call, the health check, and reading the views, the
-- notification log and the holds.
select ok(has_function_privilege('service_role', f, 'EXECUTE'), format('service_role can execute %s', f))
from unnest(array['public.assign_meeting_link(uuid)', 'public.assign_pending_meeting_links()',
  'public.find_available_meeting_link(timestamptz, timestamptz)',
  'public.record_midtrans_notification(jsonb, jsonb)',
  'public.paid_bookings_sharing_a_link()',
  'public.live_holds_sharing_a_link()',
  'public.claim_booking_emails(integer, interval, text)',
  'public.finish_booking_email(bigint, uuid, text, boolean)',
  'public.resend_booking_email(bigint)',
  'public.reschedule_booking(uuid, timestamptz, timestamptz)',
  'public.claim_whatsapp_messages(integer, interval)',
  'public.finish_whatsapp_message(bigint, uuid, text, text, boolean, boolean)',
  'public.record_whatsapp_statuses(jsonb)',
  'public.resend_whatsapp_message(bigint)',
  'public.hold_meeting_link(uuid, integer)',
  'public.meeting_link_availability(tstzrange[])']::regprocedure[]) as f;
select is(
  (select array_agg(f.name order by f.name) from system_functions f
   join pg_proc p on p.oid = f.oid
   where f.security_definer and p.prorettype <> 'trigger'::regtype
     and has_function_privilege('service_role', f.oid, 'EXECUTE')),
  array['assign_meeting_link(uuid)', 'assign_pending_meeting_links()',
    'claim_booking_emails(integer,interval,text)', 'claim_whatsapp_messages(integer,interval)',
    'find_available_meeting_link(timestamp with time zone,timestamp with time zone)',
    'finish_booking_email(bigint,uuid,text,boolean)',
    'finish_whatsapp_message(bigint,uuid,text,text,boolean,boolean)',
    'hold_meeting_link(uuid,integer)', 'live_holds_sharing_a_link()',
    'meeting_link_availability(tstzrange[])',
    'paid_bookings_sharing_a_link()', 'record_midtrans_notification(jsonb,jsonb)',
    'record_whatsapp_statuses(jsonb)',
    'reschedule_booking(uuid,timestamp with time zone,timestamp with time zone)',
    'resend_booking_email(bigint)', 'resend_whatsapp_message(bigint)'],
  'the only security definer functions service_role can call are these sixteen (trigger functions run only as triggers)');
select ok(has_table_privilege('service_role', s.oid, 'SELECT'), format('service_role can read %s', s.name))
from system_relations s where s.relkind = 'v' order by s.name;
select ok(has_table_privilege('service_role', 'public.midtrans_notifications', 'SELECT'),
  'service_role can read the notification log');
select ok(not has_table_privilege('service_role', 'public.midtrans_notifications', p),
  format('service_role cannot %s the notification log', lower(p)))
from unnest(array['INSERT', 'UPDATE', 'DELETE']) as p;
select ok(has_table_privilege('service_role', t, 'SELECT')
    and not has_table_privilege('service_role', t, 'INSERT, UPDATE, DELETE, TRUNCATE'),
  format('service_role reads %s and writes it only through functions', t))
from unnest(array['public.booking_whatsapp_messages', 'public.booking_message_settings']::regclass[]) as t;

set local role service_role;
select lives_ok($$select r.* from (select '{"order_id": "no-such-order", "transaction_id": "t-09",
  "transaction_status": "settlement", "status_code": "200", "gross_amount": "1.00"}'::jsonb as n) as confirmed,
  lateral record_midtrans_notification(confirmed.n, confirmed.n) as r$$,
  'service_role records a notification through the function');
select throws_ok($$insert into midtrans_notifications (order_id, transaction_id, transaction_status,
  status_code, gross_amount, payload, outcome) values ('x', 'x', 'x', '200', '1', '{}', 'ignored')$$,
  '42501', null, 'but cannot write the log directly');
select throws_ok($$update midtrans_notifications set deliveries = 0$$, '42501', null,
  'nor rewrite it');
select throws_ok($$delete from midtrans_notifications$$, '42501', null, 'nor erase it');
reset role;
select ok(has_table_privilege('service_role', 'public.time_zone_names', 'SELECT')
    and not has_table_privilege('service_role', 'public.time_zone_names', 'INSERT, UPDATE, DELETE, TRUNCATE'),
  'service_role reads the time zone names (to offer them) and cannot change them');

select * from finish();
rollback;
