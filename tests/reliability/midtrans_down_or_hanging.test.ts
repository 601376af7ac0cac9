// Midtrans's Get Status API cannot be asked: nothing listens, it never answers, it answers 500,
// or it refuses the server key. The webhook answers 503 (Midtrans retries a 503 four times over
// hours) and writes nothing; the same notification is applied once Midtrans answers again.
import assert from "node:assert/strict";
import {
  answer,
  connect,
  createBooking,
  freePort,
  postToWebhook,
  putTransaction,
  resetData,
  setSandboxFault,
  settlement,
  signed,
  snapshotTables,
  spawnFunctionsServer,
  spawnMidtransSandbox,
  statusFieldsOf,
} from "../support/mod.ts";

const TIMEOUT_MS = 1_000;

Deno.test("Midtrans down, hanging, failing or refusing the key: 503 and nothing written; once it is back the notification is applied", async (t) => {
  const sql = connect();
  const midtransPort = freePort();
  // A functions server of its own whose Midtrans is a port the test controls.
  const server = await spawnFunctionsServer(freePort(), {
    MIDTRANS_API_URL: `http://127.0.0.1:${midtransPort}`,
    MIDTRANS_API_TIMEOUT_MS: String(TIMEOUT_MS),
  });
  let midtrans: Awaited<ReturnType<typeof spawnMidtransSandbox>> | undefined;
  const notification = signed(settlement("midtrans-faults"));
  /** (Re)starts Midtrans on its port, knowing the transaction, with the test key or `serverKey`. */
  const startMidtrans = async (serverKey?: string) => {
    await midtrans?.stop();
    midtrans = await spawnMidtransSandbox(midtransPort, {
      apiUrl: server.url,
      serverKey,
    });
    await putTransaction(
      "midtrans-faults",
      statusFieldsOf(notification),
      midtrans.url,
    );
  };
  try {
    await resetData(sql);
    await createBooking(sql, "midtrans-faults");
    const before = await snapshotTables(sql);
    const deliver = () => postToWebhook(notification, { apiUrl: server.url });
    const unavailable = { status: 503, error: "midtrans_unavailable" };

    await t.step("nothing listens", async () => {
      assert.deepEqual(answer(await deliver()), unavailable);
      assert.deepEqual(await snapshotTables(sql), before);
    });

    await startMidtrans();

    await t.step("it never answers: 503 once the timeout passes", async () => {
      await setSandboxFault("hang", midtrans!.url);
      const response = await deliver();
      assert.deepEqual(answer(response), unavailable);
      assert.ok(
        response.ms >= TIMEOUT_MS && response.ms < TIMEOUT_MS + 3_000,
        `answered after ${response.ms} ms`,
      );
      console.log(
        `Midtrans hanging: webhook answered 503 after ${response.ms} ms (timeout ${TIMEOUT_MS} ms)`,
      );
      assert.deepEqual(await snapshotTables(sql), before);
    });

    await t.step("it answers 500", async () => {
      await setSandboxFault("error", midtrans!.url);
      assert.deepEqual(answer(await deliver()), unavailable);
      assert.deepEqual(await snapshotTables(sql), before);
    });

    await t.step("it refuses the server key (401)", async () => {
      await startMidtrans("SB-Mid-server-SOMEONE-ELSE");
      assert.deepEqual(answer(await deliver()), unavailable);
      assert.deepEqual(await snapshotTables(sql), before);
    });

    await t.step("Midtrans is back: Midtrans's retry is applied", async () => {
      await startMidtrans();
      assert.deepEqual(answer(await deliver()), {
        status: 200,
        outcome: "paid",
      });
      const [row] = await sql`
        select payment_status from bookings where order_id = 'midtrans-faults'`;
      assert.equal(row.payment_status, "paid");
    });
  } finally {
    await midtrans?.stop();
    await fetch(`${server.url}/_local/settle`, { method: "POST" })
      .then((r) => r.text());
    await server.stop();
    await sql.end({ timeout: 5 });
  }
});
