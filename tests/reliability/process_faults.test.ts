// Faults with real processes: the test cluster's Postgres stopped while payments arrive, the
// background assign hanging while a payment settles, a functions server restarted while
// notifications are in flight, and a database that accepts connections but never answers.
// Every wait is bounded by a deadline.
import assert from "node:assert/strict";
import {
  addLinks,
  env,
  freePort,
  type FunctionResponse,
  type Notification,
  pollUntil,
  postToWebhook,
  putTransaction,
  resetData,
  type ServerExit,
  settleBackgroundWork,
  settlement,
  signed,
  spawnFunctionsServer,
  type Sql,
  statusFieldsOf,
  testPostgres,
  withPoolLocked,
  withSql,
} from "../support/mod.ts";

// Extra servers and peers of this file, on ports free when it starts (two runs never collide).
const HANGING_ASSIGN_PORT = freePort();
const RESTARTED_PORT = freePort();
const SILENT_DB_PORT = freePort();
const SILENT_DB_SERVER_PORT = freePort();

/** Bookings `${prefix}-1..count`, pending, 100000 IDR, one hour each from 2031-02-01. */
async function pendingBookings(
  sql: Sql,
  prefix: string,
  count: number,
): Promise<string[]> {
  await resetData(sql);
  await addLinks(sql, 3);
  const rows = await sql<{ order_id: string }[]>`
    insert into bookings (order_id, starts_at, ends_at, amount)
    select ${prefix} || '-' || i,
      timestamptz '2031-02-01 10:00Z' + i * interval '1 hour',
      timestamptz '2031-02-01 11:00Z' + i * interval '1 hour', 100000
    from generate_series(1, ${count}::int) as i
    order by i
    returning order_id`;
  return rows.map((row) => row.order_id);
}

/** A booking of pendingBookings paid in full at Midtrans (the stand-in), and its signed settlement. */
async function paidInFull(orderId: string): Promise<Notification> {
  const paid = settlement(orderId, {
    gross_amount: "100000.00",
    currency: "IDR",
  });
  await putTransaction(orderId, statusFieldsOf(paid));
  return signed(paid);
}

/** Sends until Midtrans would stop retrying: a 2xx answer, within `withinMs`. */
function deliverUntil2xx(
  notification: Notification,
  apiUrl: string,
  withinMs: number,
  failures: { count: number },
): Promise<FunctionResponse> {
  return pollUntil("a 2xx answer", async () => {
    try {
      const answer = await postToWebhook(notification, {
        apiUrl,
        timeoutMs: 10_000,
      });
      if (answer.status < 300) return answer;
    } catch {
      // connection refused or reset: the server is not there right now
    }
    failures.count++;
    return undefined;
  }, withinMs);
}

/** A TCP peer on `port` that accepts connections and never answers, and how many it took. */
function silentPeer(port: number) {
  const listener = Deno.listen({ hostname: "127.0.0.1", port });
  const held: Deno.Conn[] = [];
  const accepting = (async () => {
    for await (const conn of listener) held.push(conn);
  })();
  return {
    held,
    async close() {
      listener.close();
      await accepting.catch(() => {});
      for (const conn of held) {
        try {
          conn.close();
        } catch {
          // closed by the other side already
        }
      }
    },
  };
}

function processAlive(pid: number): boolean {
  try {
    // SIGCONT does nothing to a running process; it fails for one that is gone.
    Deno.kill(pid, "SIGCONT");
    return true;
  } catch {
    return false;
  }
}

Deno.test("while Postgres is down, signed settlements get 503 (never 200); retried after it is back, each is recorded once by the same server", async () => {
  const orders = await withSql((sql) => pendingBookings(sql, "pg-down", 10));
  const notifications = await Promise.all(orders.map(paidInFull));
  const serverPid = env.functionsServerPid;

  let stopped = false;
  let whileDown: FunctionResponse[];
  try {
    await testPostgres("stop");
    stopped = true;
    whileDown = await Promise.all(
      notifications.map((n) => postToWebhook(n, { timeoutMs: 30_000 })),
    );
  } finally {
    if (stopped) await testPostgres("start");
  }
  assert.deepEqual(
    whileDown.map((a) => [a.status, a.json?.error]),
    orders.map(() => [503, "database_unavailable"]),
    "every notification is refused with a 503 Midtrans retries",
  );
  console.log(
    `Postgres down: ${whileDown.length} notifications refused with 503, slowest in ${
      Math.max(...whileDown.map((a) => a.ms))
    } ms`,
  );

  const failures = { count: 0 };
  const retried = await Promise.all(
    notifications.map((n) => deliverUntil2xx(n, env.apiUrl, 30_000, failures)),
  );
  console.log(
    `Postgres back: ${retried.length} retries answered 2xx after ${failures.count} further 5xx/refusals`,
  );
  // A retry the client gave up on (10 s) may still have been recorded while the pool came
  // back: the next one is then a duplicate, as when Midtrans times out after 15 s.
  assert.ok(
    retried.every((a) =>
      a.status === 200 &&
      ["paid", "duplicate"].includes(String(a.json?.outcome))
    ),
    `every retry that reaches the database is recorded: ${
      JSON.stringify(retried.map((a) => a.json?.outcome))
    }`,
  );
  const again = await Promise.all(
    notifications.map((n) => postToWebhook(n)),
  );
  assert.deepEqual(
    again.map((a) => a.json?.outcome),
    orders.map(() => "duplicate"),
    "a further retry is a duplicate",
  );

  await withSql(async (sql) => {
    const rows = await sql`
      select n.order_id, n.outcome, n.deliveries, b.payment_status
      from midtrans_notifications n join bookings b on b.order_id = n.order_id
      order by n.order_id`;
    assert.deepEqual(
      rows.map((r) => ({ ...r, deliveries: r.deliveries >= 2 })),
      [...orders].sort().map((order_id) => ({
        order_id,
        outcome: "paid",
        deliveries: true,
        payment_status: "paid",
      })),
      "one row per payment, paid once: nothing was recorded while the database was down",
    );
  });
  if (serverPid) {
    assert.ok(
      processAlive(serverPid),
      "the functions server was never restarted",
    );
  }
});

Deno.test("when the background assign hangs on a locked pool, the webhook still answers 200 at once, the assign is cancelled at its query timeout, and the sweep gives the paid booking its link", async () => {
  const [order] = await withSql((sql) => pendingBookings(sql, "no-assign", 1));
  const server = await spawnFunctionsServer(HANGING_ASSIGN_PORT, {
    DB_QUERY_TIMEOUT_MS: "500",
  }, { captureOutput: true });
  let stopped: ServerExit | undefined;
  try {
    const { webhookMs, settleMs } = await withPoolLocked(async () => {
      const answer = await postToWebhook(await paidInFull(order), {
        apiUrl: server.url,
      });
      assert.equal(answer.status, 200);
      assert.equal(answer.json?.outcome, "paid");
      const started = performance.now();
      const pending = await settleBackgroundWork(server.url);
      const settleMs = Math.round(performance.now() - started);
      assert.equal(pending, 0, "the hung assign has ended");
      const [booking] = await withSql((sql) =>
        sql`select payment_status, meeting_link_id from bookings where order_id = ${order}`
      );
      assert.deepEqual(
        { ...booking },
        { payment_status: "paid", meeting_link_id: null },
        "paid, and no link while the pool was locked",
      );
      return { webhookMs: answer.ms, settleMs };
    });
    console.log(
      `assign hung on the lock: webhook answered in ${webhookMs} ms, the assign gave up within ${settleMs} ms`,
    );
    assert.ok(webhookMs < 3_000, `webhook answered in ${webhookMs} ms`);
    assert.ok(settleMs < 5_000, `the hung assign ended after ${settleMs} ms`);
  } finally {
    stopped = await server.stop();
  }
  assert.equal(stopped.code, 0, "the server stops cleanly");
  const failed = stopped.stderr.split("\n").filter((line) =>
    line.includes('"task":"assign_meeting_link"')
  ).map((line) => JSON.parse(line));
  assert.equal(failed.length, 1, "one assign, logged as failed");
  assert.match(
    failed[0].outcome,
    /^failed: The database did not answer in time/,
  );

  await withSql(async (sql) => {
    await sql`select assign_pending_meeting_links()`;
    const [booking] = await sql`
      select payment_status, meeting_link_id is not null as has_link
      from bookings where order_id = ${order}`;
    assert.deepEqual(
      { ...booking },
      { payment_status: "paid", has_link: true },
      "the booking stayed paid and got its link from the sweep's function",
    );
  });
});

Deno.test("a functions server restarted while notifications are in flight loses nothing it answered 2xx", async () => {
  const total = 150;
  const concurrency = 8;
  const orders = await withSql((sql) => pendingBookings(sql, "restart", total));
  const notifications = await Promise.all(orders.map(paidInFull));

  let server = await spawnFunctionsServer(RESTARTED_PORT);
  const url = server.url;
  const answered2xx: string[] = [];
  const failures = { count: 0 };
  let answeredBeforeRestart = -1;
  let restart: Promise<void> | undefined;
  let next = 0;
  try {
    const worker = async () => {
      while (next < notifications.length) {
        const notification = notifications[next++];
        const answer = await deliverUntil2xx(
          notification,
          url,
          60_000,
          failures,
        );
        assert.equal(answer.json?.outcome, "paid");
        answered2xx.push(notification.order_id);
        if (answered2xx.length === total / 3 && !restart) {
          answeredBeforeRestart = answered2xx.length;
          const old = server;
          restart = (async () => {
            const status = await old.stop();
            assert.equal(status.code, 0, "the old server exits cleanly");
            server = await spawnFunctionsServer(RESTARTED_PORT);
          })();
        }
      }
    };
    await Promise.all(Array.from({ length: concurrency }, worker));
    await restart;
  } finally {
    await server.stop();
  }
  console.log(
    `restart mid-run: ${answered2xx.length} notifications answered 2xx (${answeredBeforeRestart} before SIGTERM), ${failures.count} refused while restarting and retried`,
  );
  assert.ok(
    answeredBeforeRestart > 0 && answeredBeforeRestart < total,
    "the restart happened while notifications were still arriving",
  );

  await withSql(async (sql) => {
    const [state] = await sql`
      select
        (select count(*)::int from midtrans_notifications
          where order_id = any(${answered2xx}) and outcome = 'paid') as recorded,
        (select count(*)::int from bookings
          where order_id = any(${answered2xx}) and payment_status = 'paid') as paid`;
    assert.deepEqual({ ...state }, { recorded: total, paid: total });
  });
  assert.equal(new Set(answered2xx).size, total);
});

Deno.test("when the database accepts connections but never answers, the webhook answers 503 within seconds, never 200", async () => {
  const peer = silentPeer(SILENT_DB_PORT);
  const server = await spawnFunctionsServer(SILENT_DB_SERVER_PORT, {
    SUPABASE_DB_URL:
      `postgresql://postgres:postgres@127.0.0.1:${SILENT_DB_PORT}/postgres`,
    DB_QUERY_TIMEOUT_MS: "2000",
  });
  try {
    const answer = await postToWebhook(await paidInFull("silent-db-1"), {
      apiUrl: server.url,
      timeoutMs: 30_000,
    });
    console.log(
      `database silent: webhook answered ${answer.status} after ${answer.ms} ms`,
    );
    assert.equal(answer.status, 503);
    assert.equal(answer.json?.error, "database_unavailable");
    assert.ok(answer.ms < 10_000, `answered after ${answer.ms} ms`);
    assert.ok(peer.held.length >= 1, "the function did try the database");
  } finally {
    await server.stop();
    await peer.close();
  }
});
