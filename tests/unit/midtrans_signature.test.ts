// _shared/midtrans.ts in-process: the notification schema and Midtrans's signature algorithm.
import assert from "node:assert/strict";
import {
  MidtransNotification,
  midtransServerKey,
  midtransSignature,
  verifyMidtransSignature,
} from "../../supabase/functions/_shared/midtrans.ts";
import { sample, settlement, signed } from "../support/mod.ts";

Deno.test("the published signature vector verifies with its published server key", async () => {
  const vector = sample("signature_vector") as Pick<
    MidtransNotification,
    "order_id" | "status_code" | "gross_amount" | "signature_key"
  >;
  const notification = {
    ...vector,
    transaction_id: "-",
    transaction_status: "settlement",
  };

  assert.equal(
    await midtransSignature(vector, "server-key"),
    vector.signature_key,
  );
  await verifyMidtransSignature(notification, "server-key");
  await assert.rejects(
    verifyMidtransSignature(notification, "another-key"),
    { status: 401, code: "invalid_signature" },
  );
  // "10000" is what was signed: "10000.00" is another string, so another signature.
  await assert.rejects(
    verifyMidtransSignature(
      { ...notification, gross_amount: "10000.00" },
      "server-key",
    ),
    { status: 401, code: "invalid_signature" },
  );
});

Deno.test("a signature made by our own node:crypto signer verifies; any signed field changed does not", async () => {
  const n = MidtransNotification.parse(
    signed(settlement("unit-1"), "unit-key"),
  );
  await verifyMidtransSignature(n, "unit-key");
  for (const field of ["order_id", "status_code", "gross_amount"] as const) {
    await assert.rejects(
      verifyMidtransSignature({ ...n, [field]: `${n[field]}0` }, "unit-key"),
      { code: "invalid_signature" },
      field,
    );
  }
  await assert.rejects(
    verifyMidtransSignature({ ...n, signature_key: undefined }, "unit-key"),
    { code: "invalid_signature", message: /missing/ },
  );
  // Hex case is not part of the signature.
  await verifyMidtransSignature(
    { ...n, signature_key: n.signature_key!.toUpperCase() },
    "unit-key",
  );
});

Deno.test("the schema takes every published sample and refuses a field of the wrong type or size", () => {
  for (
    const name of [
      "card_capture_accept",
      "gopay_settlement",
      "bca_va_settlement",
      "permata_va_expire",
    ] as const
  ) {
    assert.ok(MidtransNotification.safeParse(sample(name)).success, name);
  }
  const good = settlement("unit-2");
  for (
    const [field, value] of [
      ["gross_amount", 150000],
      ["gross_amount", "150,000.00"],
      ["status_code", 200],
      ["status_code", "20"],
      ["order_id", "x".repeat(51)],
      ["order_id", ""],
      ["transaction_status", undefined],
    ] as const
  ) {
    assert.equal(
      MidtransNotification.safeParse({ ...good, [field]: value }).success,
      false,
      `${field}: ${JSON.stringify(value)}`,
    );
  }
  // Fields this system does not read are kept as sent.
  const parsed = MidtransNotification.parse({
    ...good,
    va_numbers: [{ bank: "bca" }],
  });
  assert.deepEqual(parsed.va_numbers, [{ bank: "bca" }]);
});

Deno.test("without MIDTRANS_SERVER_KEY the webhook has no key to verify with: a ConfigError", () => {
  assert.throws(
    () => midtransServerKey(new Map()),
    /MIDTRANS_SERVER_KEY is not set/,
  );
  assert.equal(midtransServerKey(new Map([["MIDTRANS_SERVER_KEY", "k"]])), "k");
});
