// Signatures the webhook engineer's tests leave out: a signature_key cut short or lengthened,
// and a captured notification replayed later, after its booking has moved on.
import assert from "node:assert/strict";
import {
  addLinks,
  createBooking,
  deliver,
  followUp,
  postToWebhook,
  resetData,
  settlement,
  signed,
  withSql,
} from "../support/mod.ts";

const ORDER = "signature-1";

async function oneBooking(): Promise<void> {
  await withSql(async (sql) => {
    await resetData(sql);
    await addLinks(sql, 1);
    await createBooking(sql, ORDER, {
      amount: "100000.00",
      startsAt: "2031-05-01 10:00Z",
      endsAt: "2031-05-01 11:00Z",
    });
  });
}

const paidInFull = () =>
  signed(
    settlement(ORDER, {
      transaction_id: "sig-tx-1",
      gross_amount: "100000.00",
    }),
  );

Deno.test("a signature_key cut short, emptied or lengthened is refused with 401 and records nothing", async () => {
  await oneBooking();
  const good = paidInFull();
  const variants = [
    good.signature_key.slice(0, 127),
    good.signature_key.slice(0, 64),
    good.signature_key.slice(0, 1),
    "",
    `${good.signature_key}0`,
    `${good.signature_key} `,
  ];
  for (const signature_key of variants) {
    const answer = await postToWebhook({ ...good, signature_key });
    assert.equal(
      answer.status,
      401,
      `signature of ${signature_key.length} chars`,
    );
    assert.equal(answer.json?.error, "invalid_signature");
  }
  await withSql(async (sql) => {
    const [state] = await sql`
      select (select count(*)::int from midtrans_notifications) as notifications,
        (select payment_status from bookings where order_id = ${ORDER}) as status`;
    assert.deepEqual({ ...state }, { notifications: 0, status: "pending" });
  });
});

Deno.test("a settlement replayed after its booking was refunded is a duplicate and does not pay it again", async () => {
  await oneBooking();
  const paid = paidInFull();
  const captured = JSON.stringify(paid);
  assert.equal((await deliver(paid)).json?.outcome, "paid");
  assert.equal(
    (await deliver(followUp(paid, "refund"))).json?.outcome,
    "status_changed",
  );

  // Midtrans now says the transaction is refunded: the replay is that refund, delivered again.
  const replay = await postToWebhook(captured);
  assert.equal(replay.status, 200);
  assert.equal(replay.json?.outcome, "duplicate");
  assert.equal(replay.json?.confirmedStatus, "refund");
  assert.equal(replay.json?.paymentStatus, "refunded");
  await withSql(async (sql) => {
    const rows = await sql`
      select n.transaction_status, n.deliveries, n.outcome, b.payment_status,
        b.meeting_link_id is null as no_link
      from bookings b join midtrans_notifications n on n.order_id = b.order_id
      where b.order_id = ${ORDER} order by n.id`;
    assert.deepEqual(rows.map((r) => ({ ...r })), [
      {
        transaction_status: "settlement",
        deliveries: 1,
        outcome: "paid",
        payment_status: "refunded",
        no_link: true,
      },
      {
        transaction_status: "refund",
        deliveries: 2,
        outcome: "status_changed",
        payment_status: "refunded",
        no_link: true,
      },
    ]);
  });
});
