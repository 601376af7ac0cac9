// (7) What the double-booking guard costs: the throughput benchmark on the schema as it was
// before the guard, then as it is, on the same stack in one run. "Before" is rebuilt from the
// migrations themselves: the claim path's functions as the pool migration defined them, the
// guard triggers disabled and its btree index dropped; "after" restores the guard migration's.
import { quick, type Sql } from "./support.ts";
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
  for (let pair = 0; pair < (quick ? 1 : 3); pair++) {
    await useSchema(sql, false);
    try {
      before.push(await throughput(sql));
    } finally {
      await useSchema(sql, true);
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
