-- Every function a CHECK constraint in public calls is IMMUTABLE and reads no table, found from
-- the catalog (a new constraint is covered without editing this file). A CHECK runs on every
-- insert and update of its row, and Postgres assumes it is immutable (pg_dump, restore, the
-- planner): a CHECK that read pg_timezone_names once made every payment 7-20x slower.
--
-- How: the stored expression trees (pg_constraint.conbin, pg_proc.prosqlbody) name every function,
-- operator and relation they use. Only SQL-standard bodies (`begin atomic`) are stored as trees,
-- so a function of this schema called from a CHECK must have one (`return ...`), and its tree (and those of the
-- functions it calls) must name no relation. A body in a string (plpgsql, `as $$ ... $$`) is
-- opaque to the catalog and refused. Built-in functions are trusted when IMMUTABLE.
begin;
create extension if not exists pgtap with schema extensions;
set local search_path = public, extensions;
select plan(6);

create temp view check_constraints as
select c.oid, format('%s %s', coalesce(c.conrelid::regclass::text, c.contypid::regtype::text),
  c.conname) as name
from pg_constraint c
where c.connamespace = 'public'::regnamespace and c.contype = 'c';

-- What an expression tree calls and reads, from its stored form (pg_depend omits built-ins):
-- functions (FuncExpr, aggregates, window functions), operators' functions, and relations.
create function pg_temp.called_functions(p_tree pg_node_tree) returns setof oid language sql as $$
  select m[2]::oid from regexp_matches(p_tree::text, ':(funcid|aggfnoid|winfnoid) (\d+)', 'g') as m
  union
  select o.oprcode::oid from regexp_matches(p_tree::text, ':opno (\d+)', 'g') as m
  join pg_operator o on o.oid = m[1]::oid
$$;
create function pg_temp.read_relations(p_tree pg_node_tree) returns setof oid language sql as $$
  select distinct m[1]::oid from regexp_matches(p_tree::text, ':relid (\d+)', 'g') as m where m[1] <> '0'
$$;

-- Every function a CHECK reaches, through SQL-standard bodies that call further functions.
create temp view check_functions as
with recursive reached(constraint_name, fn) as (
  select k.name, f.fn
  from check_constraints k join pg_constraint c on c.oid = k.oid
  cross join lateral pg_temp.called_functions(c.conbin) as f(fn)
  union
  select r.constraint_name, f.fn
  from reached r join pg_proc p on p.oid = r.fn
  cross join lateral pg_temp.called_functions(p.prosqlbody) as f(fn)
)
select r.constraint_name, p.oid, p.oid::regprocedure::text as function_name, p.provolatile,
  p.pronamespace = 'pg_catalog'::regnamespace as built_in,
  p.prolang = (select oid from pg_language where lanname = 'sql') and p.prosqlbody is not null
    as sql_standard_body,
  p.prosqlbody
from reached r join pg_proc p on p.oid = r.fn;

select cmp_ok((select count(*)::int from check_constraints), '>=', 10,
  'the catalog lists the CHECK constraints of public');
select ok(exists (select 1 from check_functions where function_name = 'char_length(text)'),
  'the walk finds the functions a CHECK calls (char_length in bookings_customer_name_is_one_line)');
select is_empty($$select constraint_name || ': ' || function_name || ' is '
    || case provolatile when 's' then 'STABLE' else 'VOLATILE' end
  from check_functions where provolatile <> 'i'$$,
  'every function a CHECK calls is IMMUTABLE');
select is_empty($$select constraint_name || ': ' || function_name
    || ' has a body the catalog cannot see into (language sql with begin atomic or return)'
  from check_functions where not built_in and not sql_standard_body$$,
  'every function of this schema a CHECK calls has a SQL-standard body');
select is_empty($$select f.constraint_name || ': ' || f.function_name || ' reads ' || r.oid::regclass::text
  from check_functions f cross join lateral pg_temp.read_relations(f.prosqlbody) as r(oid)$$,
  'no function a CHECK calls reads a table or view');

-- The walk sees through a function into the catalog view it reads (the bug this file guards).
create function public.probe_zone_is_known(p_zone text) returns boolean language sql immutable
  return exists (select 1 from pg_catalog.pg_timezone_names where name = p_zone);
create table public.probe_zones (zone text check (public.probe_zone_is_known(zone)));
select results_eq($$select f.function_name, r.oid::regclass::text
    from check_functions f cross join lateral pg_temp.read_relations(f.prosqlbody) as r(oid)$$,
  $$values ('probe_zone_is_known(text)', 'pg_timezone_names')$$,
  'a CHECK function reading pg_timezone_names is found (probe)');
drop table public.probe_zones;
drop function public.probe_zone_is_known(text);

select * from finish();
rollback;
