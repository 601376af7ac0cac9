// send-booking-emails' `fetch`, called in-process with its settings passed in: who may call it,
// and what a deployment without its mail settings or database answers.
import assert from "node:assert/strict";
import { fetchWith } from "../../supabase/functions/send-booking-emails/index.ts";
import { callInProcess, downDatabaseUrl } from "../support/mod.ts";

const KEY = "eyJhbGciOiJIUzI1NiJ9.eyJyb2xlIjoic2VydmljZV9yb2xlIn0.dW5pdA";
const mail: [string, string][] = [
  ["SMTP_URL", "smtp://127.0.0.1:9"],
  ["EMAIL_FROM", "Meeting links <bookings@example.com>"],
];

function call(settings: [string, string][], headers: Record<string, string>) {
  return callInProcess(fetchWith(new Map(settings)), "send-booking-emails", {
    method: "POST",
    headers,
  });
}

Deno.test("send-booking-emails in-process: no key 401, another key 403, before anything else", async () => {
  const settings: [string, string][] = [
    ["SUPABASE_SERVICE_ROLE_KEY", KEY],
    ...mail,
  ];
  const none = await call(settings, {});
  assert.deepEqual([none.status, none.error], [401, "unauthorized"]);
  const other = await call(settings, { authorization: "Bearer a.b.c" });
  assert.deepEqual([other.status, other.error], [403, "forbidden"]);
});

Deno.test("send-booking-emails in-process: without SMTP_URL or EMAIL_FROM, 500 server_misconfigured", async () => {
  for (const missing of ["SMTP_URL", "EMAIL_FROM"]) {
    const settings: [string, string][] = [
      ["SUPABASE_SERVICE_ROLE_KEY", KEY],
      ["SUPABASE_DB_URL", downDatabaseUrl()],
      ...mail.filter(([name]) => name !== missing),
    ];
    const answer = await call(settings, { authorization: `Bearer ${KEY}` });
    assert.deepEqual([answer.status, answer.error], [
      500,
      "server_misconfigured",
    ], missing);
  }
});

Deno.test("send-booking-emails in-process: the database down is a 503, nothing sent", async () => {
  const answer = await call(
    [
      ["SUPABASE_SERVICE_ROLE_KEY", KEY],
      ["SUPABASE_DB_URL", downDatabaseUrl()],
      ...mail,
    ],
    { authorization: `Bearer ${KEY}` },
  );
  assert.deepEqual([answer.status, answer.error], [
    503,
    "database_unavailable",
  ]);
});
