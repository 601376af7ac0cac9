// What the webhook refuses: anything not signed with our server key (401), anything that is not a
// well-formed notification (400, 413), even when Midtrans knows its transaction. None of it
// changes a single row anywhere.
import assert from "node:assert/strict";
import {
  answer,
  createBooking,
  deliver,
  notificationLog,
  postToWebhook,
  putTransaction,
  settlement,
  signed,
  snapshotTables,
  statusFieldsOf,
  webhookTest,
} from "../support/mod.ts";

const ORDER = "reject-1";
const OTHER_ORDER = "reject-2";

const UNSIGNED: [string, () => string][] = [
  ["without signature_key", () => JSON.stringify(settlement(ORDER))],
  [
    "with a made-up signature_key",
    () =>
      JSON.stringify({ ...settlement(ORDER), signature_key: "ab".repeat(64) }),
  ],
  [
    "signed with another server key",
    () =>
      JSON.stringify(
        signed(settlement(ORDER), "SB-Mid-server-SOMEONE-ELSES-KEY"),
      ),
  ],
  [
    "whose gross_amount was changed after signing",
    () =>
      JSON.stringify({ ...signed(settlement(ORDER)), gross_amount: "1500.00" }),
  ],
  [
    "whose gross_amount was rewritten without decimals after signing",
    () =>
      JSON.stringify({ ...signed(settlement(ORDER)), gross_amount: "150000" }),
  ],
  [
    "whose order_id was changed after signing",
    () =>
      JSON.stringify({ ...signed(settlement(ORDER)), order_id: OTHER_ORDER }),
  ],
  [
    "made from a signed pending notification by changing its status and status_code",
    () =>
      JSON.stringify({
        ...signed(
          settlement(ORDER, {
            transaction_status: "pending",
            status_code: "201",
          }),
        ),
        transaction_status: "settlement",
        status_code: "200",
      }),
  ],
];

for (const [what, body] of UNSIGNED) {
  webhookTest(
    `a settlement ${what} is refused with 401 and changes no row anywhere`,
    async (sql) => {
      await createBooking(sql, ORDER);
      await createBooking(sql, OTHER_ORDER);
      const before = await snapshotTables(sql);

      const response = await postToWebhook(body());

      assert.deepEqual(answer(response), {
        status: 401,
        error: "invalid_signature",
      }, response.text);
      assert.deepEqual(await snapshotTables(sql), before);
    },
  );
}

const MALFORMED: [string, () => string][] = [
  ["a body that is not JSON", () => '{"order_id": "reject-1", '],
  ["a JSON array", () => JSON.stringify([signed(settlement(ORDER))])],
  ["a JSON string", () => JSON.stringify("settlement")],
  ["JSON null", () => "null"],
  ["a notification without transaction_status", () => {
    const { transaction_status: _, ...rest } = signed(settlement(ORDER));
    return JSON.stringify(rest);
  }],
  ["a notification without order_id", () => {
    const { order_id: _, ...rest } = signed(settlement(ORDER));
    return JSON.stringify(rest);
  }],
  [
    "a numeric gross_amount",
    () =>
      JSON.stringify({ ...signed(settlement(ORDER)), gross_amount: 150000 }),
  ],
  [
    "a numeric status_code",
    () => JSON.stringify({ ...signed(settlement(ORDER)), status_code: 200 }),
  ],
  [
    "an order_id longer than Midtrans allows",
    () => JSON.stringify(signed(settlement("x".repeat(51)))),
  ],
  [
    // Signed and well-formed, but Postgres text and jsonb cannot hold U+0000.
    "a signed notification with U+0000 in an extra field",
    () =>
      JSON.stringify(
        signed(settlement(ORDER, { custom_field1: "before\u0000after" })),
      ),
  ],
  [
    // JSON can escape half a surrogate pair; Postgres jsonb refuses it (it was a 500).
    "a signed notification with a lone surrogate in an extra field",
    () =>
      JSON.stringify(signed(settlement(ORDER, { custom_field1: "\ud800" }))),
  ],
  [
    "a signed notification with a lone surrogate in a field name",
    () =>
      JSON.stringify(signed(settlement(ORDER))).replace(
        /^\{/,
        '{"custom_\\udc00":"x",',
      ),
  ],
];

for (const [what, body] of MALFORMED) {
  webhookTest(
    `${what} is refused with 400 invalid_request and changes no row anywhere`,
    async (sql) => {
      await createBooking(sql, ORDER);
      // Midtrans knows the transaction: what is refused is the body itself.
      await putTransaction(ORDER, statusFieldsOf(settlement(ORDER)));
      const before = await snapshotTables(sql);

      const response = await postToWebhook(body());

      assert.deepEqual(answer(response), {
        status: 400,
        error: "invalid_request",
      }, response.text);
      assert.deepEqual(await snapshotTables(sql), before);
    },
  );
}

webhookTest(
  "a correctly signed notification over 64 KiB is refused with 413 and changes no row anywhere",
  async (sql) => {
    await createBooking(sql, ORDER);
    const before = await snapshotTables(sql);

    const response = await deliver(
      settlement(ORDER, { custom_field1: "x".repeat(70_000) }),
    );

    assert.deepEqual(answer(response), {
      status: 413,
      error: "payload_too_large",
    }, response.text);
    assert.deepEqual(await snapshotTables(sql), before);
  },
);

webhookTest(
  "a signed notification for an order_id no booking has gets 404 order_not_found and is logged",
  async (sql) => {
    await createBooking(sql, ORDER);

    const response = await deliver(settlement("not-one-of-ours"));

    assert.deepEqual(answer(response), {
      status: 404,
      error: "order_not_found",
    }, response.text);
    const log = await notificationLog(sql, "not-one-of-ours");
    assert.deepEqual(
      log.map(({ outcome, booking_id, deliveries }) => ({
        outcome,
        booking_id,
        deliveries,
      })),
      [{ outcome: "unknown_order", booking_id: null, deliveries: 1 }],
    );
    const [{ paid }] =
      await sql`select count(*)::int as paid from bookings where payment_status = 'paid'`;
    assert.equal(paid, 0);
  },
);
