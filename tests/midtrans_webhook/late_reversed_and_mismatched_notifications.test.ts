// Notifications that arrive late, out of order, reverse a payment, or do not match the booking:
// the state machine of record_midtrans_notification, over HTTP.
import assert from "node:assert/strict";
import {
  answer,
  bookingState,
  createBooking,
  deliver,
  followUp,
  type Notification,
  notificationLog,
  postToWebhook,
  sample,
  settleBackgroundWork,
  settlement,
  signed,
  type Sql,
  webhookTest,
} from "../support/mod.ts";

/** Delivers `n`, lets the link request finish, and says what the webhook answered. */
async function deliverAndSettle(n: Notification) {
  const response = await deliver(n);
  await settleBackgroundWork();
  return answer(response);
}

async function paidWithLink(
  sql: Sql,
  orderId: string,
  n = settlement(orderId),
) {
  await createBooking(sql, orderId);
  assert.deepEqual(await deliverAndSettle(n), { status: 200, outcome: "paid" });
  const state = await bookingState(sql, orderId);
  assert.notEqual(state.meeting_link, null, `${orderId} got a link`);
  return state.meeting_link!;
}

webhookTest(
  "a pending notification arriving after the settlement is confirmed as the settlement: a duplicate, the booking stays paid",
  async (sql) => {
    const paid = settlement("late-pending");
    const link = await paidWithLink(sql, "late-pending", paid);

    // Late: Midtrans settled the transaction long ago and says so.
    const late = answer(
      await postToWebhook(signed(followUp(paid, "pending", "201"))),
    );

    assert.deepEqual(late, { status: 200, outcome: "duplicate" });
    const state = await bookingState(sql, "late-pending");
    assert.equal(state.payment_status, "paid");
    assert.equal(state.meeting_link, link);
    assert.deepEqual(
      (await notificationLog(sql, "late-pending")).map((r) => [
        r.transaction_status,
        r.deliveries,
      ]),
      [["settlement", 2]],
    );
  },
);

webhookTest(
  "a pending notification Midtrans confirms as pending after the settlement is logged and ignored",
  async (sql) => {
    const paid = settlement("pending-again");
    const link = await paidWithLink(sql, "pending-again", paid);

    const again = await deliverAndSettle(followUp(paid, "pending", "201"));

    assert.deepEqual(again, { status: 200, outcome: "ignored" });
    const state = await bookingState(sql, "pending-again");
    assert.deepEqual([state.payment_status, state.meeting_link], [
      "paid",
      link,
    ]);
    assert.deepEqual(
      (await notificationLog(sql, "pending-again")).map((r) =>
        r.transaction_status
      ),
      ["settlement", "pending"],
    );
  },
);

webhookTest(
  "a Permata VA paid after its expire notification is paid: money received wins",
  async (sql) => {
    const expire = sample("permata_va_expire");
    const orderId = expire.order_id as string;
    await createBooking(sql, orderId, {
      amount: expire.gross_amount as string,
    });
    assert.deepEqual(answer(await deliver(expire)), {
      status: 200,
      outcome: "status_changed",
    });
    assert.equal((await bookingState(sql, orderId)).payment_status, "expired");

    const paid = await deliverAndSettle({
      ...followUp(expire, "settlement", "200"),
      settlement_time: "2016-07-04 00:54:10",
    });

    assert.deepEqual(paid, { status: 200, outcome: "paid" });
    const state = await bookingState(sql, orderId);
    assert.equal(state.payment_status, "paid");
    assert.notEqual(state.meeting_link, null);
  },
);

webhookTest(
  "a deny of the paying transaction after its settlement un-pays the booking and its link goes to a waiting overlapping booking",
  async (sql) => {
    // One link: the second paid booking of the hour waits for it.
    const settled = settlement("permata-denied", {
      payment_type: "bank_transfer",
    });
    const link = await paidWithLink(sql, "permata-denied", settled);
    await createBooking(sql, "waiting");
    assert.deepEqual(await deliverAndSettle(settlement("waiting")), {
      status: 200,
      outcome: "paid",
    });
    assert.equal((await bookingState(sql, "waiting")).meeting_link, null);

    const denied = await deliverAndSettle(followUp(settled, "deny", "202"));

    assert.deepEqual(denied, { status: 200, outcome: "status_changed" });
    const state = await bookingState(sql, "permata-denied");
    assert.equal(state.payment_status, "failed");
    assert.equal(state.meeting_link, null);
    assert.equal((await bookingState(sql, "waiting")).meeting_link, link);
  },
);

webhookTest(
  "a late deny of another transaction of the order does not un-pay the booking",
  async (sql) => {
    const link = await paidWithLink(sql, "other-deny");

    const denied = await deliverAndSettle(
      followUp(
        settlement("other-deny", { transaction_id: "an-earlier-attempt" }),
        "deny",
        "202",
      ),
    );

    assert.deepEqual(denied, { status: 200, outcome: "ignored" });
    const state = await bookingState(sql, "other-deny");
    assert.equal(state.payment_status, "paid");
    assert.equal(state.meeting_link, link);
  },
);

webhookTest(
  "a deny that overtakes its own settlement wins: the late settlement notification is confirmed as the deny",
  async (sql) => {
    await createBooking(sql, "deny-first");
    const settled = settlement("deny-first");
    assert.deepEqual(answer(await deliver(followUp(settled, "deny", "202"))), {
      status: 200,
      outcome: "status_changed",
    });

    const late = answer(await postToWebhook(signed(settled)));

    assert.deepEqual(late, { status: 200, outcome: "duplicate" });
    // And should Midtrans ever confirm a settlement of that denied transaction, it is ignored.
    assert.deepEqual(await deliverAndSettle(settled), {
      status: 200,
      outcome: "ignored",
    });
    const state = await bookingState(sql, "deny-first");
    assert.equal(state.payment_status, "failed");
    assert.equal(state.meeting_link, null);
  },
);

webhookTest(
  "a refund after the settlement frees the slot: a new overlapping booking gets that link",
  async (sql) => {
    const settled = settlement("refunded");
    const link = await paidWithLink(sql, "refunded", settled);

    const refunded = await deliverAndSettle(followUp(settled, "refund", "200"));

    assert.deepEqual(refunded, { status: 200, outcome: "status_changed" });
    const state = await bookingState(sql, "refunded");
    assert.equal(state.payment_status, "refunded");
    assert.equal(state.meeting_link, null);
    await createBooking(sql, "next-customer", {
      startsAt: "2031-03-03 10:30+07",
      endsAt: "2031-03-03 11:30+07",
    });
    assert.deepEqual(await deliverAndSettle(settlement("next-customer")), {
      status: 200,
      outcome: "paid",
    });
    assert.equal((await bookingState(sql, "next-customer")).meeting_link, link);
  },
);

const NOT_PAID: [string, Notification][] = [
  [
    "for less than the booking costs",
    settlement("mismatch", { gross_amount: "15000.00" }),
  ],
  ["in another currency", settlement("mismatch", { currency: "USD" })],
  [
    "whose status_code, as Midtrans confirms it, is not 200",
    settlement("mismatch", { status_code: "201" }),
  ],
];

for (const [what, n] of NOT_PAID) {
  webhookTest(
    `a settlement ${what} does not pay the booking: it is logged and flagged for review`,
    async (sql) => {
      await createBooking(sql, "mismatch");

      const response = await deliverAndSettle(n);

      assert.deepEqual(response, { status: 200, outcome: "needs_review" });
      const state = await bookingState(sql, "mismatch");
      assert.equal(state.payment_status, "pending");
      assert.equal(state.meeting_link, null);
      assert.match(state.review_reason ?? "", /tx-mismatch/);
      assert.deepEqual(
        (await notificationLog(sql, "mismatch")).map((r) => r.outcome),
        ["needs_review"],
      );
    },
  );
}
