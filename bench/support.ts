// Shared by the benchmarks: bounded concurrent load, latency summaries, and the checks that
// read the database itself (never trusting the constraint under test).
import postgres from "postgres";
import { env } from "../tests/support/env.ts";
import {
  putTransaction,
  statusFieldsOf,
} from "../tests/support/midtrans_sandbox.ts";
import { settlement, signed } from "../tests/support/webhook.ts";
export { addLinks, resetData } from "../tests/support/data.ts";
export { prng } from "../tests/support/random.ts";

export { env };
export type Sql = postgres.Sql;

/** --quick: smaller sizes, under a minute in all. */
export const quick = Deno.env.get("BENCH_MODE") === "quick";

/** A pool of `max` connections with the functions' driver settings (npm:postgres, no prepare). */
export function connect(max: number): Sql {
  return postgres(env.dbUrl, {
    max,
    prepare: false,
    onnotice: () => {},
    connect_timeout: 10,
    connection: { application_name: "bench" },
  });
}

export interface Latency {
  count: number;
  p50: number;
  p95: number;
  p99: number;
  max: number;
  mean: number;
}

/** Milliseconds, nearest-rank percentiles. */
export function summarize(samples: number[]): Latency {
  const sorted = [...samples].sort((a, b) => a - b);
  const rank = (p: number) =>
    sorted[Math.min(sorted.length - 1, Math.ceil(p * sorted.length) - 1)] ?? 0;
  const round = (ms: number) => Math.round(ms * 100) / 100;
  return {
    count: sorted.length,
    p50: round(rank(0.5)),
    p95: round(rank(0.95)),
    p99: round(rank(0.99)),
    max: round(sorted.at(-1) ?? 0),
    mean: round(sorted.reduce((a, b) => a + b, 0) / (sorted.length || 1)),
  };
}

export interface Load<T> {
  results: T[];
  latencies: number[];
  elapsedMs: number;
  perSecond: number;
}

/**
 * Runs call(0..count-1) with `concurrency` callers in flight, each call timed. Bounded in count
 * and in time: past `deadlineMs` no new call starts and the load throws.
 */
export async function load<T>(
  count: number,
  concurrency: number,
  call: (i: number) => Promise<T>,
  deadlineMs = 120_000,
): Promise<Load<T>> {
  const results = new Array<T>(count);
  const latencies = new Array<number>(count);
  let next = 0;
  const started = performance.now();
  const deadline = started + deadlineMs;
  const worker = async () => {
    while (next < count) {
      if (performance.now() > deadline) {
        throw new Error(`load stopped at its ${deadlineMs} ms deadline`);
      }
      const i = next++;
      const t0 = performance.now();
      results[i] = await call(i);
      latencies[i] = performance.now() - t0;
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  const elapsedMs = performance.now() - started;
  return {
    results,
    latencies,
    elapsedMs,
    perSecond: Math.round((count / elapsedMs) * 1000 * 10) / 10,
  };
}

/** Polls `done` until it holds, or throws after `timeoutMs`. Returns the time it took. */
export async function waitFor(
  done: () => Promise<boolean>,
  timeoutMs: number,
  what: string,
): Promise<number> {
  const started = performance.now();
  while (!(await done())) {
    if (performance.now() - started > timeoutMs) {
      throw new Error(`gave up after ${timeoutMs} ms waiting for ${what}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return performance.now() - started;
}

export interface HttpResult {
  status: number;
  error?: string;
  /** The answer's Server-Timing header: each part's ms by name (`total`: the whole handler). */
  serverTiming: Record<string, number>;
}

/** POSTs JSON to a function; the body is always read, its `error` code kept. */
export async function postFunction(
  name: string,
  body: unknown,
  headers: Record<string, string> = {},
): Promise<HttpResult> {
  const response = await fetch(`${env.functionsUrl}/${name}`, {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body: JSON.stringify(body),
  });
  const text = await response.text();
  let error: string | undefined;
  try {
    error = (JSON.parse(text) as { error?: string }).error;
  } catch {
    error = text.slice(0, 100);
  }
  const serverTiming = Object.fromEntries(
    (response.headers.get("server-timing") ?? "").split(",").map((part) =>
      /^\s*(\w+);dur=([\d.]+)\s*$/.exec(part)
    ).filter((m) => m !== null).map((m) => [m![1], Number(m![2])]),
  );
  return { status: response.status, error, serverTiming };
}

export const serviceRole = { authorization: `Bearer ${env.serviceRoleKey}` };

/** Counts by a key, e.g. HTTP status or outcome. */
export function tally<T>(items: T[], key: (item: T) => string) {
  const counts: Record<string, number> = {};
  for (const item of items) counts[key(item)] = (counts[key(item)] ?? 0) + 1;
  return counts;
}

/**
 * Pairs of paid bookings holding one link for overlapping slots, counted by a self-join over
 * the table with index scans off: the double-booking that was seen today lived in a GiST index
 * that lost entries, so the check reads the heap itself and never trusts the constraint.
 */
export async function overlappingPairs(
  sql: Sql,
  table = "public.bookings",
): Promise<number> {
  return await sql.begin(async (tx) => {
    await tx`set local enable_indexscan = off`;
    await tx`set local enable_bitmapscan = off`;
    await tx`set local enable_indexonlyscan = off`;
    const [{ pairs }] = await tx.unsafe<{ pairs: number }[]>(`
      select count(*)::int as pairs
      from ${table} a join ${table} b
        on a.meeting_link_id = b.meeting_link_id and a.id < b.id and a.slot && b.slot
      where a.payment_status = 'paid' and b.payment_status = 'paid'`);
    return pairs;
  });
}

export const round1 = (x: number) => Math.round(x * 10) / 10;
export const ratio = (a: number, b: number) =>
  b > 0 ? Math.round((a / b) * 100) / 100 : null;

/** Fisher-Yates, in place. */
export function shuffle<T>(items: T[], random: () => number): T[] {
  for (let i = items.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [items[i], items[j]] = [items[j], items[i]];
  }
  return items;
}

/**
 * One signed settlement of `amount` per order (transaction ids `<prefix>-<i>-<uuid>`), each first put at the
 * Midtrans stand-in as what its status call will confirm. Not timed: Midtrans's side of the run.
 */
export async function settlementsAtMidtrans(
  orderIds: string[],
  amount: string,
  prefix: string,
  callers: number,
) {
  const notifications = orderIds.map((orderId, i) =>
    signed(settlement(orderId, {
      transaction_id: `${prefix}-${i}-${crypto.randomUUID()}`,
      gross_amount: amount,
    }))
  );
  await load(
    notifications.length,
    callers,
    (i) =>
      putTransaction(
        notifications[i].order_id,
        statusFieldsOf(notifications[i]),
      ),
  );
  return notifications;
}
