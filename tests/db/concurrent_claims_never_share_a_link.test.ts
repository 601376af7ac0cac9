// Concurrent assignment over real, separate Postgres connections: the claim never deadlocks,
// never double-books, and never hands a caller an error.
import assert from "node:assert/strict";
import {
  addLinks,
  connect,
  insertBookings,
  paidBookingsSharingALink,
  resetData,
} from "../support/mod.ts";

const ROUNDS = 20;
const CONNECTIONS = 20;

const ONE_HOUR = {
  startsAt: "2031-01-15 10:00+07",
  endsAt: "2031-01-15 11:00+07",
};

Deno.test(`100 paid bookings in one hour, pool of 10, ${CONNECTIONS} connections: 10 distinct links, 90 flagged, no errors, ${ROUNDS} rounds`, async () => {
  const setup = connect({ max: 1 });
  // Every assignment on its own connection from a pool of 20, all in flight at once.
  const callers = connect({ max: CONNECTIONS, prepare: false });
  try {
    for (let round = 1; round <= ROUNDS; round++) {
      await resetData(setup);
      await addLinks(setup, 10);
      const ids = await insertBookings(setup, 100, { slot: ONE_HOUR });
      const results = await Promise.allSettled(
        ids.map(async (id) =>
          (await callers<
            { outcome: string }[]
          >`select outcome from assign_meeting_link(${id})`)[0].outcome
        ),
      );
      const errors = results.flatMap((r) =>
        r.status === "rejected" ? [String(r.reason)] : []
      );
      assert.deepEqual(errors, [], `round ${round}: no caller sees an error`);

      const outcomes = results.flatMap((r) =>
        r.status === "fulfilled" ? [r.value] : []
      );
      assert.equal(
        outcomes.filter((o) => o === "assigned").length,
        10,
        `round ${round}: ten assigned`,
      );
      assert.equal(
        outcomes.filter((o) => o === "pool_exhausted").length,
        90,
        `round ${round}: ninety exhausted`,
      );

      const [state] = await setup`
        select count(meeting_link_id)::int as with_link,
               count(distinct meeting_link_id)::int as distinct_links,
               count(*) filter (where needs_manual_link)::int as flagged,
               count(*) filter (where payment_status <> 'paid')::int as unpaid
        from bookings`;
      assert.deepEqual(state, {
        with_link: 10,
        distinct_links: 10,
        flagged: 90,
        unpaid: 0,
      }, `round ${round}: database agrees`);
      assert.deepEqual(
        await paidBookingsSharingALink(setup),
        [],
        `round ${round}: the health check finds no link shared by overlapping paid bookings`,
      );
    }
    const [{ connections }] = await setup`
      select count(*)::int as connections from pg_stat_activity where application_name = 'postgres.js'`;
    assert.ok(
      connections >= CONNECTIONS,
      `the calls really used ${CONNECTIONS} connections (saw ${connections})`,
    );
  } finally {
    await callers.end({ timeout: 5 });
    await setup.end({ timeout: 5 });
  }
});

Deno.test("48 back-to-back half hours assigned all at once share the single link: contention makes callers wait, never fail", async () => {
  const sql = connect({ max: CONNECTIONS });
  try {
    await resetData(sql);
    await sql`insert into meeting_links_pool (meeting_link) values ('https://meet.google.com/one-slot-lnk')`;
    // Neighbouring half hours share an hour of advisory locks, so claims collide and must wait.
    const ids = (await sql<{ id: string }[]>`
      insert into bookings (order_id, starts_at, ends_at, amount, payment_status)
      select 'half-hour-' || h, timestamptz '2031-02-01 00:00Z' + h * interval '30 minutes',
             timestamptz '2031-02-01 00:30Z' + h * interval '30 minutes', 50000, 'paid'
      from generate_series(0, 47) as h
      returning id`).map((row) => row.id);
    const outcomes = await Promise.all(
      ids.map(async (id) =>
        (await sql<
          { outcome: string }[]
        >`select outcome from assign_meeting_link(${id})`)[0].outcome
      ),
    );
    assert.deepEqual(outcomes, ids.map(() => "assigned"));
  } finally {
    await sql.end({ timeout: 5 });
  }
});
