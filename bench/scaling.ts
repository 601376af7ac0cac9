// (3) Scaling: the cost of one assignment with 1,000 / 100,000 / 1,000,000 paid bookings
// already on the pool's links, and the plan of the candidate probe (through the btree
// bookings_link_starts_at_idx, never the exclusion constraint's GiST index).
import postgres from "postgres";
import {
  addLinks,
  env,
  type Latency,
  quick,
  ratio,
  resetData,
  type Sql,
  summarize,
  tally,
} from "./support.ts";

const SIZES = quick ? [1_000, 100_000] : [1_000, 100_000, 1_000_000];
const LINKS = 10;
const PROBES = quick ? 40 : 200;
/**
 * Groups of existing bookings (one hour per link, every 2 hours) a probe needs on each side:
 * the candidate search reads 2 days back and 1 day ahead of the slot, so 26 groups (52 hours).
 */
const NEIGHBOURS = 26;
const BASE = "2032-01-01 00:00Z";

export interface ScalingPoint {
  existing: number;
  loadSeconds: number;
  latencyMs: Latency;
  outcomes: Record<string, number>;
  /** Shared-buffer pages touched per probe (hit or read), by table or index: where a size costs. */
  pagesPerProbe: Record<string, number>;
}

export interface ScalingResult {
  points: ScalingPoint[];
  /** p50 of the largest size over p50 of the smallest. */
  ratioLargestToSmallest: number | null;
  plan: {
    /** Scan nodes of the candidate query's plan, from auto_explain. */
    candidateProbeScans: string[];
    usesBtreeIndex: boolean;
    readsGistIndex: boolean;
    seqScansOnBookings: number;
    jit: boolean;
    /** Every statement's plan in one assignment. */
    plans: string[];
  };
}

/**
 * Existing bookings: one hour each, every other hour of each link (even hours), round robin
 * over the 10 links, so they are valid paid bookings that never overlap. Loaded in one
 * statement, growing the same layout from the previous size. Probes take odd hours in the
 * middle of the range, each with the full neighbourhood the candidate search reads on both sides,
 * so every size measures the same work per probe (1,000 bookings span 200 hours: room for 48).
 */
async function growExisting(
  sql: Sql,
  links: string[],
  from: number,
  to: number,
): Promise<void> {
  await sql`
    insert into public.bookings (order_id, starts_at, ends_at, amount, payment_status, meeting_link_id)
    select 'scale-' || j, s, s + interval '1 hour', 100000, 'paid', (${links}::uuid[])[1 + j % ${LINKS}]
    from generate_series(${from}::int, ${to - 1}::int) as j,
      lateral (select ${BASE}::timestamptz + (j / ${LINKS}) * interval '2 hours' as s) t`;
  await sql`analyze public.bookings`;
}

async function addProbes(sql: Sql, existing: number): Promise<string[]> {
  const groups = Math.floor(existing / LINKS);
  const count = Math.min(PROBES, groups - 2 * NEIGHBOURS);
  const middle = Math.floor(groups / 2);
  const rows = await sql<{ id: string }[]>`
    insert into public.bookings (order_id, starts_at, ends_at, amount)
    select 'probe-' || ${existing}::int || '-' || p, s, s + interval '1 hour', 100000
    from generate_series(0, ${count - 1}::int) as p,
      lateral (select ${BASE}::timestamptz + ((${middle}::int - ${count}::int / 2 + p) * 2 + 1) * interval '1 hour' as s) t
    order by p
    returning id`;
  return rows.map((row) => row.id);
}

/**
 * Pages touched so far (hits and reads), by table and by index, as `one` (a pool of one
 * connection, the probes' own) sees them once its own counters are flushed.
 */
async function pagesTouched(one: Sql): Promise<Map<string, number>> {
  await one`select pg_catalog.pg_stat_force_next_flush()`;
  // The flush happens when the backend goes idle, after that statement.
  await new Promise((resolve) => setTimeout(resolve, 50));
  const rows = await one<{ name: string; pages: string }[]>`
    select relname as name, coalesce(heap_blks_hit + heap_blks_read, 0) as pages
    from pg_catalog.pg_statio_user_tables where schemaname = 'public'
    union all
    select indexrelname, idx_blks_hit + idx_blks_read
    from pg_catalog.pg_statio_user_indexes where schemaname = 'public'
    union all
    select '(read, not in shared buffers)',
      sum(coalesce(heap_blks_read, 0) + coalesce(idx_blks_read, 0))
    from pg_catalog.pg_statio_user_tables where schemaname = 'public'`;
  return new Map(rows.map((r) => [r.name, Number(r.pages)]));
}

function perProbe(
  before: Map<string, number>,
  after: Map<string, number>,
  probes: number,
): Record<string, number> {
  const entries = [...after].map((
    [name, pages],
  ) =>
    [
      name,
      Math.round(((pages - (before.get(name) ?? 0)) / probes) * 10) / 10,
    ] as const
  )
    .filter(([, pages]) => pages > 0)
    .sort((a, b) => b[1] - a[1]);
  return Object.fromEntries(entries);
}

/** Pays and assigns each probe in one transaction (the pg_cron sweep never sees it waiting). */
async function timeProbes(sql: Sql, ids: string[]) {
  const latencies: number[] = [];
  const outcomes: string[] = [];
  for (const id of ids) {
    await sql.begin(async (tx) => {
      await tx`update public.bookings set payment_status = 'paid' where id = ${id}`;
      const t0 = performance.now();
      const [row] = await tx<{ outcome: string }[]>`
        select outcome from public.assign_meeting_link(${id})`;
      latencies.push(performance.now() - t0);
      outcomes.push(row.outcome);
    });
  }
  return {
    latencyMs: summarize(latencies),
    outcomes: tally(outcomes, (o) => o),
  };
}

/**
 * The plans PostgreSQL ran inside one real assignment, from auto_explain (nested statements,
 * sent to this session as notices); then rolled back.
 */
async function assignmentPlan(probe: string) {
  const notices: string[] = [];
  const rollback = new Error("rollback");
  const one = postgres(env.dbUrl, {
    max: 1,
    prepare: false,
    onnotice: (notice) => notices.push(String(notice.message)),
  });
  try {
    await one.begin(async (tx) => {
      await tx`load 'auto_explain'`;
      await tx`set local auto_explain.log_min_duration = 0`;
      await tx`set local auto_explain.log_nested_statements = on`;
      await tx`set local auto_explain.log_level = notice`;
      await tx`update public.bookings set payment_status = 'paid' where id = ${probe}`;
      await tx`select outcome from public.assign_meeting_link(${probe})`;
      throw rollback;
    }).catch((error) => {
      if (error !== rollback) throw error;
    });
  } finally {
    await one.end({ timeout: 5 });
  }
  const plans = notices.filter((n) => /Query Text:/.test(n));
  // The candidate probe: the lateral over each link's paid neighbours.
  const candidates = plans.find((plan) => /cross join lateral/.test(plan)) ??
    "";
  const scans = [...candidates.matchAll(/^\s*(?:->\s*)?(.*Scan.*)$/gm)].map((
    m,
  ) => m[1].trim());
  return {
    candidateProbeScans: scans,
    usesBtreeIndex: scans.some((s) =>
      s.includes("bookings_link_starts_at_idx")
    ),
    readsGistIndex: scans.some((s) =>
      s.includes("bookings_paid_slots_never_share_a_link")
    ),
    seqScansOnBookings:
      scans.filter((s) => /Seq Scan on bookings/.test(s)).length,
    jit: /JIT:/.test(candidates),
    plans,
  };
}

export async function scaling(sql: Sql): Promise<ScalingResult> {
  const points: ScalingPoint[] = [];
  let plan: ScalingResult["plan"] | undefined;
  await resetData(sql);
  const links = await addLinks(sql, LINKS);
  let loaded = 0;
  for (const existing of SIZES) {
    const t0 = performance.now();
    await growExisting(sql, links, loaded, existing);
    loaded = existing;
    const loadSeconds = Math.round((performance.now() - t0) / 100) / 10;
    const probes = await addProbes(sql, existing);
    // Every other session's counters reach the views within PGSTAT_IDLE_INTERVAL (10 s); the
    // probes run on one connection of their own and flush theirs before each reading.
    const one = postgres(env.dbUrl, { max: 1, prepare: false });
    let timed, pagesPerProbe;
    try {
      const before = await pagesTouched(one);
      timed = await timeProbes(one, probes.slice(1));
      pagesPerProbe = perProbe(
        before,
        await pagesTouched(one),
        probes.length - 1,
      );
    } finally {
      await one.end({ timeout: 5 });
    }
    points.push({ existing, loadSeconds, ...timed, pagesPerProbe });
    if (existing === SIZES.at(-1)) plan = await assignmentPlan(probes[0]);
  }
  return {
    points,
    ratioLargestToSmallest: ratio(
      points.at(-1)!.latencyMs.p50,
      points[0].latencyMs.p50,
    ),
    plan: plan!,
  };
}
