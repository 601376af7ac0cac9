// (6) Placement quality: a simulated stream of paid bookings (seeded; random arrival order;
// 30-120 minutes; busy hours) for pool sizes 5 to 15. Stranded = paid but left without a link.
// first-fit and the optimum are computed here; the shipped policy is the REAL SQL
// assign_meeting_link, called one booking at a time in arrival order.
import {
  addLinks,
  prng,
  quick,
  resetData,
  shuffle,
  type Sql,
} from "./support.ts";

const POOL_SIZES = Array.from({ length: 11 }, (_, i) => 5 + i);
const SEEDS = quick ? [1] : [1, 2, 3];
const DAYS = quick ? 1 : 2;
/** Bookings per link per day: busy enough that some are stranded at the peaks. */
const PER_LINK_PER_DAY = 9;
const MINUTE = 60_000;
const DAY0 = Date.parse("2031-10-01T00:00:00Z");

/** Hours a booking may start, weighted: mornings, after lunch and the evening peak. */
const START_HOURS: [number, number][] = [
  [8, 1],
  [9, 2],
  [10, 3],
  [11, 3],
  [12, 1],
  [13, 2],
  [14, 3],
  [15, 2],
  [16, 1],
  [17, 1],
  [18, 2],
  [19, 3],
  [20, 3],
  [21, 1],
];

export interface Slot {
  start: number;
  end: number;
}

/** A day's bookings for a pool of k links, in random arrival order. */
export function bookingStream(k: number, seed: number): Slot[] {
  const random = prng(seed * 1000 + k);
  const totalWeight = START_HOURS.reduce((sum, [, w]) => sum + w, 0);
  const slots: Slot[] = [];
  for (let day = 0; day < DAYS; day++) {
    for (let n = 0; n < k * PER_LINK_PER_DAY; n++) {
      let pick = random() * totalWeight;
      const [hour] = START_HOURS.find(([, w]) => (pick -= w) < 0) ??
        START_HOURS[0];
      const start = DAY0 + day * 1440 * MINUTE +
        (hour * 60 + 15 * Math.floor(random() * 4)) * MINUTE;
      const minutes = 30 + 15 * Math.floor(random() * 7); // 30, 45, ... 120
      slots.push({ start, end: start + minutes * MINUTE });
    }
  }
  return shuffle(slots, random);
}

/** Arrival order, each booking onto the first link (pool order) it does not overlap on. */
export function firstFitStranded(slots: Slot[], k: number): number {
  const links: Slot[][] = Array.from({ length: k }, () => []);
  let stranded = 0;
  for (const slot of slots) {
    const link = links.find((held) =>
      held.every((b) => b.end <= slot.start || b.start >= slot.end)
    );
    if (link) link.push(slot);
    else stranded++;
  }
  return stranded;
}

/**
 * The fewest stranded when every booking is known in advance: by end time, each onto the free
 * link that came free last (optimal for interval scheduling on k identical machines).
 */
export function optimumStranded(slots: Slot[], k: number): number {
  const freeAt = new Array<number>(k).fill(-Infinity);
  let stranded = 0;
  for (const slot of [...slots].sort((a, b) => a.end - b.end)) {
    let best = -1;
    for (let i = 0; i < k; i++) {
      if (freeAt[i] <= slot.start && (best < 0 || freeAt[i] > freeAt[best])) {
        best = i;
      }
    }
    if (best < 0) stranded++;
    else freeAt[best] = slot.end;
  }
  return stranded;
}

/** The shipped policy: real assign_meeting_link calls, one paid booking at a time. */
export async function shippedStranded(
  sql: Sql,
  slots: Slot[],
  k: number,
): Promise<number> {
  await resetData(sql);
  await addLinks(sql, k);
  for (const [i, slot] of slots.entries()) {
    // Paid when it arrives, then assigned; a pg_cron sweep in between makes the same choice.
    const [{ id }] = await sql<{ id: string }[]>`
      insert into public.bookings (order_id, starts_at, ends_at, amount, payment_status)
      values (${"sim-" + i}, ${new Date(slot.start)}, ${new Date(
      slot.end,
    )}, 100000, 'paid')
      returning id`;
    await sql`select outcome from public.assign_meeting_link(${id})`;
  }
  const [{ stranded }] = await sql<{ stranded: number }[]>`
    select count(*)::int as stranded from public.bookings
    where payment_status = 'paid' and meeting_link_id is null`;
  return stranded;
}

export interface PlacementRow {
  links: number;
  bookings: number;
  optimum: number;
  firstFit: number;
  shipped: number;
  firstFitVsOptimum: number | null;
  shippedVsOptimum: number | null;
}

export interface PlacementResult {
  seeds: number[];
  days: number;
  bookingsPerLinkPerDay: number;
  rows: PlacementRow[];
  shippedNeverWorse: boolean;
  shippedBetterOn: number;
}

const ratioOf = (a: number, b: number) =>
  b > 0 ? Math.round((a / b) * 100) / 100 : null;

export async function placement(sql: Sql): Promise<PlacementResult> {
  const rows: PlacementRow[] = [];
  for (const k of POOL_SIZES) {
    const row = { links: k, bookings: 0, optimum: 0, firstFit: 0, shipped: 0 };
    for (const seed of SEEDS) {
      const slots = bookingStream(k, seed);
      row.bookings += slots.length;
      row.optimum += optimumStranded(slots, k);
      row.firstFit += firstFitStranded(slots, k);
      row.shipped += await shippedStranded(sql, slots, k);
    }
    rows.push({
      ...row,
      firstFitVsOptimum: ratioOf(row.firstFit, row.optimum),
      shippedVsOptimum: ratioOf(row.shipped, row.optimum),
    });
  }
  return {
    seeds: SEEDS,
    days: DAYS,
    bookingsPerLinkPerDay: PER_LINK_PER_DAY,
    rows,
    shippedNeverWorse: rows.every((r) => r.shipped <= r.firstFit),
    shippedBetterOn: rows.filter((r) => r.shipped < r.firstFit).length,
  };
}
