// Midtrans's own published notifications (tests/fixtures/midtrans), re-signed with the local
// server key, against a booking with the sample's order_id and amount: the documented states.
import assert from "node:assert/strict";
import {
  answer,
  bookingState,
  createBooking,
  deliver,
  notificationLog,
  type Sample,
  sample,
  webhookTest,
} from "../support/mod.ts";

const DOCUMENTED: [Sample, string, string, string][] = [
  [
    "card_capture_accept",
    "a card capture accepted by fraud screening",
    "paid",
    "paid",
  ],
  ["gopay_settlement", "a GoPay settlement", "paid", "paid"],
  ["bca_va_settlement", "a BCA virtual account settlement", "paid", "paid"],
  [
    "permata_va_expire",
    "a Permata virtual account expiry",
    "expired",
    "status_changed",
  ],
];

for (const [file, what, status, outcome] of DOCUMENTED) {
  webhookTest(
    `Midtrans's published sample of ${what} (${file}.json) makes the booking ${status}`,
    async (sql) => {
      const n = sample(file);
      await createBooking(sql, n.order_id as string, {
        amount: n.gross_amount as string,
      });

      const response = await deliver(n);

      assert.deepEqual(
        answer(response),
        { status: 200, outcome },
        response.text,
      );
      assert.equal(
        (await bookingState(sql, n.order_id as string)).payment_status,
        status,
      );
    },
  );
}

webhookTest(
  "a notification is logged exactly as Midtrans sent it, fields this system does not read included",
  async (sql) => {
    const n = sample("bca_va_settlement");
    await createBooking(sql, n.order_id as string, {
      amount: n.gross_amount as string,
    });

    const response = await deliver(n);

    assert.equal(response.status, 200, response.text);
    const [logged] = await notificationLog(sql, n.order_id as string);
    assert.deepEqual(
      { ...logged.payload, signature_key: undefined },
      { ...n, signature_key: undefined },
    );
    assert.deepEqual(logged.payload.va_numbers, [{
      va_number: "333333333333333",
      bank: "bca",
    }]);
  },
);
