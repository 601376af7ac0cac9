// Deployment and infrastructure faults, on a second functions server with a broken environment:
// the webhook never accepts a notification it cannot verify or store, and says so in a way that
// makes Midtrans retry.
import assert from "node:assert/strict";
import {
  answer,
  createBooking,
  deliver,
  freePort,
  settlement,
  snapshotTables,
  spawnFunctionsServer,
  webhookTest,
} from "../support/mod.ts";

webhookTest(
  "without MIDTRANS_SERVER_KEY the webhook answers 500 server_misconfigured and writes nothing",
  async (sql) => {
    await createBooking(sql, "no-key");
    const before = await snapshotTables(sql);
    // An empty value counts as unset (a child process can only inherit the variable, not lose it).
    const server = await spawnFunctionsServer(freePort(), {
      MIDTRANS_SERVER_KEY: "",
    });
    try {
      const response = await deliver(settlement("no-key"), {
        apiUrl: server.url,
      });

      assert.deepEqual(answer(response), {
        status: 500,
        error: "server_misconfigured",
      }, response.text);
    } finally {
      await server.stop();
    }
    assert.deepEqual(await snapshotTables(sql), before);
  },
);

webhookTest(
  "with the database unreachable the webhook answers 503 so that Midtrans retries",
  async (sql) => {
    await createBooking(sql, "db-down");
    const before = await snapshotTables(sql);
    const server = await spawnFunctionsServer(freePort(), {
      SUPABASE_DB_URL:
        `postgresql://postgres:postgres@127.0.0.1:${freePort()}/postgres`,
    });
    try {
      const response = await deliver(settlement("db-down"), {
        apiUrl: server.url,
      });

      assert.deepEqual(answer(response), {
        status: 503,
        error: "database_unavailable",
      }, response.text);
    } finally {
      await server.stop();
    }
    assert.deepEqual(await snapshotTables(sql), before);
  },
);
