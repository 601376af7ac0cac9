// An admin caps links with max_uses (link hygiene) and reads meeting_link_capacity to see which
// days need more links: a link that has served its max_uses can never be assigned again, so it
// is not capacity.
import assert from "node:assert/strict";
import { addLinks, connect, resetData } from "../support/mod.ts";

Deno.test("meeting_link_capacity counts only links that can still be assigned: not retired ones, not ones at their max_uses", async () => {
  const sql = connect({ max: 1 });
  try {
    await resetData(sql);
    const [usedUp, capped, _free, retired] = await addLinks(sql, 4);
    await sql`update meeting_links_pool set max_uses = 1 where id in (${usedUp}, ${capped})`;
    await sql`update meeting_links_pool set is_available = false where id = ${retired}`;
    await sql`
      insert into bookings (order_id, starts_at, ends_at, amount, payment_status, meeting_link_id)
      values ('capped-1', '2031-06-01 10:00+07', '2031-06-01 11:00+07', 150000, 'paid', ${usedUp})`;

    const days = await sql<{ day: string; peak: number; available: number }[]>`
      select day_in_jakarta::text as day, peak_overlapping_paid_bookings::int as peak,
        available_links::int as available
      from meeting_link_capacity`;
    assert.deepEqual([...days], [{ day: "2031-06-01", peak: 1, available: 2 }]);
  } finally {
    await sql.end({ timeout: 5 });
  }
});
