// WhatsApp beside email, over real HTTP, SMTP and Postgres: a settled booking's customer gets the
// invite on both channels once each; each channel retries on its own (the stand-in answering
// 429 or 500, or hanging past the timeout, never delays the email, and a mail server down never
// delays WhatsApp); Meta's permanent refusals fail at once with the reason; what a customer typed
// cannot break the template or the JSON; no opt-in, no WhatsApp.
import assert from "node:assert/strict";
import {
  addLinks,
  connect,
  createCustomerBooking,
  drain,
  freePort,
  Mailbox,
  meetLink,
  pay,
  resetData,
  SpawnedMailDev,
  spawnFunctionsServer,
  type Sql,
  webhookTest,
  WhatsAppSandbox,
} from "../support/mod.ts";

const mailbox = new Mailbox();
const sandbox = new WhatsAppSandbox();
const SLOT = { startsAt: "2031-03-03 10:00+07", endsAt: "2031-03-03 11:00+07" };

/** A unique Indonesian mobile number per test run and name (the stand-in keeps every message). */
function phone(n: number): string {
  return `+628${String(Date.now() % 1e8).padStart(8, "0")}${n}`;
}

type Row = {
  kind: string;
  status: string;
  attempts: number;
  wamid: string | null;
  last_error: string | null;
};

async function whatsappRows(sql: Sql, orderId: string): Promise<Row[]> {
  return (await sql<Row[]>`
    select kind, status, attempts::int as attempts, wamid, last_error from booking_whatsapp_messages
    where order_id = ${orderId} and kind <> 'reminder' order by id`).map((
    r,
  ) => ({ ...r }));
}

/** Makes every waiting WhatsApp message of the order due now (time, driven through SQL). */
async function dueNow(sql: Sql, orderId: string): Promise<void> {
  await sql`update booking_whatsapp_messages set due_at = now()
    where order_id = ${orderId} and status = 'pending' and kind <> 'reminder'`;
}

webhookTest(
  "settled: the invite goes by email and by WhatsApp, each once",
  async (sql) => {
    const to = phone(1);
    await mailbox.clear();
    await createCustomerBooking(sql, "wa-settle-1", {
      email: "wa-settle@example.com",
      name: "Ayu Lestari",
      phone: to,
      whatsapp: true,
    }, SLOT);
    await pay("wa-settle-1");

    const [email, ...moreEmails] = await mailbox.waitFor(
      "wa-settle@example.com",
      1,
    );
    assert.ok(email, "the email arrived");
    const [message, ...more] = await sandbox.waitFor(to, 1);
    assert.ok(message, "the WhatsApp message arrived");
    assert.equal(message.to, to.slice(1), "to: the digits of the E.164 number");
    assert.equal(message.template, "booking_invite");
    assert.equal(message.language, "id");
    assert.deepEqual(message.parameters, [
      "Ayu Lestari",
      "Senin, 03 Maret 2031, 10.00–11.00 WIB",
      meetLink(1),
    ]);
    const [row] = await whatsappRows(sql, "wa-settle-1");
    assert.deepEqual(
      { ...row, last_error: null },
      {
        kind: "invite",
        status: "sent",
        attempts: 1,
        wamid: message.wamid,
        last_error: null,
      },
      "the row holds Meta's wamid",
    );

    // More drains send nothing again.
    await drain();
    await drain();
    assert.equal(moreEmails.length + more.length, 0);
    assert.equal(
      (await mailbox.to("wa-settle@example.com")).length,
      1,
      "one email",
    );
    assert.equal(
      (await sandbox.messages(to)).length,
      1,
      "one WhatsApp message",
    );

    const view = await sql`select channel, kind, status from booking_messages
    where order_id = 'wa-settle-1' and kind <> 'reminder' order by channel`;
    assert.deepEqual(view.map((r) => ({ ...r })), [
      { channel: "email", kind: "invite", status: "sent" },
      { channel: "whatsapp", kind: "invite", status: "sent" },
    ], "the admin view lists both, per channel");
  },
);

webhookTest("no WhatsApp opt-in: the email only", async (sql) => {
  const to = phone(2);
  await mailbox.clear();
  await createCustomerBooking(sql, "wa-no-opt-in", {
    email: "wa-no-opt-in@example.com",
    phone: to,
    whatsapp: false,
  }, SLOT);
  await pay("wa-no-opt-in");
  assert.equal(
    (await mailbox.waitFor("wa-no-opt-in@example.com", 1)).length,
    1,
  );
  await drain();
  assert.deepEqual(await sandbox.messages(to), []);
  assert.equal(
    (await sql`select count(*)::int as n from booking_whatsapp_messages`)[0].n,
    0,
  );
});

for (const fault of ["rate_limit", "error"] as const) {
  webhookTest(
    `WhatsApp answering ${
      fault === "rate_limit" ? "429" : "500"
    }: the email goes at once, the WhatsApp message later, once`,
    async (sql) => {
      const to = phone(fault === "error" ? 4 : 3);
      const address = `wa-${fault}@example.com`.replace("_", "-");
      const order = `wa-${fault}`.replace("_", "-");
      await mailbox.clear();
      await createCustomerBooking(sql, order, {
        email: address,
        phone: to,
        whatsapp: true,
      }, SLOT);
      await sandbox.setFault(fault);
      try {
        await pay(order);
        assert.equal(
          (await mailbox.waitFor(address, 1)).length,
          1,
          "the email is not held back",
        );
        const [row] = await whatsappRows(sql, order);
        assert.equal(row.status, "pending", "WhatsApp waits for its retry");
        assert.equal(row.attempts, 1);
        assert.match(
          row.last_error ?? "",
          fault === "rate_limit"
            ? /^HTTP 429 code 130429/
            : /^HTTP 500 code 131000/,
        );
        assert.deepEqual(await sandbox.messages(to), []);
      } finally {
        await sandbox.setFault("none");
      }
      await dueNow(sql, order);
      const answer = await drain();
      assert.equal(answer.body.whatsapp?.sent, 1);
      await drain();
      assert.equal((await sandbox.messages(to)).length, 1, "delivered once");
      assert.equal((await whatsappRows(sql, order))[0].status, "sent");
      assert.equal((await mailbox.to(address)).length, 1, "and the email once");
    },
  );
}

webhookTest(
  "Meta's permanent refusals fail at once with the reason, and are not retried",
  async (sql) => {
    const unreachable = phone(5);
    const other = phone(6);
    await sandbox.undeliverable(unreachable);
    await createCustomerBooking(sql, "wa-undeliverable", {
      email: null,
      phone: unreachable,
      whatsapp: true,
    }, SLOT);
    await pay("wa-undeliverable");
    let [row] = await whatsappRows(sql, "wa-undeliverable");
    assert.equal(row.status, "failed");
    assert.equal(row.attempts, 1);
    assert.match(
      row.last_error ?? "",
      /^HTTP 400 code 131026: \(#131026\) Message Undeliverable/,
    );

    // A template name WhatsApp Manager does not have: 132001.
    await addLinks(sql, 1, "wat");
    await sql`update booking_message_settings set whatsapp_template_invite = 'not_registered'`;
    try {
      await createCustomerBooking(sql, "wa-no-template", {
        email: null,
        phone: other,
        whatsapp: true,
      }, SLOT);
      await pay("wa-no-template");
    } finally {
      await sql`update booking_message_settings set whatsapp_template_invite = default`;
    }
    [row] = await whatsappRows(sql, "wa-no-template");
    assert.equal(row.status, "failed");
    assert.match(row.last_error ?? "", /code 132001.*not_registered/);

    await sql`update booking_whatsapp_messages set due_at = now()
    where order_id in ('wa-undeliverable', 'wa-no-template') and kind = 'invite'`;
    await drain();
    const attempts =
      await sql`select attempts::int as attempts from booking_whatsapp_messages
    where order_id in ('wa-undeliverable', 'wa-no-template') and kind = 'invite'`;
    assert.deepEqual(attempts.map((r) => r.attempts), [1, 1], "no retry");
    const failed =
      await sql`select order_id, channel, kind from booking_messages_failed
    order by order_id`;
    assert.deepEqual(failed.map((r) => ({ ...r })), [
      { order_id: "wa-no-template", channel: "whatsapp", kind: "invite" },
      { order_id: "wa-undeliverable", channel: "whatsapp", kind: "invite" },
    ], "both are in the failed list");
  },
  { links: 1 },
);

webhookTest(
  "phones and names that try to break the template or the JSON are refused or flattened",
  async (sql) => {
    for (
      const bad of [
        "081234567890", // national, no country code
        "+62 812 3456 7890",
        "+6281234567890\n",
        '+6281234567890","type":"text',
        "+0812345678",
        "+6281234567890123", // 16 digits
      ]
    ) {
      await assert.rejects(
        sql`insert into bookings (order_id, starts_at, ends_at, amount, customer_phone)
        values ('wa-bad-phone', now() + interval '1 day', now() + interval '25 hours', 1, ${bad})`,
        (error: { code?: string; constraint_name?: string }) =>
          error.code === "23514" &&
          error.constraint_name === "bookings_customer_phone_is_e164",
        `refused: ${JSON.stringify(bad)}`,
      );
    }
    // A name with runs of spaces, a line separator and JSON punctuation (control characters are
    // refused by bookings_customer_name_is_one_line).
    const to = phone(7);
    const name = 'Ayu      "Lestari"}]},{"type":"text","text":"x\u2028y';
    await createCustomerBooking(sql, "wa-odd-name", {
      email: null,
      name,
      phone: to,
      whatsapp: true,
      locale: "en",
    }, SLOT);
    await pay("wa-odd-name");
    const [message] = await sandbox.waitFor(to, 1);
    assert.ok(message, "Meta (the stand-in) accepted it");
    assert.equal(message.parameters.length, 3, "still three parameters");
    assert.equal(
      message.parameters[0],
      'Ayu "Lestari"}]},{"type":"text","text":"x y',
      "one line, no run of spaces, punctuation kept as text",
    );
  },
);

Deno.test("the mail server down: WhatsApp goes at once; the email follows when it is back", async () => {
  const sql = connect();
  const maildev = new SpawnedMailDev(freePort(), freePort());
  await maildev.start();
  const server = await spawnFunctionsServer(freePort(), {
    ...Deno.env.toObject(),
    SMTP_URL: maildev.smtpUrl,
  });
  try {
    await resetData(sql);
    await addLinks(sql, 1);
    await maildev.stop();
    const to = phone(8);
    await createCustomerBooking(sql, "wa-smtp-down", {
      email: "wa-smtp-down@example.com",
      phone: to,
      whatsapp: true,
    }, SLOT);
    await sql`update bookings set payment_status = 'paid' where order_id = 'wa-smtp-down'`;
    await sql`select assign_pending_meeting_links()`;

    const first = await drain(server.url);
    assert.equal(first.status, 200);
    assert.equal(first.body.retrying, 1, "the email waits for the mail server");
    assert.equal(first.body.whatsapp?.sent, 1, "WhatsApp did not wait");
    assert.equal((await sandbox.messages(to)).length, 1);

    await maildev.start();
    await sql`update booking_emails set due_at = now()
      where order_id = 'wa-smtp-down' and kind = 'invite'`;
    const second = await drain(server.url);
    assert.equal(second.body.sent, 1, "the email goes once the server is back");
    assert.equal(
      (await maildev.mailbox.to("wa-smtp-down@example.com")).length,
      1,
    );
    assert.equal(
      (await sandbox.messages(to)).length,
      1,
      "WhatsApp is not sent again",
    );
  } finally {
    await server.stop();
    await maildev.stop();
    await sql.end({ timeout: 5 });
  }
});

Deno.test("WhatsApp hanging: the call times out, the email is not held back, WhatsApp retries", async () => {
  const sql = connect();
  const server = await spawnFunctionsServer(freePort(), {
    ...Deno.env.toObject(),
    WHATSAPP_TIMEOUT_MS: "300",
  });
  await sandbox.setFault("hang");
  try {
    await resetData(sql);
    await addLinks(sql, 1);
    const to = phone(9);
    await mailbox.clear();
    await createCustomerBooking(sql, "wa-hang", {
      email: "wa-hang@example.com",
      phone: to,
      whatsapp: true,
    }, SLOT);
    await sql`update bookings set payment_status = 'paid' where order_id = 'wa-hang'`;
    await sql`select assign_pending_meeting_links()`;
    const answer = await drain(server.url);
    assert.equal(answer.body.sent, 1, "the email went");
    assert.equal(answer.body.whatsapp?.retrying, 1);
    const [row] = await whatsappRows(sql, "wa-hang");
    assert.equal(row.last_error, "no answer from WhatsApp in 300 ms");
  } finally {
    await sandbox.setFault("none");
    await server.stop();
    await sql.end({ timeout: 5 });
  }
});
