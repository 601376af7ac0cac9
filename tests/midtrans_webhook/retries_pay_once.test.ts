// Midtrans retries, and may deliver one notification several times at once: a booking is paid
// once, its notification is logged once (deliveries counted), and it gets one link.
import assert from "node:assert/strict";
import {
  answer,
  bookingState,
  createBooking,
  deliver,
  notificationLog,
  settleBackgroundWork,
  settlement,
  type Sql,
  webhookTest,
} from "../support/mod.ts";

async function heldLinks(sql: Sql): Promise<number> {
  const [{ held }] = await sql`
    select count(distinct meeting_link_id)::int as held from bookings where meeting_link_id is not null`;
  return held;
}

webhookTest(
  "the same settlement delivered 5 times in a row pays the booking once, is logged once with 5 deliveries, and gives it one link",
  async (sql) => {
    await createBooking(sql, "retry-seq");
    const n = settlement("retry-seq");

    const first = await deliver(n);
    await settleBackgroundWork();
    const afterFirst = await bookingState(sql, "retry-seq");
    const [{ paid_at: paidAt }] =
      await sql`select paid_at from bookings where order_id = 'retry-seq'`;
    const retries = [];
    for (let i = 0; i < 4; i++) retries.push(answer(await deliver(n)));
    await settleBackgroundWork();

    assert.deepEqual(answer(first), { status: 200, outcome: "paid" });
    assert.deepEqual(
      retries,
      Array(4).fill({ status: 200, outcome: "duplicate" }),
    );
    assert.notEqual(
      afterFirst.meeting_link,
      null,
      "the first delivery got a link",
    );
    assert.deepEqual(
      await bookingState(sql, "retry-seq"),
      afterFirst,
      "retries change nothing",
    );
    const [{ paid_at: paidAtNow }] =
      await sql`select paid_at from bookings where order_id = 'retry-seq'`;
    assert.deepEqual(paidAtNow, paidAt);
    assert.deepEqual(
      (await notificationLog(sql, "retry-seq")).map((
        r,
      ) => [r.outcome, r.deliveries]),
      [["paid", 5]],
    );
    assert.equal(await heldLinks(sql), 1);
  },
  { links: 3 },
);

webhookTest(
  "the same settlement delivered 20 times at once pays the booking once, is logged once with 20 deliveries, and gives it one link",
  async (sql) => {
    await createBooking(sql, "retry-par");
    const n = settlement("retry-par");

    const answers =
      (await Promise.all(Array.from({ length: 20 }, () => deliver(n)))).map(
        answer,
      );
    await settleBackgroundWork();

    assert.deepEqual(
      answers.filter((a) => a.outcome === "paid"),
      [{ status: 200, outcome: "paid" }],
      "exactly one delivery made the booking paid",
    );
    assert.deepEqual(
      answers.filter((a) => a.outcome !== "paid"),
      Array(19).fill({ status: 200, outcome: "duplicate" }),
    );
    assert.deepEqual(
      (await notificationLog(sql, "retry-par")).map((
        r,
      ) => [r.outcome, r.deliveries]),
      [["paid", 20]],
    );
    const state = await bookingState(sql, "retry-par");
    assert.equal(state.payment_status, "paid");
    assert.notEqual(state.meeting_link, null);
    assert.equal(await heldLinks(sql), 1);
  },
  { links: 3 },
);
