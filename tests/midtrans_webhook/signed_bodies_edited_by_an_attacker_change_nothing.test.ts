// Issue 13, cases 1 to 4, as an attacker with a captured, genuinely signed notification tries
// them (the signature covers only order_id, status_code and gross_amount, so every other field
// can be edited without breaking it), and as an admin who paid a booking by hand meets them.
// Each is refused or harmless because the webhook applies what Midtrans's Get Status API
// confirms for the notification's transaction, never the edited fields.
import assert from "node:assert/strict";
import {
  answer,
  assignLink,
  bookingState,
  createBooking,
  deliver,
  followUp,
  notificationLog,
  postToWebhook,
  putTransaction,
  settleBackgroundWork,
  settlement,
  signed,
  snapshotTables,
  statusFieldsOf,
  webhookTest,
} from "../support/mod.ts";

webhookTest(
  "an attacker resends a captured settlement as refund, cancel, chargeback or deny: the booking stays paid with its link",
  async (sql) => {
    await createBooking(sql, "copied-settlement");
    const paid = settlement("copied-settlement");
    assert.deepEqual(answer(await deliver(paid)), {
      status: 200,
      outcome: "paid",
    });
    await settleBackgroundWork();
    const { meeting_link: link } = await bookingState(sql, "copied-settlement");
    assert.notEqual(link, null);

    const captured = signed(paid);
    for (const status of ["refund", "cancel", "chargeback", "deny"]) {
      const edited = { ...captured, transaction_status: status };
      assert.deepEqual(
        answer(await postToWebhook(edited)),
        { status: 200, outcome: "duplicate" },
        `${status}: Midtrans confirms the settlement, which was recorded already`,
      );
    }
    assert.deepEqual(
      answer(await postToWebhook(captured)),
      { status: 200, outcome: "duplicate" },
      "the genuine settlement, redelivered, is still answered 200",
    );
    const state = await bookingState(sql, "copied-settlement");
    assert.deepEqual([state.payment_status, state.meeting_link], [
      "paid",
      link,
    ]);
    assert.deepEqual(
      (await notificationLog(sql, "copied-settlement")).map((
        r,
      ) => [r.transaction_status, r.outcome, r.deliveries]),
      [["settlement", "paid", 6]],
    );

    // A refund Midtrans confirms still ends the booking.
    assert.deepEqual(answer(await deliver(followUp(paid, "refund"))), {
      status: 200,
      outcome: "status_changed",
    });
    assert.equal(
      (await bookingState(sql, "copied-settlement")).payment_status,
      "refunded",
    );
  },
);

webhookTest(
  "an attacker resends a captured cancel as a settlement of a new transaction: 404, the booking is not paid",
  async (sql) => {
    await createBooking(sql, "copied-cancel");
    // Midtrans documents the cancel notification with status_code 200: its signature is the
    // one a settlement of this order would carry.
    const cancel = followUp(settlement("copied-cancel"), "cancel", "200");
    assert.deepEqual(answer(await deliver(cancel)), {
      status: 200,
      outcome: "status_changed",
    });
    const before = await snapshotTables(sql);

    const captured = signed(cancel);
    const forged = {
      ...captured,
      transaction_status: "settlement",
      transaction_id: "tx-made-up",
    };
    assert.deepEqual(answer(await postToWebhook(forged)), {
      status: 404,
      error: "transaction_not_found",
    });
    assert.deepEqual(await snapshotTables(sql), before, "nothing is written");

    assert.deepEqual(
      answer(
        await postToWebhook({ ...captured, transaction_status: "settlement" }),
      ),
      { status: 200, outcome: "duplicate" },
      "with its own transaction_id, Midtrans confirms the cancel",
    );
    await settleBackgroundWork();
    const state = await bookingState(sql, "copied-cancel");
    assert.deepEqual([state.payment_status, state.meeting_link], [
      "cancelled",
      null,
    ]);
  },
);

webhookTest(
  "an attacker gives order A's signed settlement order B's transaction_id: 409, and B's real settlement still pays B",
  async (sql) => {
    await createBooking(sql, "order-a");
    await createBooking(sql, "order-b", {
      startsAt: "2031-03-04 10:00+07",
      endsAt: "2031-03-04 11:00+07",
    });
    const paidA = settlement("order-a");
    assert.equal(answer(await deliver(paidA)).outcome, "paid");
    await settleBackgroundWork();
    // B is paid at Midtrans; its notification is still on its way.
    const paidB = settlement("order-b");
    await putTransaction("order-b", statusFieldsOf(paidB));
    const before = await snapshotTables(sql);

    const forged = { ...signed(paidA), transaction_id: paidB.transaction_id };
    assert.deepEqual(answer(await postToWebhook(forged)), {
      status: 409,
      error: "transaction_order_mismatch",
    });
    assert.deepEqual(await snapshotTables(sql), before, "nothing is written");

    assert.deepEqual(answer(await postToWebhook(signed(paidB))), {
      status: 200,
      outcome: "paid",
    }, "B's own notification is not a duplicate of anything");
    assert.equal((await bookingState(sql, "order-b")).payment_status, "paid");
  },
);

webhookTest(
  "an admin pays a booking by hand: a deny of an earlier card attempt leaves it paid, a refund flags it for the admin",
  async (sql) => {
    const id = await createBooking(sql, "paid-by-hand");
    await sql`update bookings set payment_status = 'paid' where id = ${id}`;
    const assigned = await assignLink(id);
    assert.equal(assigned.status, 200);
    const link = (await bookingState(sql, "paid-by-hand")).meeting_link;
    assert.notEqual(link, null);

    const earlierCard = {
      ...settlement("paid-by-hand"),
      transaction_id: "tx-earlier-card",
      payment_type: "credit_card",
    };
    assert.deepEqual(
      answer(await deliver(followUp(earlierCard, "deny", "202"))),
      { status: 200, outcome: "ignored" },
    );
    let state = await bookingState(sql, "paid-by-hand");
    assert.deepEqual(
      [state.payment_status, state.meeting_link, state.review_reason],
      ["paid", link, null],
    );

    assert.deepEqual(
      answer(await deliver(followUp(earlierCard, "refund", "200"))),
      { status: 200, outcome: "ignored" },
      "a refund Midtrans confirms does not undo a payment it did not make",
    );
    state = await bookingState(sql, "paid-by-hand");
    assert.deepEqual([state.payment_status, state.meeting_link], [
      "paid",
      link,
    ]);
    assert.match(state.review_reason ?? "", /paid by hand/);

    // The admin decides: undone by hand, the link is freed.
    await sql`update bookings set payment_status = 'refunded' where id = ${id}`;
    assert.equal((await bookingState(sql, "paid-by-hand")).meeting_link, null);
  },
);

webhookTest(
  "an admin undoes a webhook payment by hand, then pays the booking by hand: a late chargeback of the old transaction leaves it paid",
  async (sql) => {
    const id = await createBooking(sql, "repaid-by-hand");
    const card = settlement("repaid-by-hand");
    assert.deepEqual(answer(await deliver(card)), {
      status: 200,
      outcome: "paid",
    });
    await settleBackgroundWork();
    // The admin refunds it outside Midtrans, then the customer pays by bank transfer.
    await sql`update bookings set payment_status = 'refunded' where id = ${id}`;
    await sql`update bookings set payment_status = 'paid' where id = ${id}`;
    assert.equal((await assignLink(id)).status, 200);
    const link = (await bookingState(sql, "repaid-by-hand")).meeting_link;
    assert.notEqual(link, null);

    assert.deepEqual(
      answer(await deliver(followUp(card, "chargeback", "200"))),
      { status: 200, outcome: "ignored" },
      "the old transaction did not pay the booking as it is now",
    );
    const state = await bookingState(sql, "repaid-by-hand");
    assert.deepEqual([state.payment_status, state.meeting_link], [
      "paid",
      link,
    ]);
    assert.match(state.review_reason ?? "", /paid by hand/);
  },
);
