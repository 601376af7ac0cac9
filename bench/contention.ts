// (1) Contention: 200 paid bookings in one hour, a pool of 10, 32 concurrent HTTP callers of
// assign-meeting-link. (4) The reference design through the same case, as the baseline.
import {
  addLinks,
  connect,
  type Latency,
  load,
  overlappingPairs,
  postFunction,
  quick,
  resetData,
  serviceRole,
  type Sql,
  summarize,
  tally,
} from "./support.ts";

const BOOKINGS = 200;
const LINKS = 10;
const CALLERS = 32;
const ROUNDS = quick ? 2 : 5;

async function paidBookingsInOneHour(
  sql: Sql,
  schema = "public",
): Promise<string[]> {
  const rows = await sql.unsafe<{ id: string }[]>(
    `insert into ${schema}.bookings (order_id, starts_at, ends_at, amount, payment_status)
     select 'contention-' || i, '2031-06-01 10:00Z', '2031-06-01 11:00Z', 100000, 'paid'
     from generate_series(1, $1::int) as i
     returning id`,
    [BOOKINGS],
  );
  return rows.map((row) => row.id);
}

export interface ContentionRound {
  perSecond: number;
  elapsedMs: number;
  statuses: Record<string, number>;
  assigned: number;
  distinctLinks: number;
  overlappingPairs: number;
  errors: number;
}

export interface ContentionResult {
  what: string;
  rounds: ContentionRound[];
  perSecond: number;
  latencyMs: Latency;
  assignedPerRound: number[];
  overlappingPairs: number;
  errors: number;
}

async function linkState(sql: Sql, schema: string) {
  const [state] = await sql.unsafe<
    { assigned: number; distinct_links: number }[]
  >(
    `select count(meeting_link_id)::int as assigned,
            count(distinct meeting_link_id)::int as distinct_links
     from ${schema}.bookings where payment_status = 'paid'`,
  );
  return state;
}

function combine(what: string, rounds: ContentionRound[], latencies: number[]) {
  const elapsed = rounds.reduce((sum, r) => sum + r.elapsedMs, 0);
  return {
    what,
    rounds,
    perSecond: Math.round((BOOKINGS * rounds.length / elapsed) * 1000),
    latencyMs: summarize(latencies),
    assignedPerRound: rounds.map((r) => r.assigned),
    overlappingPairs: rounds.reduce((sum, r) => sum + r.overlappingPairs, 0),
    errors: rounds.reduce((sum, r) => sum + r.errors, 0),
  };
}

/** Ours over HTTP: 200 answers per round, 10 of them 200 (assigned), 190 409 pool_exhausted. */
export async function contentionHttp(sql: Sql): Promise<ContentionResult> {
  const rounds: ContentionRound[] = [];
  const latencies: number[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    await resetData(sql);
    await addLinks(sql, LINKS);
    const ids = await paidBookingsInOneHour(sql);
    const run = await load(
      ids.length,
      CALLERS,
      (i) =>
        postFunction("assign-meeting-link", { bookingId: ids[i] }, serviceRole),
    );
    latencies.push(...run.latencies);
    const statuses = tally(
      run.results,
      (r) => r.status === 200 ? "200" : `${r.status} ${r.error}`,
    );
    const state = await linkState(sql, "public");
    rounds.push({
      perSecond: run.perSecond,
      elapsedMs: run.elapsedMs,
      statuses,
      assigned: state.assigned,
      distinctLinks: state.distinct_links,
      overlappingPairs: await overlappingPairs(sql),
      errors: run.results.filter((r) =>
        r.status !== 200 &&
        !(r.status === 409 && r.error === "pool_exhausted")
      ).length,
    });
  }
  return combine(
    "ours, HTTP assign-meeting-link (one SQL call)",
    rounds,
    latencies,
  );
}

/** Ours as the bare SQL call, 32 connections: the same case without HTTP. */
export async function contentionSql(sql: Sql): Promise<ContentionResult> {
  const callers = connect(CALLERS);
  const rounds: ContentionRound[] = [];
  const latencies: number[] = [];
  try {
    for (let round = 0; round < ROUNDS; round++) {
      await resetData(sql);
      await addLinks(sql, LINKS);
      const ids = await paidBookingsInOneHour(sql);
      let errors = 0;
      const run = await load(ids.length, CALLERS, async (i) => {
        try {
          const [row] = await callers<{ outcome: string }[]>`
            select outcome from public.assign_meeting_link(${ids[i]})`;
          return row.outcome;
        } catch (error) {
          errors++;
          return `error ${(error as { code?: string }).code}`;
        }
      });
      latencies.push(...run.latencies);
      const state = await linkState(sql, "public");
      rounds.push({
        perSecond: run.perSecond,
        elapsedMs: run.elapsedMs,
        statuses: tally(run.results, (r) => r),
        assigned: state.assigned,
        distinctLinks: state.distinct_links,
        overlappingPairs: await overlappingPairs(sql),
        errors,
      });
    }
  } finally {
    await callers.end({ timeout: 5 });
  }
  return combine("ours, bare SQL assign_meeting_link", rounds, latencies);
}

/**
 * The reference design in a scratch schema: copies of the two tables without the exclusion
 * constraint; find the first link with no overlapping paid booking, then update the booking in
 * a second statement. No constraint, no locks: what it gets wrong under contention.
 */
const REFERENCE_SCHEMA = "bench_reference";

async function createReferenceSchema(sql: Sql): Promise<void> {
  await sql.unsafe(`
    drop schema if exists ${REFERENCE_SCHEMA} cascade;
    create schema ${REFERENCE_SCHEMA};
    create table ${REFERENCE_SCHEMA}.meeting_links_pool
      (like public.meeting_links_pool including defaults including constraints);
    alter table ${REFERENCE_SCHEMA}.meeting_links_pool add primary key (id);
    create table ${REFERENCE_SCHEMA}.bookings
      (like public.bookings including defaults including generated including constraints);
    alter table ${REFERENCE_SCHEMA}.bookings add primary key (id);
  `);
}

export async function contentionReference(
  sql: Sql,
): Promise<ContentionResult> {
  await createReferenceSchema(sql);
  const callers = connect(CALLERS);
  const rounds: ContentionRound[] = [];
  const latencies: number[] = [];
  try {
    for (let round = 0; round < ROUNDS; round++) {
      await sql.unsafe(
        `truncate ${REFERENCE_SCHEMA}.bookings, ${REFERENCE_SCHEMA}.meeting_links_pool`,
      );
      await sql.unsafe(
        `insert into ${REFERENCE_SCHEMA}.meeting_links_pool (meeting_link, created_at)
         select 'https://meet.google.com/ref-' || translate(lpad(n::text, 4, '0'), '0123456789', 'abcdefghij') || '-lnk',
                timestamptz '2030-01-01' + n * interval '1 second'
         from generate_series(1, $1::int) as n`,
        [LINKS],
      );
      const ids = await paidBookingsInOneHour(sql, REFERENCE_SCHEMA);
      let errors = 0;
      const run = await load(ids.length, CALLERS, async (i) => {
        try {
          const [found] = await callers.unsafe<{ id: string }[]>(
            `select l.id
             from ${REFERENCE_SCHEMA}.bookings me, ${REFERENCE_SCHEMA}.meeting_links_pool l
             where me.id = $1 and l.is_available and not exists (
               select 1 from ${REFERENCE_SCHEMA}.bookings b
               where b.meeting_link_id = l.id and b.payment_status = 'paid' and b.slot && me.slot)
             order by l.created_at
             limit 1`,
            [ids[i]],
          );
          if (!found) return "pool_exhausted";
          await callers.unsafe(
            `update ${REFERENCE_SCHEMA}.bookings set meeting_link_id = $1 where id = $2`,
            [found.id, ids[i]],
          );
          return "assigned";
        } catch (error) {
          errors++;
          return `error ${(error as { code?: string }).code}`;
        }
      });
      latencies.push(...run.latencies);
      const state = await linkState(sql, REFERENCE_SCHEMA);
      rounds.push({
        perSecond: run.perSecond,
        elapsedMs: run.elapsedMs,
        statuses: tally(run.results, (r) => r),
        assigned: state.assigned,
        distinctLinks: state.distinct_links,
        overlappingPairs: await overlappingPairs(
          sql,
          `${REFERENCE_SCHEMA}.bookings`,
        ),
        errors,
      });
    }
  } finally {
    await callers.end({ timeout: 5 });
    await sql.unsafe(`drop schema if exists ${REFERENCE_SCHEMA} cascade`);
  }
  return combine(
    "BASELINE: reference design, bare SQL (find, then update; no constraint, no locks)",
    rounds,
    latencies,
  );
}

/**
 * Runs `run` with PostgreSQL's default durability (fsync, synchronous_commit and
 * full_page_writes on: every commit waits for its WAL flush) instead of the stack's relaxed
 * settings, then puts those back. The claim path's waiting was once suspected of hanging only
 * there.
 */
export async function withDefaultDurability<T>(
  sql: Sql,
  run: () => Promise<T>,
): Promise<T> {
  const settings = ["fsync", "synchronous_commit", "full_page_writes"];
  const apply = async (value: "on" | null) => {
    for (const name of settings) {
      await sql.unsafe(
        value
          ? `alter system set ${name} = ${value}`
          : `alter system reset ${name}`,
      );
    }
    await sql`select pg_reload_conf()`;
    // The reload reaches every backend at its next command; wait until it is in effect.
    for (let i = 0; i < 50; i++) {
      const [{ fsync }] = await sql<{ fsync: string }[]>`
        select current_setting('fsync') as fsync`;
      if ((fsync === "on") === (value === "on")) return;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    throw new Error("the durability settings did not take effect");
  };
  await apply("on");
  try {
    return await run();
  } finally {
    await apply(null);
  }
}
