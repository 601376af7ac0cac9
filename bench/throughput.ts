// (2) Throughput: 5,000 paid bookings spread over a month, a pool of 10, 16 concurrent callers,
// over HTTP and as the bare SQL call, each beside its floor on the same run: a no-op request
// through the same HTTP server, and `select 1` through the same driver.
import {
  addLinks,
  connect,
  env,
  type Latency,
  load,
  overlappingPairs,
  postFunction,
  prng,
  quick,
  ratio,
  resetData,
  serviceRole,
  shuffle,
  type Sql,
  summarize,
  tally,
} from "./support.ts";

const BOOKINGS = quick ? 1_000 : 5_000;
const LINKS = 10;
const CALLERS = 16;

/** One-hour bookings, evenly spread over 30 days: at most 7 overlap, so all fit 10 links. */
async function bookingsOverAMonth(sql: Sql): Promise<string[]> {
  await resetData(sql);
  await addLinks(sql, LINKS);
  const rows = await sql<{ id: string }[]>`
    insert into public.bookings (order_id, starts_at, ends_at, amount, payment_status)
    select 'month-' || i, s, s + interval '1 hour', 100000, 'paid'
    from generate_series(0, ${BOOKINGS - 1}::int) as i,
      lateral (select timestamptz '2031-07-01 00:00Z' + i * (interval '30 days' / ${BOOKINGS}::int) as s) t
    returning id`;
  // Shuffled, so callers do not walk the calendar in order.
  return shuffle(rows.map((row) => row.id), prng(6));
}

export interface Measured {
  perSecond: number;
  latencyMs: Latency;
  outcomes?: Record<string, number>;
}

export interface ThroughputResult {
  bookings: number;
  callers: number;
  httpAssign: Measured;
  httpNoop: Measured;
  sqlAssign: Measured;
  sqlSelect1: Measured;
  httpAssignOneCaller: Measured;
  httpNoopOneCaller: Measured;
  sqlAssignOneCaller: Measured;
  sqlSelect1OneCaller: Measured;
  overlappingPairs: number;
  ratios: {
    httpP50VsNoop: number | null;
    httpPerSecondVsNoop: number | null;
    httpOneCallerP50VsNoop: number | null;
    sqlP50VsSelect1: number | null;
    sqlPerSecondVsSelect1: number | null;
  };
}

const measured = <T>(
  run: { perSecond: number; latencies: number[]; results: T[] },
  key?: (r: T) => string,
): Measured => ({
  perSecond: run.perSecond,
  latencyMs: summarize(run.latencies),
  ...(key ? { outcomes: tally(run.results, key) } : {}),
});

export async function throughput(sql: Sql): Promise<ThroughputResult> {
  const callers = connect(CALLERS);
  try {
    const noop = async () => {
      const response = await fetch(`${env.apiUrl}/_local/health`);
      await response.text();
      return response.status;
    };
    const select1 = async () => (await callers`select 1 as one`)[0].one;
    // Warm up: open the connections on both sides before anything is timed.
    await load(200, CALLERS, noop);
    await load(200, CALLERS, select1);

    let ids = await bookingsOverAMonth(sql);
    // Reads `ids` when called: each phase assigns a fresh set of bookings.
    const assign = (i: number) =>
      postFunction("assign-meeting-link", { bookingId: ids[i] }, serviceRole);
    const outcome = (r: { status: number; error?: string }) =>
      r.status === 200 ? "200" : `${r.status} ${r.error}`;
    await load(CALLERS * 4, CALLERS, assign);
    ids = await bookingsOverAMonth(sql);
    const httpNoop = measured(await load(BOOKINGS, CALLERS, noop));
    const httpAssign = measured(await load(BOOKINGS, CALLERS, assign), outcome);
    let pairs = await overlappingPairs(sql);
    // One caller at a time: the service time, without queueing for the two cores.
    ids = await bookingsOverAMonth(sql);
    const single = Math.min(500, BOOKINGS);
    const httpNoopOneCaller = measured(await load(single, 1, noop));
    const httpAssignOneCaller = measured(
      await load(single, 1, assign),
      outcome,
    );

    const sqlSelect1 = measured(await load(BOOKINGS, CALLERS, select1));
    ids = await bookingsOverAMonth(sql);
    const sqlAssign = measured(
      await load(BOOKINGS, CALLERS, async (i) => {
        try {
          const [row] = await callers<{ outcome: string }[]>`
            select outcome from public.assign_meeting_link(${ids[i]})`;
          return row.outcome;
        } catch (error) {
          return `error ${(error as { code?: string }).code}`;
        }
      }),
      (r) => r,
    );
    pairs += await overlappingPairs(sql);
    ids = await bookingsOverAMonth(sql);
    const sqlAssignOneCaller = measured(
      await load(single, 1, async (i) => {
        const [row] = await callers<{ outcome: string }[]>`
          select outcome from public.assign_meeting_link(${ids[i]})`;
        return row.outcome;
      }),
      (r) => r,
    );
    const sqlSelect1OneCaller = measured(await load(single, 1, select1));
    return {
      bookings: BOOKINGS,
      callers: CALLERS,
      httpAssign,
      httpNoop,
      sqlAssign,
      sqlSelect1,
      httpAssignOneCaller,
      httpNoopOneCaller,
      sqlAssignOneCaller,
      sqlSelect1OneCaller,
      overlappingPairs: pairs,
      ratios: {
        httpP50VsNoop: ratio(httpAssign.latencyMs.p50, httpNoop.latencyMs.p50),
        httpPerSecondVsNoop: ratio(httpAssign.perSecond, httpNoop.perSecond),
        httpOneCallerP50VsNoop: ratio(
          httpAssignOneCaller.latencyMs.p50,
          httpNoopOneCaller.latencyMs.p50,
        ),
        sqlP50VsSelect1: ratio(
          sqlAssign.latencyMs.p50,
          sqlSelect1.latencyMs.p50,
        ),
        sqlPerSecondVsSelect1: ratio(sqlAssign.perSecond, sqlSelect1.perSecond),
      },
    };
  } finally {
    await callers.end({ timeout: 5 });
  }
}
