// whatsapp-webhook over real HTTP: Meta's verification handshake; callbacks signed with the app
// secret recorded on their message by wamid (repeated, out of order, from the stand-in), forged
// ones refused with nothing written; unknown wamids and customers' messages answered 200.
import assert from "node:assert/strict";
import {
  callFunction,
  createCustomerBooking,
  env,
  pay,
  postToWhatsAppWebhook,
  signWhatsApp,
  type Sql,
  statusCallback,
  webhookTest,
  WhatsAppSandbox,
} from "../support/mod.ts";

const sandbox = new WhatsAppSandbox();
const SLOT = { startsAt: "2031-03-04 10:00+07", endsAt: "2031-03-04 11:00+07" };

/** A paid booking whose WhatsApp invite the stand-in accepted; its wamid. */
async function sentInvite(
  sql: Sql,
  orderId: string,
  n: number,
): Promise<string> {
  const phone = `+628${String(Date.now() % 1e8).padStart(8, "0")}${n}`;
  await createCustomerBooking(sql, orderId, {
    email: null,
    phone,
    whatsapp: true,
  }, SLOT);
  await pay(orderId);
  const [row] = await sql<
    { wamid: string }[]
  >`select wamid from booking_whatsapp_messages
    where order_id = ${orderId} and kind = 'invite' and status = 'sent'`;
  assert.ok(row?.wamid, "the invite was sent");
  return row.wamid;
}

async function delivery(sql: Sql, wamid: string) {
  const [row] =
    await sql`select delivery_status, delivery_status_at, delivery_error
    from booking_whatsapp_messages where wamid = ${wamid}`;
  return { ...row };
}

function status(
  wamid: string,
  value: string,
  timestamp: number,
  errors?: unknown[],
) {
  return {
    id: wamid,
    status: value,
    timestamp: String(timestamp),
    recipient_id: "6281200000000",
    ...(errors ? { errors } : {}),
  };
}

Deno.test("the verification handshake echoes the challenge for the verify token only", async () => {
  const ok = await callFunction("whatsapp-webhook", {
    path: `?hub.mode=subscribe&hub.verify_token=${
      encodeURIComponent(env.whatsappVerifyToken)
    }&hub.challenge=1158201444`,
  });
  assert.equal(ok.status, 200);
  assert.equal(ok.text, "1158201444");
  for (
    const query of [
      "?hub.mode=subscribe&hub.verify_token=wrong&hub.challenge=1",
      `?hub.mode=unsubscribe&hub.verify_token=${env.whatsappVerifyToken}&hub.challenge=1`,
      "",
    ]
  ) {
    const refused = await callFunction("whatsapp-webhook", { path: query });
    assert.equal(refused.status, 403, query);
    assert.equal(refused.json?.error, "verification_failed");
  }
});

webhookTest(
  "statuses: recorded by wamid, repeated and out of order without going back",
  async (sql) => {
    const wamid = await sentInvite(sql, "wa-hook-1", 1);
    const t = 1_900_000_000;

    // delivered, then a late sent: stays delivered; then read; then delivered again: stays read.
    let answer = await postToWhatsAppWebhook(
      statusCallback([status(wamid, "delivered", t + 2)]),
    );
    assert.equal(answer.status, 200);
    assert.deepEqual(answer.json, {
      received: true,
      recorded: 1,
      unchanged: 0,
      unknown: 0,
    });
    answer = await postToWhatsAppWebhook(
      statusCallback([status(wamid, "sent", t + 1)]),
    );
    assert.deepEqual(answer.json?.unchanged, 1, "a late sent changes nothing");
    assert.equal((await delivery(sql, wamid)).delivery_status, "delivered");

    // read and a duplicate of it in one callback, then the same callback again.
    const both = statusCallback([
      status(wamid, "read", t + 3),
      status(wamid, "read", t + 3),
    ]);
    answer = await postToWhatsAppWebhook(both);
    assert.equal(answer.json?.recorded, 1);
    answer = await postToWhatsAppWebhook(both);
    assert.equal(
      answer.json?.recorded,
      0,
      "a retried callback records nothing",
    );
    answer = await postToWhatsAppWebhook(
      statusCallback([status(wamid, "delivered", t + 4)]),
    );
    assert.equal(
      answer.json?.recorded,
      0,
      "delivered after read does not go back",
    );
    const row = await delivery(sql, wamid);
    assert.equal(row.delivery_status, "read");
    assert.equal((row.delivery_status_at as Date).getTime(), (t + 3) * 1000);

    const [view] = await sql`select status from booking_messages
    where order_id = 'wa-hook-1' and channel = 'whatsapp' and kind = 'invite'`;
    assert.equal(view.status, "read", "the admin view shows the latest status");
  },
);

webhookTest(
  "a failed status is recorded with Meta's error and listed as failed",
  async (sql) => {
    const wamid = await sentInvite(sql, "wa-hook-2", 2);
    const answer = await postToWhatsAppWebhook(statusCallback([
      status(wamid, "sent", 1_900_000_000),
      status(wamid, "failed", 1_900_000_001, [{
        code: 131026,
        title: "Message undeliverable",
        message: "Message undeliverable",
        error_data: { details: "Message Undeliverable." },
      }]),
    ]));
    assert.equal(answer.json?.recorded, 1);
    const row = await delivery(sql, wamid);
    assert.equal(row.delivery_status, "failed");
    assert.equal(
      row.delivery_error,
      "131026 Message undeliverable: Message Undeliverable.",
    );
    const failed = await sql`select channel, error from booking_messages_failed
    where order_id = 'wa-hook-2'`;
    assert.deepEqual(failed.map((r) => ({ ...r })), [{
      channel: "whatsapp",
      error: "131026 Message undeliverable: Message Undeliverable.",
    }]);
  },
);

webhookTest(
  "forged or unsigned callbacks: 401, nothing written",
  async (sql) => {
    const wamid = await sentInvite(sql, "wa-hook-3", 3);
    const raw = statusCallback([status(wamid, "read", 1_900_000_000)]);
    for (
      const [why, signature] of [
        ["no signature", null],
        ["another secret", signWhatsApp(raw, "not-the-app-secret")],
        ["another body", signWhatsApp(raw.replace("read", "sent"))],
        ["not sha256=", signWhatsApp(raw).replace("sha256=", "")],
      ] as const
    ) {
      const answer = await postToWhatsAppWebhook(raw, signature);
      assert.equal(answer.status, 401, why);
      assert.equal(answer.json?.error, "invalid_signature", why);
    }
    assert.equal((await delivery(sql, wamid)).delivery_status, null);
    // The same body, signed: accepted (so the refusals above were the signature's).
    assert.equal((await postToWhatsAppWebhook(raw)).status, 200);
    assert.equal((await delivery(sql, wamid)).delivery_status, "read");
  },
);

webhookTest(
  "unknown wamids and customers' own messages: 200, never an error",
  async () => {
    const answer = await postToWhatsAppWebhook(statusCallback(
      [status("wamid.NOT-OURS", "delivered", 1_900_000_000)],
      [{
        from: "6281200000000",
        id: "wamid.INBOUND",
        timestamp: "1900000000",
        type: "text",
        text: { body: "Terima kasih!" },
      }],
    ));
    assert.equal(answer.status, 200);
    assert.deepEqual(answer.json, {
      received: true,
      recorded: 0,
      unchanged: 0,
      unknown: 1,
    });
    const inboundOnly = await postToWhatsAppWebhook(
      statusCallback([], [{ from: "6281200000000", type: "text" }]),
    );
    assert.equal(inboundOnly.status, 200);
    const notJson = await postToWhatsAppWebhook("not json");
    assert.equal(notJson.status, 400, "a signed body that is not JSON");
  },
);

webhookTest(
  "end to end: the stand-in posts Meta's signed callbacks for what it delivered",
  async (sql) => {
    const wamid = await sentInvite(sql, "wa-hook-4", 4);
    for (const value of ["sent", "delivered", "read", "delivered"] as const) {
      const answer = await sandbox.postStatus(wamid, value);
      assert.equal(answer.status, 200, value);
    }
    assert.equal((await delivery(sql, wamid)).delivery_status, "read");
  },
);
