// An admin re-enables a link while thousands of paid 24-hour bookings wait for one. Every claim
// holds its (link, hour) advisory locks until its transaction commits, 25 for a 24-hour slot, so
// one pass serving the whole backlog in one transaction ran out of shared lock memory: the
// admin's UPDATE failed, and so did the every-minute sweep, every minute, serving nobody.
import assert from "node:assert/strict";
import {
  connect,
  paidBookingsSharingALink,
  resetData,
} from "../support/mod.ts";

const BACKLOG = 3000;

Deno.test(`${BACKLOG} waiting 24 h bookings: re-enabling a link and the sweep serve them in batches, never out of shared memory`, async () => {
  const sql = connect({ max: 1 });
  try {
    await resetData(sql);
    await sql`insert into meeting_links_pool (meeting_link, is_available)
      values ('https://meet.google.com/bck-logg-lnk', false)`;
    // One a day, so one link can serve them all.
    await sql`
      insert into bookings (order_id, starts_at, ends_at, amount, payment_status)
      select 'backlog-' || i, '2031-01-01 00:00+07'::timestamptz + i * interval '1 day',
        '2031-01-01 00:00+07'::timestamptz + (i + 1) * interval '1 day', 150000, 'paid'
      from generate_series(1, ${BACKLOG}::int) as i`;

    await sql`update meeting_links_pool set is_available = true`;
    const served = async () =>
      (await sql<{ n: number }[]>`
        select count(*)::int as n from bookings where meeting_link_id is not null`)[
        0
      ].n;
    const afterUpdate = await served();
    assert.ok(
      afterUpdate > 0,
      "the re-enabled link serves the first bookings at once",
    );
    assert.ok(afterUpdate < BACKLOG, "and leaves the rest to the sweep");

    let runs = 0;
    while (await served() < BACKLOG) {
      const [{ assigned }] = await sql<{ assigned: number }[]>`
        select assign_pending_meeting_links() as assigned`;
      assert.ok(assigned > 0, `sweep run ${++runs} makes progress`);
    }
    assert.deepEqual(await paidBookingsSharingALink(sql), []);
  } finally {
    await sql.end({ timeout: 5 });
  }
});
