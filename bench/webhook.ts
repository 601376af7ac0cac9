// (5) Webhook: 1,000 signed settlement notifications at 32 concurrency, each confirmed with the
// Midtrans sandbox stand-in's Get Status API; how fast they are answered, how long until every
// booking has its link, the CPU each settlement costs in each process (on 2 cores a CPU-bound
// rate is set by it), and the functions server's peak memory.
import {
  addLinks,
  env,
  type Latency,
  load,
  overlappingPairs,
  postFunction,
  prng,
  quick,
  resetData,
  settlementsAtMidtrans,
  shuffle,
  type Sql,
  summarize,
  tally,
  waitFor,
} from "./support.ts";
import { cpuMeter, type CpuMs, perUnit } from "./cpu.ts";

const NOTIFICATIONS = quick ? 300 : 1_000;
const CALLERS = 32;
const LINKS = 10;
const AMOUNT = "150000.00";
const ONE_CALLER = quick ? 50 : 200;

export interface WebhookResult {
  notifications: number;
  callers: number;
  perSecond: number;
  responseMs: Latency;
  /** The Get Status call alone (the stand-in, same callers): the confirmation's share. */
  statusCallMs: Latency;
  /** One caller at a time (fresh orders, each in an hour of its own): the service time. */
  oneCaller: OneCaller;
  statuses: Record<string, number>;
  allLinkedSeconds: number;
  linked: number;
  flagged: number;
  storedNotifications: number;
  paidBookings: number;
  overlappingPairs: number;
  lostNotifications: number;
  /** CPU ms per settlement, by process, from the first notification until every booking linked. */
  cpuMsPerSettlement: CpuMs;
  serverPeakRssMiB: {
    duringWebhook: number | null;
    wholeRunBefore: number | null;
  };
}

/** VmHWM (peak resident set) of a process, in MiB, or null when /proc cannot be read. */
async function peakRssMiB(pid: number): Promise<number | null> {
  try {
    const status = await Deno.readTextFile(`/proc/${pid}/status`);
    const kb = Number(/^VmHWM:\s+(\d+) kB/m.exec(status)?.[1]);
    return Number.isFinite(kb) ? Math.round(kb / 102.4) / 10 : null;
  } catch {
    return null;
  }
}

/** Resets VmHWM to the current RSS (Linux: "5" > /proc/<pid>/clear_refs). */
async function resetPeakRss(pid: number): Promise<boolean> {
  try {
    await Deno.writeTextFile(`/proc/${pid}/clear_refs`, "5");
    return true;
  } catch {
    return false;
  }
}

/** 10 bookings in each hour (one per link), so the pool can link all of them. */
async function pendingBookings(sql: Sql): Promise<string[]> {
  await resetData(sql);
  await addLinks(sql, LINKS);
  const rows = await sql<{ order_id: string }[]>`
    insert into public.bookings (order_id, starts_at, ends_at, amount)
    select 'webhook-' || i, s, s + interval '1 hour', ${AMOUNT}::numeric
    from generate_series(0, ${NOTIFICATIONS - 1}::int) as i,
      lateral (select timestamptz '2031-09-01 00:00Z' + (i / ${LINKS}) * interval '1 hour' as s) t
    returning order_id`;
  return rows.map((row) => row.order_id);
}

interface OneCaller {
  responseMs: Latency;
  /**
   * The same, each settlement sent once the previous one's background work (its link's
   * assignment) has finished: the answer without the last settlement's work beside it.
   */
  settledResponseMs: Latency;
  statusCallMs: Latency;
  /**
   * Medians of where each answer's time went, from its Server-Timing: the Get Status call, the
   * database call, the rest of the handler (body, validation, signature, log line), and outside
   * the handler (HTTP both ways, the server's routing, the client). They add up to about the p50.
   */
  partsMs: {
    statusCall: number;
    database: number;
    restOfHandler: number;
    outsideHandler: number;
  };
  settledPartsMs: OneCaller["partsMs"];
}

const median = (xs: number[]) => summarize(xs).p50;

/**
 * Settlements one at a time, each of a booking in an hour of its own (counted apart), then their
 * status calls alone, one at a time: the stand-in's share of the one-caller answer.
 */
async function oneCaller(sql: Sql): Promise<OneCaller> {
  const rows = await sql<{ order_id: string }[]>`
    insert into public.bookings (order_id, starts_at, ends_at, amount)
    select 'webhook-one-' || i, s, s + interval '1 hour', ${AMOUNT}::numeric
    from generate_series(0, ${2 * ONE_CALLER - 1}::int) as i,
      lateral (select timestamptz '2032-09-01 00:00Z' + i * interval '1 hour' as s) t
    returning order_id`;
  const notifications = await settlementsAtMidtrans(
    rows.map((row) => row.order_id),
    AMOUNT,
    "bench-one",
    CALLERS,
  );
  const run = await load(
    ONE_CALLER,
    1,
    (i) => postFunction("midtrans-webhook", notifications[i]),
  );
  const settled = await load(ONE_CALLER, 1, async (i) => {
    await settleBackgroundWork();
    const started = performance.now();
    const answer = await postFunction(
      "midtrans-webhook",
      notifications[ONE_CALLER + i],
    );
    return { answer, ms: performance.now() - started };
  });
  const statusCalls = await load(
    notifications.length,
    1,
    (i) => statusCall(notifications[i].transaction_id),
  );
  return {
    responseMs: summarize(run.latencies),
    settledResponseMs: summarize(settled.results.map((r) => r.ms)),
    statusCallMs: summarize(statusCalls.latencies),
    partsMs: partsOf(run.results, run.latencies),
    settledPartsMs: partsOf(
      settled.results.map((r) => r.answer),
      settled.results.map((r) => r.ms),
    ),
  };
}

/** Medians of where each answer's time went, from its Server-Timing header. */
function partsOf(
  answers: { serverTiming: Record<string, number> }[],
  latencies: number[],
): OneCaller["partsMs"] {
  const timings = answers.map((r) => r.serverTiming);
  return {
    statusCall: median(timings.map((t) => t.statusApi)),
    database: median(timings.map((t) => t.database)),
    restOfHandler: median(
      timings.map((t) => t.total - t.statusApi - t.database),
    ),
    outsideHandler: median(latencies.map((ms, i) => ms - timings[i].total)),
  };
}

/** Waits until the functions server has no background work running. */
async function settleBackgroundWork() {
  await fetch(`${env.apiUrl}/_local/settle`, { method: "POST" }).then((r) =>
    r.text()
  );
}

/** The webhook's Get Status call, made directly to the stand-in. */
async function statusCall(transactionId: string) {
  const response = await fetch(
    `${env.midtransApiUrl}/v2/${transactionId}/status`,
    {
      headers: { authorization: `Basic ${btoa(`${env.midtransServerKey}:`)}` },
    },
  );
  return response.status === 200 && await response.json();
}

export async function webhook(sql: Sql): Promise<WebhookResult> {
  const pid = env.functionsServerPid;
  if (!pid) throw new Error("FUNCTIONS_SERVER_PID is not set: run bench/run");
  const orderIds = shuffle(await pendingBookings(sql), prng(5));
  const notifications = await settlementsAtMidtrans(
    orderIds,
    AMOUNT,
    "bench",
    CALLERS,
  );

  const wholeRunBefore = await peakRssMiB(pid);
  const reset = await resetPeakRss(pid);
  const cpuSpent = await cpuMeter();
  const started = performance.now();
  const run = await load(
    notifications.length,
    CALLERS,
    (i) => postFunction("midtrans-webhook", notifications[i]),
  );
  await waitFor(
    async () => {
      const [{ waiting }] = await sql<{ waiting: number }[]>`
      select count(*)::int as waiting from public.bookings
      where meeting_link_id is null and not needs_manual_link`;
      return waiting === 0;
    },
    120_000,
    "every booking to have a link or be flagged",
  );
  const allLinkedSeconds = (performance.now() - started) / 1000;
  const cpuMsPerSettlement = perUnit(await cpuSpent(), notifications.length);
  const authorization = `Basic ${btoa(`${env.midtransServerKey}:`)}`;
  const statusCalls = await load(
    notifications.length,
    CALLERS,
    async (i) => {
      const response = await fetch(
        `${env.midtransApiUrl}/v2/${notifications[i].transaction_id}/status`,
        { headers: { authorization } },
      );
      return response.status === 200 && await response.json();
    },
  );
  // Background work finished too, before the peak is read.
  await settleBackgroundWork();
  const duringWebhook = reset ? await peakRssMiB(pid) : null;

  const [state] = await sql<{
    stored: number;
    paid: number;
    linked: number;
    flagged: number;
  }[]>`
    select (select count(*)::int from public.midtrans_notifications) as stored,
           count(*) filter (where payment_status = 'paid')::int as paid,
           count(meeting_link_id)::int as linked,
           count(*) filter (where needs_manual_link)::int as flagged
    from public.bookings`;
  const oneCallerRun = await oneCaller(sql);
  return {
    notifications: notifications.length,
    callers: CALLERS,
    perSecond: run.perSecond,
    responseMs: summarize(run.latencies),
    statusCallMs: summarize(statusCalls.latencies),
    oneCaller: oneCallerRun,
    statuses: tally(
      run.results,
      (r) => r.status === 200 ? "200" : `${r.status} ${r.error}`,
    ),
    allLinkedSeconds: Math.round(allLinkedSeconds * 100) / 100,
    linked: state.linked,
    flagged: state.flagged,
    storedNotifications: state.stored,
    paidBookings: state.paid,
    overlappingPairs: await overlappingPairs(sql),
    lostNotifications: notifications.length -
      Math.min(state.stored, state.paid),
    cpuMsPerSettlement,
    serverPeakRssMiB: { duringWebhook, wholeRunBefore },
  };
}
