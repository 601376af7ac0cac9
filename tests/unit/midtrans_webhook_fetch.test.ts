// midtrans-webhook's `fetch`, called in-process with a Request and its settings passed in:
// everything it refuses before the database, and never a 2xx it could not confirm or store.
import assert from "node:assert/strict";
import { fetchWith } from "../../supabase/functions/midtrans-webhook/index.ts";
import { db } from "../../supabase/functions/_shared/db.ts";
import { midtransApiUrl } from "../../supabase/functions/_shared/midtrans.ts";
import {
  callInProcess,
  downDatabaseUrl,
  freePort,
  settlement,
  signed,
} from "../support/mod.ts";

const SERVER_KEY = "SB-Mid-server-UNIT-TEST";
const env = new Map([
  ["MIDTRANS_SERVER_KEY", SERVER_KEY],
  ["SUPABASE_DB_URL", downDatabaseUrl()],
]);

/** One notification POSTed in-process. */
function notify(
  body: unknown,
  settings: Map<string, string> = env,
): ReturnType<typeof callInProcess> {
  return callInProcess(fetchWith(settings), "midtrans-webhook", {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: typeof body === "string" ? body : JSON.stringify(body),
  });
}

Deno.test("midtrans-webhook in-process: unsigned, mis-signed and malformed notifications are refused with their codes", async (t) => {
  const good = signed(settlement("unit-order"), SERVER_KEY);
  const cases: [string, unknown, number, string][] = [
    [
      "no signature_key",
      { ...good, signature_key: undefined },
      401,
      "invalid_signature",
    ],
    [
      "signed with another key",
      signed(settlement("unit-order"), "SB-Mid-server-OTHER"),
      401,
      "invalid_signature",
    ],
    [
      "amount changed after signing",
      { ...good, gross_amount: "1.00" },
      401,
      "invalid_signature",
    ],
    ["not JSON", "{", 400, "invalid_request"],
    ["an array", [good], 400, "invalid_request"],
    [
      "gross_amount as a number",
      { ...good, gross_amount: 150000 },
      400,
      "invalid_request",
    ],
    [
      "over 64 KiB",
      { ...good, pad: "x".repeat(64 * 1024) },
      413,
      "payload_too_large",
    ],
  ];
  for (const [name, body, status, error] of cases) {
    await t.step(name, async () => {
      const answer = await notify(body);
      assert.deepEqual([answer.status, answer.error], [status, error]);
    });
  }
});

/** A Midtrans of this process that confirms every transaction as `status`, for `orderId`. */
function confirmingMidtrans(orderId: string, status: string) {
  return Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen() {} },
    (req) => {
      const transactionId = decodeURIComponent(
        new URL(req.url).pathname.split("/")[2],
      );
      return Response.json({
        order_id: orderId,
        transaction_id: transactionId,
        transaction_status: status,
        status_code: "200",
        gross_amount: "150000.00",
      });
    },
  );
}

Deno.test("midtrans-webhook in-process: without its server key it refuses even a signed notification (500); with Midtrans or the database down it answers 503, never 2xx", async () => {
  const good = signed(settlement("unit-order"), SERVER_KEY);
  const noKey = await notify(
    good,
    new Map([["SUPABASE_DB_URL", env.get("SUPABASE_DB_URL")!]]),
  );
  assert.deepEqual([noKey.status, noKey.error], [
    500,
    "server_misconfigured",
  ]);
  const midtransDown = await notify(
    good,
    new Map([...env, ["MIDTRANS_API_URL", `http://127.0.0.1:${freePort()}`]]),
  );
  assert.deepEqual([midtransDown.status, midtransDown.error], [
    503,
    "midtrans_unavailable",
  ]);
  const midtrans = confirmingMidtrans("unit-order", "settlement");
  const settings = new Map([
    ...env,
    ["MIDTRANS_API_URL", `http://127.0.0.1:${midtrans.addr.port}`],
  ]);
  try {
    const down = await notify(good, settings);
    assert.deepEqual([down.status, down.error], [
      503,
      "database_unavailable",
    ]);
  } finally {
    await midtrans.shutdown();
    await db(settings).end({ timeout: 1 });
  }
});

Deno.test("midtrans-webhook in-process: a confirmation of another order is refused with 409 before the database", async () => {
  const midtrans = confirmingMidtrans("someone-elses-order", "settlement");
  try {
    const answer = await notify(
      signed(settlement("unit-order"), SERVER_KEY),
      new Map([
        ...env,
        ["MIDTRANS_API_URL", `http://127.0.0.1:${midtrans.addr.port}`],
      ]),
    );
    assert.deepEqual([answer.status, answer.error], [
      409,
      "transaction_order_mismatch",
    ]);
  } finally {
    await midtrans.shutdown();
  }
});

Deno.test("MIDTRANS_API_URL defaults from the server key: sandbox for SB-Mid-server- keys, production otherwise", () => {
  const none = new Map<string, string>();
  assert.equal(
    midtransApiUrl("SB-Mid-server-abc", none),
    "https://api.sandbox.midtrans.com",
  );
  assert.equal(
    midtransApiUrl("Mid-server-abc", none),
    "https://api.midtrans.com",
  );
  assert.equal(
    midtransApiUrl(
      "Mid-server-abc",
      new Map([["MIDTRANS_API_URL", "http://127.0.0.1:54326/"]]),
    ),
    "http://127.0.0.1:54326",
  );
});
