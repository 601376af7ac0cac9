// The Midtrans sandbox stand-in (scripts/midtrans_sandbox.ts) answers the Get Status API as
// Midtrans's published samples show it (tests/fixtures/midtrans/status_*.json): what the webhook
// is tested against is what it will meet.
import assert from "node:assert/strict";
import {
  env,
  notifyFromSandbox,
  putTransaction,
  signed,
  statusFieldsOf,
} from "../support/mod.ts";

function fixture(name: string): Record<string, unknown> {
  return JSON.parse(Deno.readTextFileSync(
    new URL(`../fixtures/midtrans/${name}.json`, import.meta.url),
  ));
}

async function getStatus(
  id: string,
  authorization = `Basic ${btoa(`${env.midtransServerKey}:`)}`,
): Promise<{ status: number; body: Record<string, unknown> }> {
  const response = await fetch(
    `${env.midtransApiUrl}/v2/${encodeURIComponent(id)}/status`,
    { headers: { authorization, accept: "application/json" } },
  );
  return { status: response.status, body: await response.json() };
}

const keysOf = (o: Record<string, unknown>) => Object.keys(o).sort();

Deno.test("a transaction PUT from the published Get Status sample is answered as the sample, signed with the stack's key", async () => {
  const published = fixture("status_card_settlement");
  const stored = await putTransaction(
    published.order_id as string,
    statusFieldsOf(published),
  );
  // Midtrans's samples are signed with a key it does not publish: ours re-signs it.
  const expected = signed(published as Parameters<typeof signed>[0]);
  assert.deepEqual(stored, expected);
  for (const id of [published.order_id, published.transaction_id]) {
    assert.deepEqual(await getStatus(id as string), {
      status: 200,
      body: expected,
    }, `by ${id}`);
  }
});

Deno.test("status_code follows transaction_status as Midtrans sends it, and every field is a string", async () => {
  const cases: [string, string | undefined, string][] = [
    ["settlement", undefined, "200"],
    ["capture", "accept", "200"],
    ["capture", "challenge", "201"],
    ["pending", undefined, "201"],
    ["deny", undefined, "202"],
    ["cancel", undefined, "202"],
    ["expire", undefined, "202"],
    ["refund", undefined, "200"],
  ];
  for (const [status, fraud, code] of cases) {
    const order = `codes-${status}-${fraud ?? "none"}`;
    await putTransaction(order, {
      transaction_status: status,
      gross_amount: "150000.00",
      ...(fraud ? { fraud_status: fraud } : {}),
    });
    const { body } = await getStatus(order);
    assert.equal(body.status_code, code, `${status} ${fraud ?? ""}`);
    for (const [field, value] of Object.entries(body)) {
      assert.equal(typeof value, "string", `${status}: ${field}`);
    }
  }
});

Deno.test("an order answers its latest attempt, each transaction_id its own status", async () => {
  const first = await putTransaction("two-attempts", {
    transaction_id: "attempt-1",
    transaction_status: "deny",
    gross_amount: "150000.00",
  });
  await putTransaction("two-attempts", {
    transaction_id: "attempt-2",
    transaction_status: "pending",
    gross_amount: "150000.00",
  });
  assert.equal(
    (await getStatus("two-attempts")).body.transaction_id,
    "attempt-2",
  );
  assert.deepEqual((await getStatus("attempt-1")).body, first);
  const settled = await putTransaction("two-attempts", {
    transaction_status: "settlement",
  });
  assert.deepEqual(
    [settled.transaction_id, settled.status_code, settled.gross_amount],
    ["attempt-2", "200", "150000.00"],
    "a PUT without transaction_id moves the order's current transaction",
  );
});

Deno.test("unknown transactions get the published 404 body; a missing or wrong server key 401", async () => {
  const notFound = fixture("status_not_found");
  const unknown = await getStatus("no-such-transaction");
  assert.equal(unknown.status, 404);
  assert.deepEqual(keysOf(unknown.body), keysOf(notFound));
  assert.deepEqual(
    [unknown.body.status_code, unknown.body.status_message],
    [notFound.status_code, notFound.status_message],
  );

  await putTransaction("auth-check", {
    transaction_status: "settlement",
    gross_amount: "1.00",
  });
  for (
    const authorization of [
      "",
      `Basic ${btoa("SB-Mid-server-WRONG:")}`,
      `Basic ${btoa(env.midtransServerKey)}`,
      `Bearer ${env.midtransServerKey}`,
    ]
  ) {
    const refused = await getStatus("auth-check", authorization);
    assert.equal(refused.status, 401, authorization);
    assert.deepEqual(keysOf(refused.body), keysOf(notFound));
    assert.equal(refused.body.status_code, "401");
  }
});

Deno.test("notify POSTs the order's status, signed, to the webhook and passes on its answer", async () => {
  // No booking has this order: the webhook confirms it and answers 404 order_not_found.
  await putTransaction("notify-no-booking", {
    transaction_status: "settlement",
    gross_amount: "150000.00",
  });
  assert.deepEqual(await notifyFromSandbox("notify-no-booking"), {
    status: 404,
    body: {
      error: "order_not_found",
      message: "No booking has order_id notify-no-booking.",
    },
  });
});

Deno.test("a PUT that is not an object of string status fields is refused with 400", async () => {
  for (
    const body of [
      "[]",
      "not json",
      JSON.stringify({ transaction_status: "settlement" }),
      JSON.stringify({ transaction_status: "settlement", gross_amount: 1 }),
      JSON.stringify({
        order_id: "another-order",
        transaction_status: "settlement",
        gross_amount: "1.00",
      }),
    ]
  ) {
    const response = await fetch(
      `${env.midtransApiUrl}/_sandbox/transactions/put-check`,
      { method: "PUT", body },
    );
    assert.equal(response.status, 400, body);
    assert.equal((await response.json()).error, "invalid_request");
  }
});
