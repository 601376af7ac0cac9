// (7) What the double-booking guard costs: the throughput benchmark on the schema as it was
// before the guard, then as it is, on the same stack in one run. "Before" is rebuilt from the
// migrations themselves: the claim path's functions as the pool migration defined them, the
// guard triggers disabled and its btree index dropped; "after" is today's schema, put back from
// the catalog as it was before the benchmark began, and checked to be exactly that.
import type postgres from "postgres";
import { quick, type Sql } from "./support.ts";
import { throughput, type ThroughputResult } from "./throughput.ts";

const MIGRATIONS = new URL("../supabase/migrations/", import.meta.url);
const POOL = "20261125160000_meeting_link_pool.sql";
/** The claim path's functions, as each migration defines them. */
const CLAIM_PATH = [
  "meeting_link_candidates",
  "try_claim_meeting_link",
  "claim_meeting_link",
];
const GUARD_TRIGGERS = [
  "bookings_refuse_double_booking",
  "bookings_refuse_double_booking_on_update",
];

/** `create [or replace] function public.<name>(...) ... $$;` of a migration, as create or replace. */
function definitionOf(migration: string, name: string): string {
  const text = Deno.readTextFileSync(new URL(migration, MIGRATIONS));
  const match = new RegExp(
    `create (or replace )?function public\\.${name}\\([\\s\\S]*?\\n\\$\\$;`,
  ).exec(text);
  if (!match) throw new Error(`${migration} defines no function ${name}`);
  return match[0].replace(
    /^create (or replace )?function/,
    "create or replace function",
  );
}

/** Today's claim path as the catalog has it: what "after" puts back and checks. */
interface Schema {
  /** Each function of the claim path (every overload): its full definition and its grants. */
  functions: { signature: string; definition: string; grants: string[] }[];
  index: string;
  triggersEnabled: string[];
}

async function currentSchema(sql: Sql): Promise<Schema> {
  const functions = await sql<Schema["functions"]>`
    select p.oid::regprocedure::text as signature,
      pg_catalog.pg_get_functiondef(p.oid) as definition,
      coalesce(array(
        select format('grant execute on function %s to %s', p.oid::regprocedure,
          case when a.grantee = 0 then 'public' else quote_ident(r.rolname) end)
        from pg_catalog.aclexplode(coalesce(p.proacl, pg_catalog.acldefault('f', p.proowner))) a
        left join pg_catalog.pg_roles r on r.oid = a.grantee
        where a.privilege_type = 'EXECUTE' order by 1), '{}') as grants
    from pg_catalog.pg_proc p
    where p.pronamespace = 'public'::regnamespace and p.proname = any(${CLAIM_PATH})
    order by 1`;
  const [{ index }] = await sql<{ index: string }[]>`
    select pg_catalog.pg_get_indexdef('public.bookings_link_starts_at_idx'::regclass) as index`;
  const triggers = await sql<{ tgname: string }[]>`
    select tgname from pg_catalog.pg_trigger
    where tgrelid = 'public.bookings'::regclass and tgname = any(${GUARD_TRIGGERS})
      and tgenabled <> 'D'
    order by 1`;
  return {
    functions: [...functions],
    index,
    triggersEnabled: triggers.map((t) => t.tgname),
  };
}

/** Drops every overload of the claim path's functions. */
async function dropClaimPath(tx: postgres.TransactionSql): Promise<void> {
  const signatures = await tx<{ signature: string }[]>`
    select p.oid::regprocedure::text as signature from pg_catalog.pg_proc p
    where p.pronamespace = 'public'::regnamespace and p.proname = any(${CLAIM_PATH})`;
  for (const { signature } of signatures) {
    await tx.unsafe(`drop function ${signature}`);
  }
}

/** The schema as it was before the guard: the pool migration's claim path, no guard. */
async function useUnguarded(sql: Sql): Promise<void> {
  await sql.begin(async (tx) => {
    await dropClaimPath(tx);
    for (const name of CLAIM_PATH) await tx.unsafe(definitionOf(POOL, name));
    for (const trigger of GUARD_TRIGGERS) {
      await tx.unsafe(`alter table public.bookings disable trigger ${trigger}`);
    }
    await tx.unsafe("drop index public.bookings_link_starts_at_idx");
    // A created function is executable by PUBLIC; the migrations keep it internal.
    await tx.unsafe(
      `revoke execute on function public.try_claim_meeting_link(uuid, uuid, tstzrange) from public, anon, authenticated, service_role`,
    );
  });
}

/** Puts today's schema back, exactly: throws when the catalog then differs from `today`. */
async function restore(sql: Sql, today: Schema): Promise<void> {
  await sql.begin(async (tx) => {
    await dropClaimPath(tx);
    for (const f of today.functions) {
      await tx.unsafe(f.definition);
      await tx.unsafe(
        `revoke all on function ${f.signature} from public, anon, authenticated, service_role`,
      );
      for (const grant of f.grants) await tx.unsafe(grant);
    }
    for (const trigger of today.triggersEnabled) {
      await tx.unsafe(`alter table public.bookings enable trigger ${trigger}`);
    }
    await tx.unsafe(today.index);
  });
  const now = await currentSchema(sql);
  if (JSON.stringify(now) !== JSON.stringify(today)) {
    throw new Error(
      "guard: the schema put back differs from today's; every later benchmark would measure it",
    );
  }
}

export interface GuardCostResult {
  /** Throughput runs, alternating before and after the guard (one pair in --quick). */
  before: ThroughputResult[];
  after: ThroughputResult[];
  /** Median assignment p50 in ms over the runs of each side. */
  p50: {
    httpBefore: number;
    httpAfter: number;
    sqlBefore: number;
    sqlAfter: number;
  };
  /** after / before of those medians (lower is better; the bar is 1.10). */
  httpAssignP50: number;
  sqlAssignP50: number;
}

const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2
    ? sorted[middle]
    : (sorted[middle - 1] + sorted[middle]) / 2;
};

export async function guardCost(sql: Sql): Promise<GuardCostResult> {
  // Alternating, so a change of load on the machine falls on both sides alike.
  const before: ThroughputResult[] = [];
  const after: ThroughputResult[] = [];
  const today = await currentSchema(sql);
  for (let pair = 0; pair < (quick ? 1 : 3); pair++) {
    await useUnguarded(sql);
    try {
      before.push(await throughput(sql));
    } finally {
      await restore(sql, today);
    }
    after.push(await throughput(sql));
  }
  const p50 = (runs: ThroughputResult[], k: "httpAssign" | "sqlAssign") =>
    median(runs.map((r) => r[k].latencyMs.p50));
  const medians = {
    httpBefore: p50(before, "httpAssign"),
    httpAfter: p50(after, "httpAssign"),
    sqlBefore: p50(before, "sqlAssign"),
    sqlAfter: p50(after, "sqlAssign"),
  };
  return {
    before,
    after,
    p50: medians,
    httpAssignP50: Math.round(medians.httpAfter / medians.httpBefore * 100) /
      100,
    sqlAssignP50: Math.round(medians.sqlAfter / medians.sqlBefore * 100) / 100,
  };
}
