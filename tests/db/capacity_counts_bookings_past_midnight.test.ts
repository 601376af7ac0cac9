// Issue 13, case 6: an admin reads meeting_link_capacity to see which days need more links.
// Bookings paid through the webhook that run past midnight (Asia/Jakarta) count on every day
// they overlap.
import assert from "node:assert/strict";
import {
  answer,
  createBooking,
  deliver,
  settlement,
  webhookTest,
} from "../support/mod.ts";

webhookTest(
  "three 22:00-02:00 bookings and a 24 h one, paid through the webhook: capacity counts each on every Jakarta day it overlaps",
  async (sql) => {
    const slots: [string, string, string][] = [
      ["night-1", "2031-05-01 22:00+07", "2031-05-02 02:00+07"],
      ["night-2", "2031-05-01 22:00+07", "2031-05-02 02:00+07"],
      ["night-3", "2031-05-01 23:00+07", "2031-05-02 01:30+07"],
      ["whole-day", "2031-05-10 12:00+07", "2031-05-11 12:00+07"],
    ];
    for (const [order, startsAt, endsAt] of slots) {
      await createBooking(sql, order, { startsAt, endsAt });
      assert.equal(answer(await deliver(settlement(order))).outcome, "paid");
    }
    const days = await sql<{ day: string; peak: number }[]>`
      select day_in_jakarta::text as day, peak_overlapping_paid_bookings::int as peak
      from meeting_link_capacity order by day_in_jakarta`;
    assert.deepEqual(days.map((d) => [d.day, d.peak]), [
      ["2031-05-01", 3],
      ["2031-05-02", 3],
      ["2031-05-10", 1],
      ["2031-05-11", 1],
    ]);
  },
  { links: 2 },
);
