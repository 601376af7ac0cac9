// assign-meeting-link on a functions server of its own: what a caller sees when the database
// is down or misbehaves, and the log line each request leaves.
import assert from "node:assert/strict";
import {
  addLinks,
  callAssign,
  env,
  freePort,
  insertBookings,
  resetData,
  spawnFunctionsServer,
  withSql,
} from "../support/mod.ts";

type ErrorBody = { error: string; message: string };

/** The test database's URL with another port or database name. */
function dbUrlWith(change: { port?: number; database?: string }): string {
  const url = new URL(env.dbUrl);
  if (change.port) url.port = String(change.port);
  if (change.database) url.pathname = `/${change.database}`;
  return url.href;
}

Deno.test("when the database cannot be reached: 503 database_unavailable, so the caller retries", async (t) => {
  const call = async (dbUrl: string) => {
    const server = await spawnFunctionsServer(freePort(), {
      SUPABASE_DB_URL: dbUrl,
    }, { captureOutput: true });
    try {
      return await callAssign({
        apiUrl: server.url,
        json: { bookingId: crypto.randomUUID() },
      });
    } finally {
      await server.stop();
    }
  };

  await t.step("nothing listens on its port", async () => {
    const response = await call(dbUrlWith({ port: freePort() }));
    assert.equal(response.status, 503, response.text);
    assert.equal((response.json as ErrorBody).error, "database_unavailable");
  });

  await t.step("it accepts connections but never answers", async () => {
    const silent = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const held: Deno.Conn[] = [];
    const accepting = (async () => {
      for await (const conn of silent) held.push(conn);
    })();
    try {
      const started = performance.now();
      const response = await call(
        dbUrlWith({ port: (silent.addr as Deno.NetAddr).port }),
      );
      assert.equal(response.status, 503, response.text);
      assert.equal((response.json as ErrorBody).error, "database_unavailable");
      // connect_timeout is 5 s: the caller is not left hanging.
      assert.ok(performance.now() - started < 15_000);
    } finally {
      silent.close();
      held.forEach((conn) => conn.close());
      await accepting;
    }
  });
});

Deno.test("an unexpected database error: 500 internal_error showing no SQL or stack, which the log keeps", async () => {
  // A database without the migrations (a function deployed before `db push`): the SQL call fails.
  const server = await spawnFunctionsServer(freePort(), {
    SUPABASE_DB_URL: dbUrlWith({ database: "template1" }),
  }, { captureOutput: true });
  let log = "";
  try {
    const response = await callAssign({
      apiUrl: server.url,
      json: { bookingId: crypto.randomUUID() },
    });
    assert.equal(response.status, 500, response.text);
    assert.deepEqual(response.json, {
      error: "internal_error",
      message: "Something went wrong.",
    });
  } finally {
    log = (await server.stop()).stderr;
  }
  assert.match(log, /assign_meeting_link\(unknown\) does not exist/);
  assert.match(log, /"cause":"PostgresError: [^"]*\\n\s+at /, "with its stack");
});

/** The JSON lines a server printed, in order. */
function jsonLines(output: string): Record<string, unknown>[] {
  return output.split("\n").filter((line) => line.startsWith("{")).map((
    line,
  ) => JSON.parse(line));
}

Deno.test("each request leaves one JSON log line with the function, bookingId, outcome and ms", async () => {
  await withSql(async (sql) => {
    await resetData(sql);
    await addLinks(sql, 1);
    const [paid, waiting] = await insertBookings(sql, 2);
    const missing = crypto.randomUUID();
    const server = await spawnFunctionsServer(freePort(), {}, {
      captureOutput: true,
    });
    let output = { stdout: "", stderr: "" };
    try {
      const apiUrl = server.url;
      const call = (json: unknown, headers?: Record<string, string>) =>
        callAssign({ apiUrl, json, headers });
      await call({ bookingId: paid });
      await call({ bookingId: paid });
      await call({ bookingId: waiting });
      await call({ bookingId: missing });
      await call({ bookingId: "not-a-uuid" });
      await call({ bookingId: paid }, {});
      await callAssign({ apiUrl, method: "GET" });
      await callAssign({ apiUrl, method: "OPTIONS" });
    } finally {
      output = await server.stop();
    }
    // Request lines of this function; background tasks (the email drain) log lines of their own.
    const all = jsonLines(output.stdout);
    const lines = all.filter((line) =>
      line.function === "assign-meeting-link" && line.task === undefined
    );
    assert.deepEqual(
      all.filter((line) => line.task === "request_email_drain").map((line) =>
        line.outcome
      ),
      ["drained"],
      "only the pool_exhausted flag queued an email (ops' alert) and asked for a drain; the new link of a booking without an address queued none and asked for none",
    );
    assert.deepEqual(
      jsonLines(output.stderr),
      [],
      "no request failed with a 5xx",
    );
    assert.deepEqual(
      lines.map(({ function: name, bookingId, outcome, status }) => ({
        name,
        bookingId,
        outcome,
        status,
      })),
      [
        [paid, "assigned", 200],
        [paid, "already_assigned", 200],
        [waiting, "pool_exhausted", 409],
        [missing, "booking_not_found", 404],
        [null, "invalid_request", 400],
        [null, "unauthorized", 401],
        [null, "method_not_allowed", 405],
        [null, "preflight", 200],
      ].map(([bookingId, outcome, status]) => ({
        name: "assign-meeting-link",
        bookingId,
        outcome,
        status,
      })),
    );
    for (const line of lines) {
      assert.ok(
        Number.isInteger(line.ms) && (line.ms as number) >= 0,
        JSON.stringify(line),
      );
    }
  });
});
