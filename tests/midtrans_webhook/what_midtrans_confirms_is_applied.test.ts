// A signed notification whose unsigned fields disagree with what Midtrans's Get Status API says
// of its transaction: the confirmed status is applied, and the log keeps both, with the
// difference.
import assert from "node:assert/strict";
import {
  answer,
  bookingState,
  createBooking,
  followUp,
  postToWebhook,
  putTransaction,
  settlement,
  signed,
  type Sql,
  statusFieldsOf,
  webhookTest,
} from "../support/mod.ts";

async function confirmedLog(sql: Sql, orderId: string) {
  return await sql<
    {
      transaction_status: string;
      outcome: string;
      notified: string;
      confirmed: string;
      notified_differences: Record<string, unknown>;
    }[]
  >`
    select transaction_status, outcome, payload ->> 'transaction_status' as notified,
      confirmed ->> 'transaction_status' as confirmed, notified_differences
    from midtrans_notifications where order_id = ${orderId} order by id`;
}

webhookTest(
  "a notification says settlement while Midtrans says pending: the booking stays pending, the difference is logged",
  async (sql) => {
    await createBooking(sql, "says-settled");
    const paid = settlement("says-settled");
    await putTransaction(
      "says-settled",
      statusFieldsOf(followUp(paid, "pending")),
    );

    const response = await postToWebhook(signed(paid));
    assert.deepEqual(answer(response), { status: 200, outcome: "ignored" });
    assert.equal(response.json?.confirmedStatus, "pending");
    assert.equal(
      (await bookingState(sql, "says-settled")).payment_status,
      "pending",
    );
    const [row] = await confirmedLog(sql, "says-settled");
    assert.deepEqual({ ...row }, {
      transaction_status: "pending",
      outcome: "ignored",
      notified: "settlement",
      confirmed: "pending",
      notified_differences: {
        transaction_status: { notified: "settlement", confirmed: "pending" },
        status_code: { notified: "200", confirmed: "201" },
      },
    });
  },
);

webhookTest(
  "a late expire notification of a transaction Midtrans says settled pays the booking",
  async (sql) => {
    await createBooking(sql, "late-expire");
    const paid = settlement("late-expire");
    await putTransaction("late-expire", statusFieldsOf(paid));

    const response = await postToWebhook(
      signed(followUp(paid, "expire", "202")),
    );
    assert.deepEqual(answer(response), { status: 200, outcome: "paid" });
    assert.equal(
      (await bookingState(sql, "late-expire")).payment_status,
      "paid",
    );
    const [row] = await confirmedLog(sql, "late-expire");
    assert.deepEqual([row.notified, row.confirmed, row.transaction_status], [
      "expire",
      "settlement",
      "settlement",
    ]);
  },
);
