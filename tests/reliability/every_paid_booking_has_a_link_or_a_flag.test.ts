// Issue 13, case 5: a paid booking the pool cannot serve, or whose background assign failed, is
// served or flagged needs_manual_link by the every-minute sweep (assign_pending_meeting_links(),
// which these tests call as pg_cron does); the flag clears when a link arrives.
import assert from "node:assert/strict";
import {
  addLinks,
  answer,
  bookingState,
  connect,
  createBooking,
  deliver,
  freePort,
  resetData,
  settlement,
  spawnFunctionsServer,
  withPoolLocked,
} from "../support/mod.ts";

Deno.test("the background assign fails: the sweep gives the paid booking a link or flags it, and a new link clears the flag", async () => {
  const sql = connect();
  // Its queries give up after 300 ms: with the pool locked, every background assign fails.
  const server = await spawnFunctionsServer(freePort(), {
    DB_QUERY_TIMEOUT_MS: "300",
  });
  try {
    await resetData(sql);
    await addLinks(sql, 1);
    for (const order of ["sweep-1", "sweep-2"]) {
      await createBooking(sql, order); // the same hour: one link serves one of them
    }
    const waiting = async () =>
      await sql<{ order_id: string }[]>`
        select order_id from bookings
        where payment_status = 'paid' and meeting_link_id is null and not needs_manual_link
        order by order_id`;
    await withPoolLocked(async () => {
      for (const order of ["sweep-1", "sweep-2"]) {
        assert.deepEqual(
          answer(await deliver(settlement(order), { apiUrl: server.url })),
          { status: 200, outcome: "paid" },
        );
      }
      await fetch(`${server.url}/_local/settle`, { method: "POST" })
        .then((r) => r.text());
      // Read under the lock: a pg_cron sweep needs the pool too, so none can have served them.
      assert.deepEqual(
        (await waiting()).map((row) => row.order_id),
        ["sweep-1", "sweep-2"],
        "both paid, neither served nor flagged by the failed assigns",
      );
    });
    // Run the every-minute job as pg_cron does (one that waited for the lock may run now too).
    await sql`select assign_pending_meeting_links()`;
    assert.deepEqual(
      [...await waiting()],
      [],
      "after the sweep every paid booking has a link or needs_manual_link",
    );
    const states = await Promise.all(
      ["sweep-1", "sweep-2"].map((o) => bookingState(sql, o)),
    );
    assert.deepEqual(
      states.map((
        s,
      ) => [s.payment_status, s.meeting_link !== null, s.needs_manual_link])
        .sort(),
      [["paid", false, true], ["paid", true, false]],
      "the pool served one and flagged the other",
    );

    await addLinks(sql, 1, "new");
    const after = await Promise.all(
      ["sweep-1", "sweep-2"].map((o) => bookingState(sql, o)),
    );
    assert.deepEqual(
      after.map((s) => [s.meeting_link !== null, s.needs_manual_link]),
      [[true, false], [true, false]],
      "the new link goes to the flagged booking and its flag clears",
    );
  } finally {
    await server.stop();
    await sql.end({ timeout: 5 });
  }
});
