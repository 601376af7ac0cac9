// Hostile input, property-based: thousands of generated requests against both functions over
// HTTP. Every answer is a 4xx JSON error whose code and status are those of the table in
// _shared/errors.ts (or, for a correctly signed well-formed notification, what the system does
// with it), the server stays up, and no table changes except by what a signed well-formed
// notification records.
import assert from "node:assert/strict";
import fc from "fast-check";
import {
  type ErrorCode,
  ERRORS,
} from "../../supabase/functions/_shared/errors.ts";
import {
  addLinks,
  asServiceRole,
  callFunction,
  connect,
  env,
  type FunctionResponse,
  putTransaction,
  resetData,
  type SandboxTransaction,
  signed,
  snapshotTables,
  type Sql,
  statusFieldsOf,
  withSql,
} from "../support/mod.ts";

const SEED = Number(Deno.env.get("RELIABILITY_SEED") ?? 20261125);

const SQL_INJECTIONS = [
  "'; drop table public.bookings; --",
  "' or '1'='1",
  "' or 1=1 --",
  "1; update public.bookings set payment_status = 'paid'",
  "'); truncate public.meeting_links_pool; --",
  "$$; select pg_sleep(30); $$",
  "' union select * from public.midtrans_notifications --",
  "\\'; delete from public.midtrans_notifications; --",
  "${jndi:ldap://127.0.0.1/x}",
  "%s%s%s%n",
  "'::jsonb",
  '{"$ne": null}',
  "E'\\\\x27'",
  "robert'); drop table students;--",
];

const hostileString = fc.oneof(
  fc.constantFrom(...SQL_INJECTIONS),
  fc.string({ unit: "grapheme", maxLength: 60 }),
  fc.string({ unit: "binary", maxLength: 60 }),
  fc.string({ maxLength: 20 }),
  fc.string({ unit: "grapheme-ascii", minLength: 10_000, maxLength: 80_000 }),
  fc.constantFrom("", " ", "\u202e\u0000", "🙂".repeat(40), "null", "NaN"),
);

const hostileValue: fc.Arbitrary<unknown> = fc.oneof(
  hostileString,
  fc.integer(),
  fc.double(),
  fc.constantFrom(1e308, -1e308, 2 ** 64, -0, Number.MAX_SAFE_INTEGER + 2),
  fc.boolean(),
  fc.constant(null),
  fc.array(hostileString, { maxLength: 3 }),
  fc.dictionary(hostileString, hostileString, { maxKeys: 3 }),
);

/** JSON text, sometimes with a number too long for any numeric type spliced in. */
const hugeNumberText = fc.stringMatching(/^-?[1-9]\d{400,2000}(\.\d{1,50})?$/);

/** POSTs (or sends with `method`) to a function, with a deadline, whatever it answers. */
function send(
  name: string,
  init: { method?: string; headers?: Record<string, string>; body?: BodyInit },
): Promise<FunctionResponse> {
  return callFunction(name, {
    method: init.method ?? "POST",
    headers: init.headers,
    body: init.body,
    timeoutMs: 15_000,
  });
}

/** A 4xx JSON error with a known code whose status is the one that code always has. */
function assertClientError(answer: FunctionResponse, allowed?: string[]): void {
  const error = answer.json?.error;
  assert.ok(
    typeof error === "string" &&
      answer.headers.get("content-type")?.includes("json"),
    `a JSON error body, got ${answer.status} ${answer.text}`,
  );
  assert.ok(error in ERRORS, `${error} is in the table of error codes`);
  assert.equal(answer.status, ERRORS[error as ErrorCode], error);
  assert.ok(answer.status < 500, `${answer.status} ${error} is a client error`);
  if (allowed) assert.ok(allowed.includes(error), error);
}

const JSON_TYPE = { "content-type": "application/json" };

/** Pending and paid bookings, a pool, one recorded notification: the state nothing may change. */
async function seed(sql: Sql) {
  await resetData(sql);
  await addLinks(sql, 3, "hst");
  const bookings = await sql<{ id: string; order_id: string }[]>`
    insert into bookings (order_id, starts_at, ends_at, amount)
    select 'hostile-' || i, timestamptz '2031-03-01 10:00Z' + i * interval '1 hour',
      timestamptz '2031-03-01 11:00Z' + i * interval '1 hour', 100000
    from generate_series(1, 4) as i order by i
    returning id, order_id`;
  const paid = {
    order_id: "hostile-4",
    transaction_id: "hostile-paid",
    transaction_status: "settlement",
    status_code: "200",
    gross_amount: "100000.00",
  };
  await sql`select * from record_midtrans_notification(${sql.json(paid)}, ${
    sql.json(paid)
  })`;
  await sql`select * from assign_meeting_link(${bookings[3].id})`;
  return {
    pendingIds: bookings.slice(0, 3).map((b) => b.id),
    paidId: bookings[3].id,
    orderIds: bookings.map((b) => b.order_id),
  };
}

async function assertServerUp(): Promise<void> {
  const response = await fetch(`${env.apiUrl}/_local/health`);
  assert.equal(response.status, 200, "the functions server still answers");
  await response.body?.cancel();
  if (env.functionsServerPid) Deno.kill(env.functionsServerPid, "SIGCONT");
}

let casesTried = 0;
function run<T>(
  arbitrary: fc.Arbitrary<T>,
  numRuns: number,
  check: (value: T) => Promise<void>,
) {
  casesTried += numRuns;
  // No shrinking: each shrink step is another HTTP round trip with strings of up to 80 kB, and
  // the seed and path printed on failure replay the exact case.
  return fc.assert(fc.asyncProperty(arbitrary, check), {
    seed: SEED,
    numRuns,
    endOnFailure: true,
  });
}

/** Bodies of the wrong type, wrong size or cut short, shared by both endpoints. */
async function malformedRequests(
  name: string,
  headers: Record<string, string>,
  valid: () => string,
) {
  // Wrong methods.
  await run(
    fc.record({
      method: fc.constantFrom("GET", "PUT", "PATCH", "DELETE"),
      body: hostileString,
    }),
    100,
    async ({ method, body }) => {
      const answer = await send(name, {
        method,
        headers: { ...headers, ...JSON_TYPE },
        body: method === "GET" ? undefined : body,
      });
      assertClientError(answer, ["method_not_allowed"]);
    },
  );
  // Wrong content types, whatever the body.
  await run(
    fc.record({
      type: fc.constantFrom(
        "text/plain",
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=x",
        "application/jsonp",
        "text/json",
        "application/xml",
        "",
      ),
      body: fc.oneof(hostileString, fc.constant(valid())),
    }),
    150,
    async ({ type, body }) => {
      const answer = await send(name, {
        headers: { ...headers, "content-type": type },
        body,
      });
      assertClientError(answer, ["unsupported_media_type"]);
    },
  );
  // Truncated bodies: every proper prefix of a valid body is invalid JSON.
  const full = valid();
  await run(
    fc.integer({ min: 0, max: full.length - 1 }),
    150,
    async (cut) => {
      const answer = await send(name, {
        headers: { ...headers, ...JSON_TYPE },
        body: full.slice(0, cut),
      });
      assertClientError(answer, ["invalid_request"]);
    },
  );
  // 1 MB bodies, with a Content-Length and streamed without one.
  await run(
    fc.record({ streamed: fc.boolean(), fill: fc.string({ maxLength: 1 }) }),
    20,
    async ({ streamed, fill }) => {
      const text = JSON.stringify({ padding: (fill || "x").repeat(1 << 20) });
      const bytes = new TextEncoder().encode(text);
      const body = streamed
        ? new ReadableStream<Uint8Array>({
          start(controller) {
            for (let i = 0; i < bytes.length; i += 64 * 1024) {
              controller.enqueue(bytes.slice(i, i + 64 * 1024));
            }
            controller.close();
          },
        })
        : text;
      const answer = await send(name, {
        headers: { ...headers, ...JSON_TYPE },
        body,
      });
      assertClientError(answer, ["payload_too_large"]);
    },
  );
}

Deno.test("the webhook answers thousands of hostile requests with 4xx JSON errors (signed well-formed ones with what they did) and changes no table", async () => {
  const sql = connect();
  try {
    const { orderIds } = await seed(sql);
    const before = await snapshotTables(sql);
    const triedBefore = casesTried;
    // Keys of signed well-formed notifications sent, to the order they were first sent for.
    const recorded = new Map<string, string>();

    const validNotification = () =>
      JSON.stringify(signed({
        order_id: "no-such-order",
        transaction_id: "tx-hostile",
        transaction_status: "settlement",
        status_code: "200",
        gross_amount: "100000.00",
      }));

    await malformedRequests("midtrans-webhook", {}, validNotification);

    // Random JSON of any shape.
    await run(fc.jsonValue(), 600, async (value) => {
      const answer = await send("midtrans-webhook", {
        headers: JSON_TYPE,
        body: JSON.stringify(value),
      });
      assertClientError(answer, ["invalid_request", "invalid_signature"]);
    });

    // Notification-shaped, every field hostile, with no, a random or a real-looking signature.
    await run(
      fc.record({
        order_id: hostileValue,
        transaction_id: hostileValue,
        transaction_status: hostileValue,
        status_code: hostileValue,
        gross_amount: fc.oneof(hostileValue, hugeNumberText),
        fraud_status: hostileValue,
        currency: hostileValue,
        signature_key: fc.oneof(
          hostileValue,
          fc.stringMatching(/^[0-9a-f]{128}$/),
        ),
      }, { requiredKeys: [] }),
      800,
      async (fields) => {
        const answer = await send("midtrans-webhook", {
          headers: JSON_TYPE,
          body: JSON.stringify(fields),
        });
        assertClientError(answer, [
          "invalid_request",
          "invalid_signature",
          "payload_too_large",
        ]);
      },
    );

    // Huge numbers written as JSON numbers where strings belong.
    await run(hugeNumberText, 100, async (digits) => {
      const n = signed({
        order_id: "no-such-order",
        transaction_id: "tx-huge",
        transaction_status: "settlement",
        status_code: "200",
        gross_amount: "100000.00",
      });
      const text = JSON.stringify(n).replace(
        '"gross_amount":"100000.00"',
        `"gross_amount":${digits}`,
      );
      const answer = await send("midtrans-webhook", {
        headers: JSON_TYPE,
        body: text,
      });
      assertClientError(answer, ["invalid_request"]);
    });

    // Correctly SIGNED, well-formed, with hostile text in every free-text field: these pass the
    // signature and reach the status call. Midtrans knows about half of them (PUT in the sandbox
    // stand-in first, with the same hostile text); the webhook must answer what a model of the
    // stand-in predicts. Known ones reach SQL: no order exists, so each confirmed state is
    // recorded once as unknown_order (404) and a repeat is a duplicate (200); U+0000 anywhere is
    // refused (400: Postgres text and jsonb cannot hold it). Unknown ones get 404
    // transaction_not_found, one of another order 409; neither writes anything.
    const fitting = (max: number) =>
      hostileString.filter((s) => s.length >= 1 && s.length <= max);
    const sandboxOrders = new Map<string, SandboxTransaction>();
    const sandboxTransactions = new Map<string, SandboxTransaction>();
    let known = 0;
    await run(
      fc.tuple(
        fc.record({
          order_id: fitting(50).filter((s) => !orderIds.includes(s)),
          transaction_id: fitting(100),
          transaction_status: fc.oneof(
            fitting(40),
            fc.constantFrom("settlement", "capture", "deny", "refund"),
          ),
          status_code: fc.stringMatching(/^\d{3}$/),
          gross_amount: fc.stringMatching(/^\d{1,15}(\.\d{1,2})?$/),
          fraud_status: fc.option(fitting(40), { nil: undefined }),
          currency: fc.option(fitting(10), { nil: undefined }),
          x_extra: fc.option(
            fc.oneof(
              fitting(500),
              fc.double(),
              fc.constant(null),
              fc.array(fitting(50), { maxLength: 3 }),
            ),
            { nil: undefined },
          ),
        }, {
          requiredKeys: [
            "order_id",
            "transaction_id",
            "transaction_status",
            "status_code",
            "gross_amount",
          ],
        }),
        fc.boolean(),
      ),
      1000,
      async ([fields, midtransKnowsIt]) => {
        const notification = signed(fields);
        const wellFormed = (text: string) => text.isWellFormed();
        if (
          midtransKnowsIt && wellFormed(fields.order_id) &&
          wellFormed(fields.transaction_id)
        ) {
          try {
            const stored = await putTransaction(
              fields.order_id,
              statusFieldsOf(fields),
            );
            sandboxOrders.set(stored.order_id, stored);
            sandboxTransactions.set(stored.transaction_id, stored);
            known++;
          } catch {
            // An id the URL cannot carry ("." or ".."): Midtrans never knows it.
          }
        }
        const answer = await send("midtrans-webhook", {
          headers: JSON_TYPE,
          body: JSON.stringify(notification),
        });
        const id = notification.transaction_id;
        // URL dot segments never reach a transaction's path.
        const confirmed = id === "." || id === ".."
          ? undefined
          : sandboxOrders.get(id) ?? sandboxTransactions.get(id);
        if (!wellFormed(id)) {
          assertClientError(answer, ["invalid_request"]);
        } else if (!confirmed) {
          assertClientError(answer, ["transaction_not_found"]);
        } else if (
          confirmed.order_id !== notification.order_id ||
          confirmed.transaction_id !== id
        ) {
          assertClientError(answer, ["transaction_order_mismatch"]);
        } else if (
          JSON.stringify([notification, confirmed]).includes("\\u0000")
        ) {
          assertClientError(answer, ["invalid_request"]);
        } else {
          const key = JSON.stringify([
            confirmed.order_id,
            confirmed.transaction_id,
            confirmed.transaction_status,
            confirmed.status_code,
            confirmed.fraud_status ?? null,
          ]);
          if (recorded.has(key)) {
            assert.equal(answer.status, 200, JSON.stringify(answer.json));
            assert.equal(answer.json?.outcome, "duplicate");
          } else {
            assertClientError(answer, ["order_not_found"]);
            recorded.set(key, notification.order_id);
          }
        }
      },
    );

    await assertServerUp();
    const after = await snapshotTables(sql);
    const lastNotification = Math.max(
      0,
      ...before.midtrans_notifications.map((n) => Number(n.id)),
    );
    assert.deepEqual(
      {
        ...after,
        midtrans_notifications: after.midtrans_notifications.filter((n) =>
          Number(n.id) <= lastNotification
        ),
      },
      before,
      "no table changed, notifications recorded before included",
    );
    const added = await sql<
      { key: string; order_id: string; outcome: string }[]
    >`
      select jsonb_build_array(order_id, transaction_id, transaction_status, status_code,
        fraud_status)::text as key,
        order_id, outcome
      from public.midtrans_notifications where id > ${lastNotification}`;
    assert.deepEqual(
      new Map(
        added.map((r) => [JSON.stringify(JSON.parse(r.key)), r.order_id]),
      ),
      recorded,
      "exactly the signed well-formed notifications were recorded, byte for byte, once each",
    );
    assert.ok(added.every((r) => r.outcome === "unknown_order"));
    console.log(
      `webhook (fast-check seed ${SEED}): ${
        casesTried - triedBefore
      } hostile requests; of the signed well-formed ones Midtrans knew ${known}, ${recorded.size} confirmed states recorded as unknown orders, tables otherwise unchanged`,
    );
  } finally {
    await sql.end({ timeout: 5 });
  }
});

Deno.test("assign-meeting-link answers thousands of hostile requests with 4xx JSON errors (real bookings with what they are) and changes no table", async () => {
  await withSql(async (sql) => {
    const { pendingIds, paidId } = await seed(sql);
    const before = await snapshotTables(sql);
    const triedBefore = casesTried;
    const service = asServiceRole;

    await malformedRequests(
      "assign-meeting-link",
      service,
      () => JSON.stringify({ bookingId: pendingIds[0] }),
    );

    // Without a usable key, nothing in the body matters.
    const headerText = fc.string({ unit: "binary-ascii", maxLength: 300 })
      .map((s) => s.replace(/[^\x20-\x7e]/g, "").trim());
    await run(
      fc.record({
        authorization: fc.option(
          fc.oneof(
            headerText,
            headerText.map((t) => `Bearer ${t}`),
            fc.constantFrom(...SQL_INJECTIONS).map((t) => `Bearer ${t}`),
          ),
          { nil: undefined },
        ),
        apikey: fc.option(headerText, { nil: undefined }),
        body: fc.jsonValue(),
      }),
      600,
      async ({ authorization, apikey, body }) => {
        const headers: Record<string, string> = { ...JSON_TYPE };
        if (authorization) headers.authorization = authorization;
        if (apikey) headers.apikey = apikey;
        const answer = await send("assign-meeting-link", {
          headers,
          body: JSON.stringify(body),
        });
        assertClientError(answer, ["unauthorized", "forbidden"]);
      },
    );

    // With the service key: random JSON, and hostile bookingIds of every type.
    await run(
      fc.oneof(
        fc.jsonValue(),
        fc.record({ bookingId: hostileValue }),
        fc.record({ bookingId: fc.oneof(hostileValue, hugeNumberText) }).map(
          (v) => ({ ...v, extra: v.bookingId }),
        ),
      ),
      800,
      async (body) => {
        const answer = await send("assign-meeting-link", {
          headers: { ...service, ...JSON_TYPE },
          body: JSON.stringify(body),
        });
        assertClientError(answer, ["invalid_request", "payload_too_large"]);
      },
    );

    // Well-formed ids: unknown (404), pending (409), already paid and linked (200, no change).
    await run(
      fc.oneof(
        fc.uuid().map((id) => ({ id, expect: "booking_not_found" })),
        fc.constantFrom(...pendingIds).map((id) => ({
          id,
          expect: "booking_not_paid",
        })),
        fc.constant({ id: paidId, expect: "already_assigned" }),
      ),
      500,
      async ({ id, expect }) => {
        const answer = await send("assign-meeting-link", {
          headers: { ...service, ...JSON_TYPE },
          body: JSON.stringify({ bookingId: id, injected: SQL_INJECTIONS[0] }),
        });
        if (expect === "already_assigned") {
          assert.equal(answer.status, 200);
          assert.equal(answer.json?.alreadyAssigned, true);
        } else {
          assertClientError(answer, [expect]);
        }
      },
    );

    await assertServerUp();
    assert.deepEqual(await snapshotTables(sql), before, "no table changed");
    console.log(
      `assign-meeting-link (fast-check seed ${SEED}): ${
        casesTried - triedBefore
      } hostile requests, tables unchanged`,
    );
  });
});
