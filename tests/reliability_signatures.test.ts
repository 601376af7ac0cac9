// Signatures the webhook engineer's tests leave out: a signature_key cut short or lengthened,
// and a captured notification replayed later, after its booking has moved on.
import assert from "node:assert/strict";
import { withSql } from "./support/mod.ts";
import { addLinks, resetData } from "./support/data.ts";
import { postNotification, signed } from "./support/notify.ts";

const ORDER = "signature-1";

async function oneBooking(): Promise<void> {
  await withSql(async (sql) => {
    await resetData(sql);
    await addLinks(sql, 1);
    await sql`
      insert into bookings (order_id, starts_at, ends_at, amount)
      values (${ORDER}, '2031-05-01 10:00Z', '2031-05-01 11:00Z', 100000)`;
  });
}

const settlement = () =>
  signed({
    order_id: ORDER,
    transaction_id: "sig-tx-1",
    transaction_status: "settlement",
    status_code: "200",
    gross_amount: "100000.00",
  });

Deno.test("a signature_key cut short, emptied or lengthened is refused with 401 and records nothing", async () => {
  await oneBooking();
  const good = await settlement();
  const variants = [
    good.signature_key.slice(0, 127),
    good.signature_key.slice(0, 64),
    good.signature_key.slice(0, 1),
    "",
    `${good.signature_key}0`,
    `${good.signature_key} `,
  ];
  for (const signature_key of variants) {
    const answer = await postNotification({ ...good, signature_key });
    assert.equal(
      answer.status,
      401,
      `signature of ${signature_key.length} chars`,
    );
    assert.equal(answer.body?.error, "invalid_signature");
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
  const paid = await settlement();
  const captured = JSON.stringify(paid);
  assert.equal((await postNotification(captured)).body?.outcome, "paid");
  const refund = signed({
    ...paid,
    transaction_status: "refund",
    status_code: "200",
  });
  assert.equal(
    (await postNotification(refund)).body?.outcome,
    "status_changed",
  );

  const replay = await postNotification(captured);
  assert.equal(replay.status, 200);
  assert.equal(replay.body?.outcome, "duplicate");
  assert.equal(replay.body?.paymentStatus, "refunded");
  await withSql(async (sql) => {
    const [state] = await sql`
      select b.payment_status, b.meeting_link_id is null as no_link,
        n.deliveries, n.outcome
      from bookings b
      join midtrans_notifications n on n.order_id = b.order_id
        and n.transaction_status = 'settlement'
      where b.order_id = ${ORDER}`;
    assert.deepEqual({ ...state }, {
      payment_status: "refunded",
      no_link: true,
      deliveries: 2,
      outcome: "paid",
    });
  });
});
