// Holds, claims of paid bookings and payments of held bookings at once, over 20 real
// connections, for one hour and a pool of 10: no caller sees an error (no deadlock), and the
// hour never has more than 10 occupants (paid bookings with a link and live holds), each on its
// own link.
import assert from "node:assert/strict";
import {
  addLinks,
  connect,
  paidBookingsSharingALink,
  resetData,
} from "../support/mod.ts";

const ROUNDS = 5;

Deno.test(`30 holds, 30 claims and the payments of the held, at once on 20 connections: at most 10 occupants on distinct links, no errors, ${ROUNDS} rounds`, async () => {
  const setup = connect({ max: 1 });
  const callers = connect({ max: 20, prepare: false });
  try {
    for (let round = 1; round <= ROUNDS; round++) {
      await resetData(setup);
      await addLinks(setup, 10);
      const rows = await setup<{ id: string; paid: boolean }[]>`
        insert into bookings (order_id, starts_at, ends_at, amount, payment_status)
        select 'race-' || i, '2031-07-01 10:00+07', '2031-07-01 11:00+07', 1000,
          case when i % 2 = 0 then 'paid' else 'pending' end
        from generate_series(1, 60) i
        returning id, payment_status = 'paid' as paid`;
      const results = await Promise.allSettled(rows.map(async (row) => {
        if (row.paid) {
          await callers`select outcome from assign_meeting_link(${row.id})`;
          return;
        }
        const [{ held }] = await callers<{ held: boolean }[]>`
          select held from hold_meeting_link(${row.id}, 15)`;
        // Half of the held pay at once (by hand, as an admin would): they keep their link.
        if (held && row.id < "8") {
          await callers`update bookings set payment_status = 'paid' where id = ${row.id}`;
        }
      }));
      const errors = results.flatMap((r) =>
        r.status === "rejected" ? [String(r.reason)] : []
      );
      assert.deepEqual(errors, [], `round ${round}: no caller sees an error`);

      const occupants = await setup<{ link: string }[]>`
        select meeting_link_id as link from bookings where meeting_link_id is not null
        union all
        select meeting_link_id from meeting_link_holds where held_until > now()`;
      assert.ok(
        occupants.length <= 10,
        `round ${round}: ${occupants.length} occupants`,
      );
      assert.equal(
        new Set(occupants.map((o) => o.link)).size,
        occupants.length,
        `round ${round}: every occupant on its own link`,
      );
      const [{ lost }] = await setup<{ lost: number }[]>`
        select count(*)::int as lost from bookings b
        where b.payment_status = 'paid' and b.meeting_link_id is null
          and not b.needs_manual_link`;
      assert.equal(lost, 0, "every paid booking has a link or the flag");
      assert.deepEqual(await paidBookingsSharingALink(setup), []);
      assert.equal(
        (await setup`select 1 from live_holds_sharing_a_link()`).length,
        0,
        `round ${round}: no live hold shares a link (the health check agrees)`,
      );
    }
  } finally {
    await callers.end({ timeout: 5 });
    await setup.end({ timeout: 5 });
  }
});
