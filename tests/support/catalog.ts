// What a database's schema is, read from its catalog as one line per object: tables, columns,
// constraints, indexes, views, functions (their whole definition: body, settings, security,
// volatility), triggers, policies, sequences, types, privileges (sorted), comments, default
// privileges and pg_cron jobs. Two databases built the same way give equal snapshots; objects of
// extensions and the CLI's migration history are left out.

import type { Sql } from "./db.ts";

/** key ("function public.f(integer)") -> its definition, one text per object. */
export type CatalogSnapshot = Map<string, string>;

const SNAPSHOT = `
with nsp as (
  select oid, nspname from pg_namespace
  where nspname not in ('pg_catalog', 'information_schema', 'pg_toast', 'supabase_migrations')
    and nspname !~ '^pg_(toast_)?temp_'
    and not exists (select 1 from pg_depend d where d.classid = 'pg_namespace'::regclass
                    and d.objid = pg_namespace.oid and d.deptype = 'e')
),
member as (
  select classid, objid from pg_depend where deptype = 'e'
)
select 'schema ' || n.nspname as key,
  concat_ws(' | ', pg_get_userbyid(s.nspowner),
    array(select x::text from unnest(s.nspacl) x order by 1)::text,
    obj_description(s.oid, 'pg_namespace')) as def
from nsp n join pg_namespace s on s.oid = n.oid
union all
select 'extension ' || e.extname, e.extnamespace::regnamespace::text
from pg_extension e
union all
select 'relation ' || n.nspname || '.' || c.relname,
  concat_ws(' | ', c.relkind, c.relpersistence, pg_get_userbyid(c.relowner),
    'rls=' || c.relrowsecurity, 'force=' || c.relforcerowsecurity, c.reloptions::text,
    array(select x::text from unnest(c.relacl) x order by 1)::text,
    case when c.relkind in ('v', 'm') and $1::boolean then pg_get_viewdef(c.oid) end,
    obj_description(c.oid, 'pg_class'))
from pg_class c join nsp n on n.oid = c.relnamespace
where c.relkind in ('r', 'p', 'v', 'm', 'S', 'f', 'c')
  and not exists (select 1 from member m where m.classid = 'pg_class'::regclass and m.objid = c.oid)
union all
select 'column ' || n.nspname || '.' || c.relname || '.' || a.attname,
  concat_ws(' | ',
    '#' || row_number() over (partition by c.oid order by a.attnum),
    format_type(a.atttypid, a.atttypmod), case when a.attnotnull then 'not null' end,
    'default ' || pg_get_expr(d.adbin, d.adrelid), nullif(a.attidentity, ''),
    nullif(a.attgenerated, ''),
    case when a.attcollation <> t.typcollation then a.attcollation::regcollation::text end,
    array(select x::text from unnest(a.attacl) x order by 1)::text,
    col_description(c.oid, a.attnum))
from pg_attribute a
join pg_class c on c.oid = a.attrelid
join nsp n on n.oid = c.relnamespace
join pg_type t on t.oid = a.atttypid
left join pg_attrdef d on d.adrelid = a.attrelid and d.adnum = a.attnum
where a.attnum > 0 and not a.attisdropped and c.relkind in ('r', 'p', 'v', 'm', 'f', 'c')
  and not exists (select 1 from member m where m.classid = 'pg_class'::regclass and m.objid = c.oid)
union all
select 'constraint ' || n.nspname || '.' || coalesce(c.relname, t.typname) || '.' || k.conname,
  concat_ws(' | ', pg_get_constraintdef(k.oid), 'valid=' || k.convalidated,
    'deferrable=' || k.condeferrable, 'deferred=' || k.condeferred,
    obj_description(k.oid, 'pg_constraint'))
from pg_constraint k
join nsp n on n.oid = k.connamespace
left join pg_class c on c.oid = k.conrelid
left join pg_type t on t.oid = k.contypid
union all
select 'index ' || n.nspname || '.' || c.relname,
  concat_ws(' | ', pg_get_indexdef(i.indexrelid), 'valid=' || i.indisvalid,
    obj_description(c.oid, 'pg_class'))
from pg_index i
join pg_class c on c.oid = i.indexrelid
join nsp n on n.oid = c.relnamespace
where not exists (select 1 from member m where m.classid = 'pg_class'::regclass and m.objid = i.indrelid)
union all
select 'function ' || p.oid::regprocedure::text,
  concat_ws(' | ', pg_get_userbyid(p.proowner),
    case when p.prokind in ('f', 'p', 'w') then pg_get_functiondef(p.oid)
         else p.prokind::text || ' ' || p.prosrc end,
    array(select x::text from unnest(p.proacl) x order by 1)::text,
    obj_description(p.oid, 'pg_proc'))
from pg_proc p join nsp n on n.oid = p.pronamespace
where not exists (select 1 from member m where m.classid = 'pg_proc'::regclass and m.objid = p.oid)
union all
select 'trigger ' || n.nspname || '.' || c.relname || '.' || g.tgname,
  concat_ws(' | ', pg_get_triggerdef(g.oid), 'enabled=' || g.tgenabled::text,
    obj_description(g.oid, 'pg_trigger'))
from pg_trigger g
join pg_class c on c.oid = g.tgrelid
join nsp n on n.oid = c.relnamespace
where not g.tgisinternal
union all
select 'policy ' || n.nspname || '.' || c.relname || '.' || p.polname,
  concat_ws(' | ', case when p.polpermissive then 'permissive' else 'restrictive' end,
    p.polcmd, array(select r::regrole::text from unnest(p.polroles) r order by 1)::text,
    'using ' || pg_get_expr(p.polqual, p.polrelid),
    'check ' || pg_get_expr(p.polwithcheck, p.polrelid),
    obj_description(p.oid, 'pg_policy'))
from pg_policy p
join pg_class c on c.oid = p.polrelid
join nsp n on n.oid = c.relnamespace
union all
select 'sequence ' || n.nspname || '.' || c.relname,
  concat_ws(' | ', format_type(s.seqtypid, null), s.seqstart, s.seqincrement, s.seqmin, s.seqmax,
    s.seqcache, s.seqcycle)
from pg_sequence s
join pg_class c on c.oid = s.seqrelid
join nsp n on n.oid = c.relnamespace
where not exists (select 1 from member m where m.classid = 'pg_class'::regclass and m.objid = c.oid)
union all
select 'type ' || n.nspname || '.' || t.typname,
  concat_ws(' | ', t.typtype, format_type(t.typbasetype, t.typtypmod),
    array(select e.enumlabel from pg_enum e where e.enumtypid = t.oid order by e.enumsortorder)::text,
    obj_description(t.oid, 'pg_type'))
from pg_type t join nsp n on n.oid = t.typnamespace
where t.typtype in ('e', 'd', 'r', 'm')
  and not exists (select 1 from member m where m.classid = 'pg_type'::regclass and m.objid = t.oid)
union all
select 'default privileges ' || pg_get_userbyid(d.defaclrole) || ' ' ||
    coalesce(d.defaclnamespace::regnamespace::text, '(all schemas)') || ' ' || d.defaclobjtype::text,
  array(select x::text from unnest(d.defaclacl) x order by 1)::text
from pg_default_acl d
`;

const CRON_JOBS = `
select 'cron job ' || jobname as key,
  concat_ws(' | ', schedule, command, username, 'active=' || active) as def
from cron.job
`;

/**
 * viewDefinitions: false leaves out the text of views, which a dump and restore re-deparses
 * (their columns, grants and comments still count).
 */
export async function catalogSnapshot(
  sql: Sql,
  { viewDefinitions = true } = {},
): Promise<CatalogSnapshot> {
  const rows = await sql.unsafe<{ key: string; def: string }[]>(SNAPSHOT, [
    viewDefinitions,
  ]);
  const [{ cron }] = await sql<{ cron: boolean }[]>`
    select exists (select 1 from pg_extension where extname = 'pg_cron') as cron`;
  if (cron) {
    rows.push(...await sql.unsafe<{ key: string; def: string }[]>(CRON_JOBS));
  }
  const snapshot: CatalogSnapshot = new Map();
  for (const { key, def } of rows) {
    if (snapshot.has(key)) throw new Error(`two catalog objects named ${key}`);
    snapshot.set(key, def);
  }
  return snapshot;
}

/**
 * Every difference between two snapshots, each naming its object and showing where the two
 * definitions part; empty when they agree. `same` decides equality (default: identical text).
 */
export function catalogDifferences(
  a: CatalogSnapshot,
  b: CatalogSnapshot,
  names: [string, string],
  same: (left: string, right: string) => boolean = (l, r) => l === r,
): string[] {
  const differences: string[] = [];
  for (const key of [...new Set([...a.keys(), ...b.keys()])].sort()) {
    const [left, right] = [a.get(key), b.get(key)];
    if (left !== undefined && right !== undefined && same(left, right)) {
      continue;
    }
    if (right === undefined) differences.push(`${key}: only in ${names[0]}`);
    else if (left === undefined) {
      differences.push(`${key}: only in ${names[1]}`);
    } else {
      let at = 0;
      while (at < left.length && left[at] === right[at]) at++;
      const around = (text: string) =>
        (at > 60 ? "..." : "") + text.slice(Math.max(0, at - 60), at + 120) +
        (text.length > at + 120 ? "..." : "");
      differences.push(
        `${key} differs\n  ${names[0]}: ${around(left)}\n  ${names[1]}: ${
          around(right)
        }`,
      );
    }
  }
  return differences;
}
