// _shared/errors.ts in-process: the table of error codes is the one in docs/api.md, every
// failure becomes an answer with its code's status, and a 5xx says nothing of its cause.
import assert from "node:assert/strict";
import {
  ConfigError,
  errorResponse,
  ERRORS,
  HttpError,
  toHttpError,
} from "../../supabase/functions/_shared/errors.ts";

/** The rows `| `code` | status | meaning |` of the section "Error codes" of docs/api.md. */
function documentedErrors(): Record<string, number> {
  const text = Deno.readTextFileSync(
    new URL("../../docs/api.md", import.meta.url),
  );
  const section = text.split(/^## /m).find((s) => s.startsWith("Error codes"));
  assert.ok(section, 'docs/api.md has a section "Error codes"');
  const rows = [...section.matchAll(/^\|\s*`([a-z_]+)`\s*\|\s*(\d{3})\s*\|/gm)];
  return Object.fromEntries(
    rows.map(([, code, status]) => [code, Number(status)]),
  );
}

Deno.test("docs/api.md lists exactly the error codes of errors.ts, with the same statuses", () => {
  assert.deepEqual(documentedErrors(), { ...ERRORS });
});

Deno.test("an HttpError takes its status from the table, and its answer is {error, message, ...details}", async () => {
  for (const code of Object.keys(ERRORS) as (keyof typeof ERRORS)[]) {
    const failure = new HttpError(code, "why", { bookingId: "b" });
    assert.equal(failure.status, ERRORS[code], code);
    const response = errorResponse(failure, { "x-extra": "1" });
    assert.equal(response.status, ERRORS[code], code);
    assert.equal(response.headers.get("x-extra"), "1");
    assert.match(
      response.headers.get("content-type") ?? "",
      /^application\/json/,
    );
    assert.deepEqual(await response.json(), {
      error: code,
      message: "why",
      bookingId: "b",
    });
  }
});

Deno.test("toHttpError maps each kind of failure to its code", async (t) => {
  const sqlError = (code: string, message = "raised in SQL") =>
    Object.assign(new Error(message), { code });
  const cases: [string, unknown, string, number][] = [
    [
      "ML404 (assign_meeting_link: no such booking)",
      sqlError("ML404"),
      "booking_not_found",
      404,
    ],
    [
      "ML409 (assign_meeting_link: not paid)",
      sqlError("ML409"),
      "booking_not_paid",
      409,
    ],
    [
      "22008 (a date-time the calendar does not have)",
      sqlError("22008"),
      "invalid_request",
      400,
    ],
    [
      "MLPND (hold_meeting_link: not pending)",
      sqlError("MLPND"),
      "booking_not_pending",
      409,
    ],
    [
      "22P05 (U+0000 in text or jsonb)",
      sqlError("22P05"),
      "invalid_request",
      400,
    ],
    ["ECONNREFUSED", sqlError("ECONNREFUSED"), "database_unavailable", 503],
    [
      "CONNECT_TIMEOUT",
      sqlError("CONNECT_TIMEOUT"),
      "database_unavailable",
      503,
    ],
    ["57P01 admin_shutdown", sqlError("57P01"), "database_unavailable", 503],
    [
      "53300 too_many_connections",
      sqlError("53300"),
      "database_unavailable",
      503,
    ],
    [
      "any 08 connection exception",
      sqlError("08006"),
      "database_unavailable",
      503,
    ],
    [
      "a missing setting",
      new ConfigError("MIDTRANS_SERVER_KEY is not set"),
      "server_misconfigured",
      500,
    ],
    [
      "any other SQLSTATE",
      sqlError("23505", "duplicate key value violates unique constraint"),
      "internal_error",
      500,
    ],
    ["a TypeError", new TypeError("x is undefined"), "internal_error", 500],
    ["a thrown string", "boom", "internal_error", 500],
    ["null", null, "internal_error", 500],
  ];
  for (const [name, error, code, status] of cases) {
    await t.step(name, () => {
      const failure = toHttpError(error);
      assert.equal(failure.code, code);
      assert.equal(failure.status, status);
    });
  }
  await t.step("an HttpError passes through unchanged", () => {
    const failure = new HttpError("pool_exhausted", "none free");
    assert.equal(toHttpError(failure), failure);
  });
  await t.step("a 5xx message names no cause (no SQL, no setting)", () => {
    for (
      const error of [
        sqlError(
          "23505",
          'duplicate key value violates unique constraint "bookings_pkey"',
        ),
        new ConfigError("MIDTRANS_SERVER_KEY is not set"),
        sqlError("ECONNREFUSED", "connect ECONNREFUSED 10.0.0.5:5432"),
      ]
    ) {
      const { message } = toHttpError(error);
      assert.doesNotMatch(message, /bookings_pkey|MIDTRANS|10\.0\.0\.5|5432/);
    }
  });
});
