// (7) What the double-booking guard costs: the throughput benchmark on the schema as it was
// before the guard, then as it is, on the same stack in one run. "Before" is rebuilt from the
// migrations themselves: the claim path's functions as the pool migration defined them, the
// guard triggers disabled and its btree index dropped; "after" restores the guard migration's.
import { type Sql } from "./support.ts";
import { throughput, type ThroughputResult } from "./throughput.ts";

const MIGRATIONS = new URL("../supabase/migrations/", import.meta.url);
const POOL = "20261125160000_meeting_link_pool.sql";
const GUARD = "20261126100000_double_booking_guard.sql";
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

function indexOf(migration: string): string {
  const match = /create index bookings_link_starts_at_idx[^;]*;/.exec(
    Deno.readTextFileSync(new URL(migration, MIGRATIONS)),
  );
  if (!match) {
    throw new Error(`${migration} creates no bookings_link_starts_at_idx`);
  }
  return match[0];
}

async function useSchema(sql: Sql, guarded: boolean): Promise<void> {
  const migration = guarded ? GUARD : POOL;
  await sql.begin(async (tx) => {
    // The two versions of try_claim_meeting_link differ in arguments: drop whichever is there.
    await tx.unsafe(
      `drop function if exists public.try_claim_meeting_link(uuid, uuid, tstzrange)`,
    );
    await tx.unsafe(
      `drop function if exists public.try_claim_meeting_link(uuid, uuid, tstzrange, boolean)`,
    );
    for (const name of CLAIM_PATH) {
      await tx.unsafe(definitionOf(migration, name));
    }
    for (const trigger of GUARD_TRIGGERS) {
      await tx.unsafe(
        `alter table public.bookings ${
          guarded ? "enable" : "disable"
        } trigger ${trigger}`,
      );
    }
    await tx.unsafe(
      guarded
        ? indexOf(GUARD)
        : "drop index public.bookings_link_starts_at_idx",
    );
    // A recreated function is executable by PUBLIC; the migrations keep it internal.
    await tx.unsafe(
      `revoke execute on function public.${
        guarded
          ? "try_claim_meeting_link(uuid, uuid, tstzrange, boolean)"
          : "try_claim_meeting_link(uuid, uuid, tstzrange)"
      } from public, anon, authenticated, service_role`,
    );
  });
}

export interface GuardCostResult {
  before: ThroughputResult;
  after: ThroughputResult;
  /** after / before, assignment p50 (lower is better; the bar is 1.10). */
  httpAssignP50: number;
  sqlAssignP50: number;
}

export async function guardCost(sql: Sql): Promise<GuardCostResult> {
  await useSchema(sql, false);
  let before: ThroughputResult;
  try {
    before = await throughput(sql);
  } finally {
    await useSchema(sql, true);
  }
  const after = await throughput(sql);
  const p50 = (r: ThroughputResult, k: "httpAssign" | "sqlAssign") =>
    r[k].latencyMs.p50;
  return {
    before,
    after,
    httpAssignP50:
      Math.round(p50(after, "httpAssign") / p50(before, "httpAssign") * 100) /
      100,
    sqlAssignP50:
      Math.round(p50(after, "sqlAssign") / p50(before, "sqlAssign") * 100) /
      100,
  };
}
