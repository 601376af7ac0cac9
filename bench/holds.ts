// (9) Holds at checkout. Placement with holds: the placement benchmark's booking streams, each
// booking holding a link when it arrives (hold_meeting_link, real SQL) and paying at once: a
// booking refused at checkout never pays, so no paid booking is stranded; refused vs the offline
// optimum, beside today's stranded vs the optimum. Contention: 200 pending bookings in one hour,
// a pool of 10, 32 concurrent HTTP callers of hold-meeting-link. Availability: 500 slots over a
// 10-link pool at 1,000 and 1,000,000 paid bookings (100,000 in --quick), database time.
import {
  bookingStream,
  optimumStranded,
  shippedStranded,
} from "./placement.ts";
import {
  addLinks,
  type Latency,
  load,
  postFunction,
  quick,
  ratio,
  resetData,
  serviceRole,
  type Sql,
  summarize,
  tally,
} from "./support.ts";

const POOL_SIZES = quick
  ? [5, 10, 15]
  : Array.from({ length: 11 }, (_, i) => 5 + i);
const SEEDS = quick ? [1] : [1, 2, 3];

export interface HoldPlacementRow {
  links: number;
  bookings: number;
  optimum: number;
  /** Today: paid, then assigned; left without a link. */
  stranded: number;
  /** With holds: refused at checkout (never paid). */
  refused: number;
  /** With holds: paid but without a link (0 by construction). */
  paidWithoutLink: number;
}

async function withHolds(
  sql: Sql,
  slots: { start: number; end: number }[],
  k: number,
) {
  await resetData(sql);
  await addLinks(sql, k);
  let refused = 0;
  for (const [i, slot] of slots.entries()) {
    const [{ id }] = await sql<{ id: string }[]>`
      insert into public.bookings (order_id, starts_at, ends_at, amount)
      values (${"hold-sim-" + i}, ${new Date(slot.start)}, ${new Date(
      slot.end,
    )}, 100000)
      returning id`;
    const [{ held }] = await sql<{ held: boolean }[]>`
      select held from public.hold_meeting_link(${id}, 15)`;
    if (!held) {
      refused++;
      continue;
    }
    await sql`update public.bookings set payment_status = 'paid' where id = ${id}`;
  }
  const [{ n }] = await sql<{ n: number }[]>`
    select count(*)::int as n from public.bookings
    where payment_status = 'paid' and meeting_link_id is null`;
  return { refused, paidWithoutLink: n };
}

export async function holdPlacement(sql: Sql) {
  const rows: HoldPlacementRow[] = [];
  for (const k of POOL_SIZES) {
    const row = {
      links: k,
      bookings: 0,
      optimum: 0,
      stranded: 0,
      refused: 0,
      paidWithoutLink: 0,
    };
    for (const seed of SEEDS) {
      const slots = bookingStream(k, seed);
      row.bookings += slots.length;
      row.optimum += optimumStranded(slots, k);
      row.stranded += await shippedStranded(sql, slots, k);
      const held = await withHolds(sql, slots, k);
      row.refused += held.refused;
      row.paidWithoutLink += held.paidWithoutLink;
    }
    rows.push(row);
  }
  const sum = (f: (r: HoldPlacementRow) => number) =>
    rows.reduce((s, r) => s + f(r), 0);
  return {
    seeds: SEEDS,
    rows,
    paidWithoutLink: sum((r) => r.paidWithoutLink),
    refusedVsOptimum: ratio(sum((r) => r.refused), sum((r) => r.optimum)),
    strandedTodayVsOptimum: ratio(
      sum((r) => r.stranded),
      sum((r) => r.optimum),
    ),
  };
}

export async function holdContention(sql: Sql) {
  const rounds = [];
  const latencies: number[] = [];
  for (let round = 0; round < (quick ? 2 : 5); round++) {
    await resetData(sql);
    await addLinks(sql, 10);
    const ids = (await sql<{ id: string }[]>`
      insert into public.bookings (order_id, starts_at, ends_at, amount)
      select 'hold-c-' || i, '2031-06-01 10:00Z', '2031-06-01 11:00Z', 100000
      from generate_series(1, 200) i
      returning id`).map((r) => r.id);
    const run = await load(
      ids.length,
      32,
      (i) =>
        postFunction("hold-meeting-link", { bookingId: ids[i] }, serviceRole),
    );
    latencies.push(...run.latencies);
    const [state] = await sql<{ held: number; links: number }[]>`
      select count(*)::int as held, count(distinct meeting_link_id)::int as links
      from public.meeting_link_holds`;
    rounds.push({
      perSecond: run.perSecond,
      statuses: tally(
        run.results,
        (r) => r.status === 200 ? "200" : `${r.status} ${r.error}`,
      ),
      held: state.held,
      distinctLinks: state.links,
    });
  }
  return {
    rounds,
    perSecond: Math.round(
      rounds.reduce((s, r) => s + r.perSecond, 0) / rounds.length,
    ),
    latencyMs: summarize(latencies),
    exactlyPoolSizeHeld: rounds.every((r) =>
      r.held === 10 && r.distinctLinks === 10
    ),
  };
}

const LINKS = 10;
const BASE = "2032-01-01 00:00Z";

export interface AvailabilityPoint {
  existing: number;
  /** EXPLAIN ANALYZE execution time of one call with 500 slots, ms. */
  databaseMs: Latency;
  /** The same call from the client, round trip included, ms. */
  callMs: Latency;
  freeSum: number;
}

/** The scaling benchmark's layout: 1 h bookings on even hours, round robin over 10 links. */
async function grow(sql: Sql, links: string[], from: number, to: number) {
  // Valid by construction: loaded without row triggers (the guard, the outbox), as a restore
  // would; the exclusion constraint still checks every row.
  await sql.begin(async (tx) => {
    await tx`set local session_replication_role = replica`;
    await tx`
    insert into public.bookings (order_id, starts_at, ends_at, amount, payment_status, meeting_link_id)
    select 'avail-' || j, s, s + interval '1 hour', 100000, 'paid', (${links}::uuid[])[1 + j % ${LINKS}]
    from generate_series(${from}::int, ${to - 1}::int) as j,
      lateral (select ${BASE}::timestamptz + (j / ${LINKS}) * interval '2 hours' as s) t`;
  });
  await sql`analyze public.bookings`;
}

export async function availabilityCost(sql: Sql) {
  const sizes = quick ? [1_000, 100_000] : [1_000, 1_000_000];
  const points: AvailabilityPoint[] = [];
  await resetData(sql);
  const links = await addLinks(sql, LINKS);
  let existing = 0;
  for (const size of sizes) {
    await grow(sql, links, existing, size);
    existing = size;
    // 500 half-hour slots in a row in the middle of the bookings: 250 hours, 10 days.
    const middle = Math.floor(size / LINKS);
    const slots = `{${
      Array.from({ length: 500 }, (_, i) => {
        const start = Date.parse(BASE) + (middle * 3_600_000) + i * 1_800_000;
        return `"[${new Date(start).toISOString()},${
          new Date(start + 1_800_000).toISOString()
        })"`;
      })
    }}`;
    const database: number[] = [];
    const calls: number[] = [];
    let freeSum = 0;
    for (let i = 0; i < (quick ? 20 : 50); i++) {
      const [plan] = await sql<
        { "QUERY PLAN": { "Execution Time": number }[] }[]
      >`
        explain (analyze, format json)
        select * from public.meeting_link_availability(${slots}::text::tstzrange[])`;
      database.push(plan["QUERY PLAN"][0]["Execution Time"]);
      const t0 = performance.now();
      const rows = await sql<{ free: number }[]>`
        select free from public.meeting_link_availability(${slots}::text::tstzrange[])`;
      calls.push(performance.now() - t0);
      freeSum = rows.reduce((s, r) => s + r.free, 0);
    }
    points.push({
      existing: size,
      databaseMs: summarize(database),
      callMs: summarize(calls),
      freeSum,
    });
  }
  return { slots: 500, links: LINKS, points };
}
