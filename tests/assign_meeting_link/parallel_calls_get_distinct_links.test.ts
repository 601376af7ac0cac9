// assign-meeting-link under concurrent HTTP calls: one link per booking, never one link twice.
import assert from "node:assert/strict";
import {
  addLinks,
  assignLink,
  insertBookings,
  resetData,
  withSql,
} from "../support/mod.ts";

type Assignment = {
  bookingId: string;
  meetingLinkId: string;
  meetingLink: string;
  alreadyAssigned: boolean;
};

Deno.test("50 parallel calls for one booking all answer 200 with the one link it got", async () => {
  await withSql(async (sql) => {
    await resetData(sql);
    await addLinks(sql, 10);
    const [bookingId] = await insertBookings(sql, 1);

    const responses = await Promise.all(
      Array.from({ length: 50 }, () => assignLink(bookingId)),
    );

    assert.deepEqual(responses.map((r) => r.status), responses.map(() => 200));
    const bodies = responses.map((r) => r.json as Assignment);
    assert.equal(new Set(bodies.map((b) => b.meetingLinkId)).size, 1);
    assert.equal(bodies.filter((b) => !b.alreadyAssigned).length, 1);
    const [row] =
      await sql`select meeting_link_id from bookings where id = ${bookingId}`;
    assert.equal(row.meeting_link_id, bodies[0].meetingLinkId);
  });
});

Deno.test("50 parallel calls for 50 paid bookings in one slot with a pool of 10: 10 distinct links, 40 pool_exhausted, and the database agrees", async () => {
  await withSql(async (sql) => {
    await resetData(sql);
    const linkIds = await addLinks(sql, 10);
    const bookingIds = await insertBookings(sql, 50);

    const responses = await Promise.all(bookingIds.map((id) => assignLink(id)));

    const assigned = responses.filter((r) => r.status === 200).map((r) =>
      r.json as Assignment
    );
    const exhausted = responses.filter((r) =>
      r.status === 409 &&
      (r.json as { error: string }).error === "pool_exhausted"
    );
    assert.equal(assigned.length, 10, "ten get a link");
    assert.equal(exhausted.length, 40, "forty are told the pool is exhausted");
    assert.deepEqual(
      assigned.map((a) => a.meetingLinkId).sort(),
      [...linkIds].sort(),
      "every link handed out once",
    );
    assert.ok(assigned.every((a) => !a.alreadyAssigned));

    const rows = await sql<
      {
        id: string;
        meeting_link_id: string | null;
        needs_manual_link: boolean;
        payment_status: string;
      }[]
    >`select id, meeting_link_id, needs_manual_link, payment_status from bookings`;
    assert.deepEqual(
      Object.fromEntries(
        rows.filter((r) => r.meeting_link_id).map((
          r,
        ) => [r.id, r.meeting_link_id]),
      ),
      Object.fromEntries(assigned.map((a) => [a.bookingId, a.meetingLinkId])),
      "the database holds exactly the links the callers were given",
    );
    assert.deepEqual(
      rows.filter((r) => r.needs_manual_link).map((r) => r.id).sort(),
      exhausted.map((r) => (r.json as { bookingId: string }).bookingId).sort(),
      "exactly the exhausted bookings are flagged for a manual link",
    );
    assert.ok(rows.every((r) => r.payment_status === "paid"), "all stay paid");
  });
});
