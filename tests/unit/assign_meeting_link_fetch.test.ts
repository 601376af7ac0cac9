// assign-meeting-link's `fetch`, called in-process with a Request and its settings passed in:
// every answer that needs no database, and the ones for a database that is missing or down.
import assert from "node:assert/strict";
import { fetchWith } from "../../supabase/functions/assign-meeting-link/index.ts";
import { db } from "../../supabase/functions/_shared/db.ts";
import { callInProcess, downDatabaseUrl } from "../support/mod.ts";

const KEY = "eyJhbGciOiJIUzI1NiJ9.eyJyb2xlIjoic2VydmljZV9yb2xlIn0.dW5pdA";
const env = new Map([
  ["SUPABASE_SERVICE_ROLE_KEY", KEY],
  ["SUPABASE_DB_URL", downDatabaseUrl()],
]);
const BOOKING = "5a7c1a52-8d0c-4d4e-9a57-0f1e7b1c2d3e";

/** One in-process call. */
function call(
  init: RequestInit,
  settings: Map<string, string> = env,
): ReturnType<typeof callInProcess> {
  return callInProcess(
    fetchWith(settings),
    "assign-meeting-link",
    init,
  );
}

const asService = {
  authorization: `Bearer ${KEY}`,
  "content-type": "application/json",
};

Deno.test("assign-meeting-link in-process: each refusal before the database, with its code", async (t) => {
  const cases: [string, RequestInit, number, string][] = [
    [
      "no key",
      {
        method: "POST",
        body: "{}",
        headers: { "content-type": "application/json" },
      },
      401,
      "unauthorized",
    ],
    [
      "another JWT",
      {
        method: "POST",
        body: "{}",
        headers: { authorization: "Bearer a.b.c" },
      },
      403,
      "forbidden",
    ],
    ["GET", { method: "GET", headers: asService }, 405, "method_not_allowed"],
    [
      "a form body",
      {
        method: "POST",
        body: "bookingId=1",
        headers: {
          ...asService,
          "content-type": "application/x-www-form-urlencoded",
        },
      },
      415,
      "unsupported_media_type",
    ],
    [
      "17 KiB",
      {
        method: "POST",
        body: JSON.stringify({
          bookingId: BOOKING,
          pad: "x".repeat(17 * 1024),
        }),
        headers: asService,
      },
      413,
      "payload_too_large",
    ],
    [
      "not JSON",
      { method: "POST", body: "{", headers: asService },
      400,
      "invalid_request",
    ],
    [
      "no bookingId",
      { method: "POST", body: "{}", headers: asService },
      400,
      "invalid_request",
    ],
    [
      "a bookingId that is no UUID",
      { method: "POST", body: '{"bookingId":"1 or 1=1"}', headers: asService },
      400,
      "invalid_request",
    ],
  ];
  for (const [name, init, status, error] of cases) {
    await t.step(name, async () => {
      const answer = await call(init);
      assert.deepEqual([answer.status, answer.error], [status, error]);
    });
  }
  await t.step("the 400 names the field", async () => {
    const { json: body } = await call({
      method: "POST",
      body: '{"bookingId":42}',
      headers: asService,
    });
    assert.deepEqual(body.problems, ["bookingId: must be a UUID"]);
  });
});

Deno.test("assign-meeting-link in-process: no SUPABASE_DB_URL is 500 server_misconfigured; a database that refuses connections is 503", async () => {
  const init = {
    method: "POST",
    body: JSON.stringify({ bookingId: BOOKING }),
    headers: asService,
  };
  const misconfigured = await call(
    init,
    new Map([["SUPABASE_SERVICE_ROLE_KEY", KEY]]),
  );
  assert.deepEqual([misconfigured.status, misconfigured.error], [
    500,
    "server_misconfigured",
  ]);
  try {
    const down = await call(init);
    assert.deepEqual([down.status, down.error], [
      503,
      "database_unavailable",
    ]);
  } finally {
    await db(env).end({ timeout: 1 });
  }
});
