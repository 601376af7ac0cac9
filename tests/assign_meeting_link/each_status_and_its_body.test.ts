// The assign-meeting-link contract over real HTTP and Postgres: each status with its body.
import assert from "node:assert/strict";
import {
  addLinks,
  asServiceRole,
  assignLink,
  callAssign,
  env,
  insertBookings,
  meetLink,
  resetData,
  signJwt,
  snapshotTables,
  withSql,
} from "../support/mod.ts";

type ErrorBody = { error: string; message: string; bookingId?: string };

const BODY_CAP = 16 * 1024;
const json = { "content-type": "application/json" };

Deno.test("a paid booking without a link gets one: 200 with the link and alreadyAssigned false", async () => {
  await withSql(async (sql) => {
    await resetData(sql);
    const [linkId] = await addLinks(sql, 1);
    const [bookingId] = await insertBookings(sql, 1);

    const response = await assignLink(bookingId);

    assert.equal(response.status, 200, response.text);
    assert.deepEqual(response.json, {
      bookingId,
      meetingLinkId: linkId,
      meetingLink: meetLink(1),
      alreadyAssigned: false,
    });
    const [row] = await sql`
      select meeting_link_id, payment_status, needs_manual_link from bookings where id = ${bookingId}`;
    assert.deepEqual({ ...row }, {
      meeting_link_id: linkId,
      payment_status: "paid",
      needs_manual_link: false,
    });
  });
});

Deno.test("asking twice for one booking returns the same link, the second time with alreadyAssigned true", async () => {
  await withSql(async (sql) => {
    await resetData(sql);
    await addLinks(sql, 3);
    const [bookingId] = await insertBookings(sql, 1);

    const first = await assignLink(bookingId);
    const second = await assignLink(bookingId);

    assert.equal(first.status, 200, first.text);
    assert.equal(second.status, 200, second.text);
    assert.deepEqual(second.json, {
      ...(first.json as object),
      alreadyAssigned: true,
    });
  });
});

Deno.test("a body that is not JSON, not an object, or has no UUID bookingId gets 400 invalid_request saying what is wrong", async (t) => {
  const cases: [string, { body?: string; json?: unknown }, RegExp][] = [
    ["not JSON", { body: '{"bookingId": ' }, /not valid JSON/],
    ["empty", { body: "" }, /not valid JSON/],
    ["an array", { json: [crypto.randomUUID()] }, /must be a JSON object/],
    ["a string", { json: crypto.randomUUID() }, /must be a JSON object/],
    ["null", { json: null }, /must be a JSON object/],
    [
      "no bookingId",
      { json: { booking_id: crypto.randomUUID() } },
      /^bookingId: is required$/,
    ],
    [
      "bookingId not a UUID",
      { json: { bookingId: "42" } },
      /^bookingId: must be a UUID$/,
    ],
    [
      "bookingId a number",
      { json: { bookingId: 42 } },
      /^bookingId: must be a UUID$/,
    ],
    ["bookingId a UUID with more after it", {
      json: { bookingId: `${crypto.randomUUID()}x` },
    }, /^bookingId: must be a UUID$/],
  ];
  for (const [name, request, message] of cases) {
    await t.step(name, async () => {
      const response = await callAssign({
        ...request,
        headers: { ...asServiceRole, ...json },
      });
      assert.equal(response.status, 400, response.text);
      const body = response.json as ErrorBody;
      assert.equal(body.error, "invalid_request");
      assert.match(body.message, message);
    });
  }
});

Deno.test("fields other than bookingId are ignored", async () => {
  await withSql(async (sql) => {
    await resetData(sql);
    const [linkId] = await addLinks(sql, 1);
    const [bookingId] = await insertBookings(sql, 1);

    const response = await callAssign({
      json: { bookingId, note: "from ops", retry: { attempt: 2 } },
    });

    assert.equal(response.status, 200, response.text);
    assert.equal(
      (response.json as { meetingLinkId: string }).meetingLinkId,
      linkId,
    );
  });
});

Deno.test("no credentials, or ones of no known shape, get 401 unauthorized", async (t) => {
  const cases: [string, Record<string, string>][] = [
    ["no header", {}],
    ["a bare token without a scheme", { authorization: env.serviceRoleKey }],
    ["a garbage bearer token", { authorization: "Bearer not-a-key" }],
    ["an empty bearer", { authorization: "Bearer " }],
    ["Basic credentials", {
      authorization: `Basic ${btoa("postgres:postgres")}`,
    }],
    ["a garbage apikey", { apikey: "not-a-key" }],
  ];
  for (const [name, headers] of cases) {
    await t.step(name, async () => {
      const response = await callAssign({
        json: { bookingId: crypto.randomUUID() },
        headers,
      });
      assert.equal(response.status, 401, response.text);
      assert.equal((response.json as ErrorBody).error, "unauthorized");
    });
  }
});

Deno.test("a well-formed key that is not the service role's gets 403 forbidden", async (t) => {
  const now = Math.floor(Date.now() / 1000);
  const userJwt = await signJwt({
    sub: crypto.randomUUID(),
    role: "authenticated",
    aud: "authenticated",
    iat: now,
    exp: now + 3600,
  }, env.jwtSecret);
  const forgedServiceRole = await signJwt({
    role: "service_role",
    iat: now,
    exp: now + 3600,
  }, "not-the-project-jwt-secret-but-as-long-as-one");

  await t.step(
    "(the signer is genuine: it re-signs the service-role key byte for byte)",
    async () => {
      const claims = JSON.parse(
        atob(
          env.serviceRoleKey.split(".")[1].replace(/-/g, "+").replace(
            /_/g,
            "/",
          ),
        ),
      );
      assert.equal(await signJwt(claims, env.jwtSecret), env.serviceRoleKey);
    },
  );

  const cases: [string, Record<string, string>][] = [
    ["the anon key as bearer", { authorization: `Bearer ${env.anonKey}` }],
    ["the anon key as apikey", { apikey: env.anonKey }],
    ["a user's JWT", { authorization: `Bearer ${userJwt}` }],
    ["a user's JWT with the anon apikey", {
      authorization: `Bearer ${userJwt}`,
      apikey: env.anonKey,
    }],
    ["the publishable key", { apikey: env.publishableKey }],
    ["a secret key that is not the project's", {
      apikey: "sb_secret_AAAAAAAAAAAAAAAAAAAAAA_BBBBBBBB",
    }],
    ["a service_role JWT signed with another secret", {
      authorization: `Bearer ${forgedServiceRole}`,
    }],
  ];
  for (const [name, headers] of cases) {
    await t.step(name, async () => {
      const response = await callAssign({
        json: { bookingId: crypto.randomUUID() },
        headers,
      });
      assert.equal(response.status, 403, response.text);
      assert.equal((response.json as ErrorBody).error, "forbidden");
    });
  }
});

Deno.test("the service role is accepted: a secret key or the service-role key, as apikey or as bearer", async (t) => {
  const cases: [string, Record<string, string>][] = [
    ["apikey: sb_secret_...", { apikey: env.secretKey }],
    ["Authorization: Bearer <service-role key>", asServiceRole],
    ["authorization: bearer <service-role key> (scheme in lower case)", {
      authorization: `bearer ${env.serviceRoleKey}`,
    }],
    ["apikey: <service-role key>", { apikey: env.serviceRoleKey }],
    ["Authorization: Bearer sb_secret_...", {
      authorization: `Bearer ${env.secretKey}`,
    }],
    [
      "the anon apikey beside the service-role bearer, as supabase-js sends it",
      {
        ...asServiceRole,
        apikey: env.anonKey,
      },
    ],
  ];
  await withSql(async (sql) => {
    await resetData(sql);
    await addLinks(sql, cases.length);
    const bookingIds = await insertBookings(sql, cases.length);
    for (const [i, [name, headers]] of cases.entries()) {
      await t.step(name, async () => {
        const response = await assignLink(bookingIds[i], headers);
        assert.equal(response.status, 200, response.text);
        assert.equal(
          (response.json as { alreadyAssigned: boolean }).alreadyAssigned,
          false,
        );
      });
    }
  });
});

Deno.test("an unknown booking gets 404 booking_not_found", async () => {
  await withSql(async (sql) => {
    await resetData(sql);
    await addLinks(sql, 1);
    const bookingId = crypto.randomUUID();

    const response = await assignLink(bookingId);

    assert.equal(response.status, 404, response.text);
    const body = response.json as ErrorBody;
    assert.equal(body.error, "booking_not_found");
    assert.match(body.message, new RegExp(bookingId));
  });
});

Deno.test("a booking that is not paid gets 409 booking_not_paid and no link", async (t) => {
  await withSql(async (sql) => {
    await resetData(sql);
    await addLinks(sql, 1);
    for (
      const status of ["pending", "failed", "expired", "cancelled", "refunded"]
    ) {
      await t.step(status, async () => {
        const [bookingId] = await insertBookings(sql, 1, { status });

        const response = await assignLink(bookingId);

        assert.equal(response.status, 409, response.text);
        const body = response.json as ErrorBody;
        assert.equal(body.error, "booking_not_paid");
        assert.match(body.message, new RegExp(`is ${status}, not paid`));
        const [row] = await sql`
          select payment_status, meeting_link_id, needs_manual_link from bookings where id = ${bookingId}`;
        assert.deepEqual({ ...row }, {
          payment_status: status,
          meeting_link_id: null,
          needs_manual_link: false,
        });
      });
    }
  });
});

Deno.test("when every link is taken for the slot: 409 pool_exhausted, and the booking stays paid, flagged for a manual link", async () => {
  await withSql(async (sql) => {
    await resetData(sql);
    await addLinks(sql, 1);
    const [first, second] = await insertBookings(sql, 2);
    assert.equal((await assignLink(first)).status, 200);

    const response = await assignLink(second);

    assert.equal(response.status, 409, response.text);
    const body = response.json as ErrorBody;
    assert.equal(body.error, "pool_exhausted");
    assert.equal(body.bookingId, second);
    const [row] = await sql`
      select payment_status, meeting_link_id, needs_manual_link from bookings where id = ${second}`;
    assert.deepEqual({ ...row }, {
      payment_status: "paid",
      meeting_link_id: null,
      needs_manual_link: true,
    });
  });
});

Deno.test("methods other than POST get 405 method_not_allowed with an Allow header", async (t) => {
  for (const method of ["GET", "PUT", "PATCH", "DELETE"]) {
    await t.step(method, async () => {
      const response = await callAssign({ method });
      assert.equal(response.status, 405, response.text);
      assert.equal(response.headers.get("allow"), "POST, OPTIONS");
      assert.equal((response.json as ErrorBody).error, "method_not_allowed");
    });
  }
});

Deno.test("a CORS preflight gets 200 with the CORS headers a browser needs to POST", async () => {
  const response = await callAssign({
    method: "OPTIONS",
    headers: {
      origin: "http://localhost:3000",
      "access-control-request-method": "POST",
      "access-control-request-headers": "authorization, apikey, content-type",
    },
  });
  assert.equal(response.status, 200, response.text);
  assert.equal(response.headers.get("access-control-allow-origin"), "*");
  assert.match(
    response.headers.get("access-control-allow-methods") ?? "",
    /\bPOST\b/,
  );
  const allowed = (response.headers.get("access-control-allow-headers") ?? "")
    .split(/,\s*/);
  for (const header of ["authorization", "apikey", "content-type"]) {
    assert.ok(allowed.includes(header), `${header} in ${allowed}`);
  }
});

/** A JSON body of exactly `size` bytes asking for `bookingId`. */
function paddedBody(bookingId: string, size: number): string {
  const empty = JSON.stringify({ bookingId, padding: "" });
  return JSON.stringify({
    bookingId,
    padding: "x".repeat(size - empty.length),
  });
}

Deno.test(`a body over ${BODY_CAP} bytes gets 413 payload_too_large`, async (t) => {
  await withSql(async (sql) => {
    await resetData(sql);
    await addLinks(sql, 1);
    const [bookingId] = await insertBookings(sql, 1);
    const headers = { ...asServiceRole, ...json };

    await t.step("with its length declared", async () => {
      const response = await callAssign({
        body: paddedBody(bookingId, BODY_CAP + 1),
        headers,
      });
      assert.equal(response.status, 413, response.text);
      assert.equal((response.json as ErrorBody).error, "payload_too_large");
    });

    await t.step("streamed without a length", async () => {
      const bytes = new TextEncoder().encode(
        paddedBody(bookingId, BODY_CAP + 1),
      );
      const body = new ReadableStream<Uint8Array>({
        start(controller) {
          // In pieces, so the cap is enforced while reading, not from one chunk.
          for (let at = 0; at < bytes.length; at += 4096) {
            controller.enqueue(bytes.slice(at, at + 4096));
          }
          controller.close();
        },
      });
      const response = await callAssign({ body, headers });
      assert.equal(response.status, 413, response.text);
      assert.equal((response.json as ErrorBody).error, "payload_too_large");
    });

    await t.step(`(a body of exactly ${BODY_CAP} bytes is read)`, async () => {
      const response = await callAssign({
        body: paddedBody(bookingId, BODY_CAP),
        headers,
      });
      assert.equal(response.status, 200, response.text);
    });
  });
});

Deno.test("a body not sent as application/json gets 415 unsupported_media_type", async (t) => {
  const body = JSON.stringify({ bookingId: crypto.randomUUID() });
  const cases: [string, BodyInit, Record<string, string>][] = [
    ["text/plain", body, { "content-type": "text/plain" }],
    ["a form", body, { "content-type": "application/x-www-form-urlencoded" }],
    ["application/jsonp", body, { "content-type": "application/jsonp" }],
    ["no content type", new TextEncoder().encode(body), {}],
  ];
  for (const [name, payload, headers] of cases) {
    await t.step(name, async () => {
      const response = await callAssign({
        body: payload,
        headers: { ...asServiceRole, ...headers },
      });
      assert.equal(response.status, 415, response.text);
      assert.equal(
        (response.json as ErrorBody).error,
        "unsupported_media_type",
      );
    });
  }
});

Deno.test("the anon key gets 403 and no credentials 401, and neither changes any row", async () => {
  await withSql(async (sql) => {
    await resetData(sql);
    await addLinks(sql, 1);
    const [bookingId] = await insertBookings(sql, 1);
    const before = await snapshotTables(sql);

    const anon = await assignLink(bookingId, {
      authorization: `Bearer ${env.anonKey}`,
    });
    const none = await assignLink(bookingId, {});

    assert.equal(anon.status, 403, anon.text);
    assert.equal(none.status, 401, none.text);
    assert.deepEqual(await snapshotTables(sql), before);
    // The same request with the service-role key does change the booking, so the snapshot
    // would have seen it.
    assert.equal((await assignLink(bookingId)).status, 200);
    assert.notDeepEqual(await snapshotTables(sql), before);
  });
});

Deno.test("every answer is JSON, with a stable error code on failure", async () => {
  await withSql(async (sql) => {
    await resetData(sql);
    await addLinks(sql, 1);
    const [paid, exhausted] = await insertBookings(sql, 2);
    const [pending] = await insertBookings(sql, 1, { status: "pending" });
    const requests: [
      number,
      string | undefined,
      Parameters<typeof callAssign>[0],
    ][] = [
      [200, undefined, { json: { bookingId: paid } }],
      [400, "invalid_request", { json: {} }],
      [401, "unauthorized", { json: { bookingId: paid }, headers: {} }],
      [403, "forbidden", {
        json: { bookingId: paid },
        headers: { apikey: env.anonKey },
      }],
      [404, "booking_not_found", { json: { bookingId: crypto.randomUUID() } }],
      [409, "booking_not_paid", { json: { bookingId: pending } }],
      [409, "pool_exhausted", { json: { bookingId: exhausted } }],
      [405, "method_not_allowed", { method: "GET" }],
      [413, "payload_too_large", {
        body: paddedBody(paid, BODY_CAP + 1),
        headers: { ...asServiceRole, ...json },
      }],
      [415, "unsupported_media_type", {
        body: "{}",
        headers: { ...asServiceRole, "content-type": "text/plain" },
      }],
      [200, undefined, { method: "OPTIONS", headers: {} }],
    ];
    for (const [status, error, request] of requests) {
      // callAssign fails unless the answer is declared and parses as JSON.
      const response = await callAssign(request);
      assert.equal(response.status, status, response.text);
      const body = response.json as Partial<ErrorBody>;
      assert.equal(body.error, error, response.text);
      if (error) assert.equal(typeof body.message, "string", response.text);
    }
  });
});
