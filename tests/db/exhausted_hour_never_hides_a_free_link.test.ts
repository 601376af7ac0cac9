// An exhausted hour is answered from one index range (meeting_link_slot_is_full) instead of a walk
// of every link. Over real, separate connections, with disabled links that hold bookings in the
// hour and links used up by max_uses, it must never answer pool_exhausted while a link a claim
// could take is free: every assignable link ends up assigned, exactly once, and nothing else.
import assert from "node:assert/strict";
import {
  addLinks,
  connect,
  insertBookings,
  paidBookingsSharingALink,
  resetData,
} from "../support/mod.ts";

const ROUNDS = 10;
const CONNECTIONS = 20;
const HOUR = { startsAt: "2031-04-10 10:00+07", endsAt: "2031-04-10 11:00+07" };

Deno.test(`60 paid bookings in one hour, ${CONNECTIONS} connections, a pool of 12 of which 2 are disabled holding bookings in the hour and 3 used up by max_uses: the 7 assignable links are all given, 53 flagged, ${ROUNDS} rounds`, async () => {
  const setup = connect({ max: 1 });
  const callers = connect({ max: CONNECTIONS, prepare: false });
  try {
    for (let round = 1; round <= ROUNDS; round++) {
      await resetData(setup);
      const links = await addLinks(setup, 12);
      const disabled = links.slice(0, 2);
      const usedUp = links.slice(2, 5);
      // The disabled links hold a booking in the hour (given before they were retired).
      await setup`
        insert into bookings (order_id, starts_at, ends_at, amount, payment_status, meeting_link_id)
        select 'held-' || i, ${HOUR.startsAt}, ${HOUR.endsAt}, 1000, 'paid', (${disabled}::uuid[])[i]
        from generate_series(1, 2) i`;
      await setup`update meeting_links_pool set is_available = false where id = any(${disabled}::uuid[])`;
      // The used-up links served one booking each, a month earlier, and allow one use.
      await setup`
        insert into bookings (order_id, starts_at, ends_at, amount, payment_status, meeting_link_id)
        select 'used-' || i, '2031-03-10 10:00+07', '2031-03-10 11:00+07', 1000, 'paid', (${usedUp}::uuid[])[i]
        from generate_series(1, 3) i`;
      await setup`update meeting_links_pool set max_uses = 1 where id = any(${usedUp}::uuid[])`;
      const ids = await insertBookings(setup, 60, { slot: HOUR });

      const results = await Promise.allSettled(
        ids.map(async (id) =>
          (await callers<{ outcome: string }[]>`
            select outcome from assign_meeting_link(${id})`)[0].outcome
        ),
      );
      assert.deepEqual(
        results.flatMap((r) =>
          r.status === "rejected" ? [String(r.reason)] : []
        ),
        [],
        `round ${round}: no caller sees an error`,
      );
      const outcomes = results.flatMap((r) =>
        r.status === "fulfilled" ? [r.value] : []
      );
      assert.equal(
        outcomes.filter((o) => o === "assigned").length,
        7,
        `round ${round}: seven assigned`,
      );
      assert.equal(
        outcomes.filter((o) => o === "pool_exhausted").length,
        53,
        `round ${round}: 53 exhausted`,
      );

      const [state] = await setup<{ given: string[]; flagged: number }[]>`
        select array_agg(meeting_link_id::text order by meeting_link_id) filter (where meeting_link_id is not null) as given,
               count(*) filter (where needs_manual_link)::int as flagged
        from bookings where id = any(${ids}::uuid[])`;
      assert.deepEqual(
        state.given,
        links.slice(5).sort(),
        `round ${round}: each of the 7 assignable links once; no disabled or used-up link`,
      );
      assert.equal(state.flagged, 53, `round ${round}: the others flagged`);
      assert.deepEqual(
        await paidBookingsSharingALink(setup),
        [],
        `round ${round}: no link shared`,
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
