// Delivery faults with real processes: the mail server stopped while emails are due, and two
// functions servers draining one outbox at the same time. Nothing is lost, nothing sent twice.
import assert from "node:assert/strict";
import {
  addLinks,
  connect,
  drain,
  env,
  freePort,
  Mailbox,
  outbox,
  resetData,
  SpawnedMailDev,
  spawnFunctionsServer,
  type Sql,
  withoutReminders,
} from "../support/mod.ts";

const FROM = "Meeting links <bookings@example.com>";

/** `count` paid bookings, each with its own customer and link: `count` invites in the outbox. */
async function paidBookings(
  sql: Sql,
  prefix: string,
  count: number,
): Promise<string[]> {
  await resetData(sql);
  // These tests count the one email per change; reminders have tests of their own.
  await withoutReminders(sql);
  await addLinks(sql, count);
  const rows = await sql<{ customer_email: string }[]>`
    insert into bookings (order_id, starts_at, ends_at, amount, customer_email, locale)
    select ${prefix} || '-' || i, timestamptz '2031-04-01 03:00Z' + i * interval '1 minute',
      timestamptz '2031-04-01 04:00Z' + i * interval '1 minute', 150000,
      ${prefix} || '-' || i || '@example.com', 'en'
    from generate_series(1, ${count}::int) as i
    order by i
    returning customer_email`;
  await sql`update bookings set payment_status = 'paid' where order_id like ${
    prefix + "-%"
  }`;
  assert.equal(
    (await sql`select public.assign_pending_meeting_links() as n`)[0].n,
    count,
  );
  return rows.map((row) => row.customer_email);
}

/** Each address's emails across mailboxes, and every Message-ID seen. */
async function caught(mailboxes: Mailbox[], prefix: string) {
  const perAddress = new Map<string, number>();
  const messageIds: string[] = [];
  for (const mailbox of mailboxes) {
    for (const email of await mailbox.all()) {
      const address = email.to[0]?.address ?? "";
      if (!address.startsWith(prefix)) continue;
      perAddress.set(address, (perAddress.get(address) ?? 0) + 1);
      messageIds.push(email.headers["message-id"]);
    }
  }
  return { perAddress, messageIds };
}

Deno.test("MailDev stopped for a while: every email is delivered after it returns, none twice", async () => {
  const sql = connect();
  // Down from the start: the server has never reached it (a MailDev started and stopped first
  // would make no difference, as nothing connects to it before the first drain).
  const maildev = new SpawnedMailDev(freePort(), freePort());
  const server = await spawnFunctionsServer(freePort(), {
    ...Deno.env.toObject(),
    SMTP_URL: maildev.smtpUrl,
    EMAIL_FROM: FROM,
    OPS_EMAIL: "ops@example.com",
  });
  try {
    const addresses = await paidBookings(sql, "down", 12);
    // One more paid booking finds the pool full: the customer and ops must hear of it too.
    await sql`insert into bookings (order_id, starts_at, ends_at, amount, payment_status,
        customer_email, needs_manual_link)
      values ('down-full', '2031-04-01 03:00Z', '2031-04-01 04:00Z', 150000, 'paid',
        'down-full@example.com', true)`;

    const first = await drain(server.url);
    assert.equal(first.status, 200);
    assert.deepEqual(first.body, {
      sent: 0,
      retrying: 14,
      failed: 0,
      skipped: 0,
      lostLease: 0,
      whatsapp: { sent: 0, retrying: 0, failed: 0, skipped: 0, lostLease: 0 },
    });
    const [waiting] =
      await sql`select count(*)::int as n, min(attempts) as min, max(attempts) as max,
        bool_and(last_error is not null) as all_have_error, bool_and(due_at > now()) as all_backed_off
      from booking_emails_waiting`;
    assert.deepEqual({ ...waiting }, {
      n: 14,
      min: 1,
      max: 1,
      all_have_error: true,
      all_backed_off: true,
    });
    assert.equal(
      (await drain(server.url)).body.retrying,
      0,
      "nothing is due during the backoff",
    );

    await maildev.start();
    // The backoff has passed (30 s for a first retry; here by moving the clock of the rows).
    await sql`update booking_emails set due_at = now() where status = 'pending'`;
    const second = await drain(server.url);
    assert.deepEqual(second.body, {
      sent: 14,
      retrying: 0,
      failed: 0,
      skipped: 0,
      lostLease: 0,
      whatsapp: { sent: 0, retrying: 0, failed: 0, skipped: 0, lostLease: 0 },
    });
    assert.equal((await drain(server.url)).body.sent, 0);

    const { perAddress, messageIds } = await caught([maildev.mailbox], "down");
    assert.deepEqual(
      [...perAddress].sort(),
      [...addresses, "down-full@example.com"].sort().map((
        address,
      ) => [address, 1]),
    );
    const ops = await maildev.mailbox.to("ops@example.com");
    assert.equal(ops.length, 1);
    assert.equal(
      ops[0].subject,
      "Action needed: paid booking down-full has no meeting link",
    );
    const stored =
      await sql`select message_id from booking_emails where status = 'sent' and order_id like 'down-%' and kind <> 'ops_alert'`;
    assert.deepEqual(
      messageIds.sort(),
      stored.map((row) => row.message_id).sort(),
      "each email went with the Message-ID recorded for it",
    );
    assert.deepEqual(
      (await outbox(sql, "down-1")).map((row) => [row.status, row.attempts]),
      [["sent", 2]],
    );
  } finally {
    await server.stop();
    await maildev.stop();
    await sql.end({ timeout: 5 });
  }
});

Deno.test("two functions servers draining at once send each email exactly once", async () => {
  const sql = connect();
  const maildev = new SpawnedMailDev(freePort(), freePort());
  await maildev.start();
  const other = await spawnFunctionsServer(freePort(), {
    ...Deno.env.toObject(),
    SMTP_URL: maildev.smtpUrl,
    EMAIL_FROM: FROM,
  });
  const stackMailbox = new Mailbox();
  try {
    await stackMailbox.clear();
    const addresses = await paidBookings(sql, "race", 120);
    // Four drains at once, two per server: separate processes, separate connections.
    const answers = await Promise.all([
      drain(env.apiUrl),
      drain(other.url),
      drain(env.apiUrl),
      drain(other.url),
    ]);
    assert.deepEqual(answers.map((a) => a.status), [200, 200, 200, 200]);
    assert.equal(answers.reduce((sum, a) => sum + (a.body.sent ?? 0), 0), 120);
    assert.ok(
      (await maildev.mailbox.all()).length > 0 &&
        (await stackMailbox.all()).length > 0,
      "both servers sent some",
    );

    const { perAddress, messageIds } = await caught([
      stackMailbox,
      maildev.mailbox,
    ], "race");
    assert.deepEqual(
      [...perAddress].sort(),
      addresses.sort().map((address) => [address, 1]),
      "every customer got exactly one email",
    );
    assert.equal(new Set(messageIds).size, 120);
    const [state] =
      await sql`select count(*) filter (where status = 'sent')::int as sent,
        max(attempts) as max_attempts from booking_emails`;
    assert.deepEqual({ ...state }, { sent: 120, max_attempts: 1 });
  } finally {
    await other.stop();
    await maildev.stop();
    await sql.end({ timeout: 5 });
  }
});

Deno.test("a mail server that accepts and never answers: the attempt times out and is retried later", async () => {
  const sql = connect();
  const port = freePort();
  const listener = Deno.listen({ hostname: "127.0.0.1", port });
  const held: Deno.Conn[] = [];
  const accepting = (async () => {
    for await (const conn of listener) held.push(conn);
  })();
  const server = await spawnFunctionsServer(freePort(), {
    ...Deno.env.toObject(),
    SMTP_URL: `smtp://127.0.0.1:${port}`,
    EMAIL_FROM: FROM,
    // The greeting that never comes is given up on after 1 s instead of 10 s.
    SMTP_TIMEOUT_MS: "1000",
  });
  try {
    await paidBookings(sql, "silent", 1);
    const started = performance.now();
    const answer = await drain(server.url);
    const seconds = (performance.now() - started) / 1000;
    assert.equal(answer.status, 200);
    assert.equal(answer.body.retrying, 1);
    assert.ok(seconds < 30, `answered after ${seconds.toFixed(1)} s`);
    const [row] =
      await sql`select status, attempts, last_error, due_at > now() as backed_off
      from booking_emails where order_id = 'silent-1'`;
    assert.equal(row.status, "pending");
    assert.equal(row.attempts, 1);
    assert.equal(row.backed_off, true);
    assert.match(row.last_error, /greeting|timeout/i);
  } finally {
    await server.stop();
    listener.close();
    for (const conn of held) conn.close();
    await accepting.catch(() => {});
    await sql.end({ timeout: 5 });
  }
});

Deno.test("SMTP over implicit TLS (smtps://, as on port 465 for hosted functions) delivers", async () => {
  const sql = connect();
  const dir = await Deno.makeTempDir();
  const [certFile, keyFile] = [`${dir}/cert.pem`, `${dir}/key.pem`];
  const openssl = await new Deno.Command("openssl", {
    args: [
      "req",
      "-x509",
      "-newkey",
      "rsa:2048",
      "-nodes",
      "-days",
      "1",
      "-subj",
      "/CN=127.0.0.1",
      "-keyout",
      keyFile,
      "-out",
      certFile,
    ],
    stdout: "null",
    stderr: "null",
  }).output();
  assert.ok(openssl.success, "openssl made a certificate");
  const maildev = new SpawnedMailDev(freePort(), freePort(), {
    certFile,
    keyFile,
  });
  await maildev.start();
  const server = await spawnFunctionsServer(freePort(), {
    ...Deno.env.toObject(),
    SMTP_URL: maildev.smtpUrl,
    EMAIL_FROM: FROM,
  });
  // The same server without TLS: what the test above would send, were TLS not in use.
  const plain = await spawnFunctionsServer(freePort(), {
    ...Deno.env.toObject(),
    SMTP_URL: `smtp://127.0.0.1:${maildev.smtpPort}`,
    EMAIL_FROM: FROM,
    // It waits for a greeting a TLS port never sends: 1 s, not 10 s.
    SMTP_TIMEOUT_MS: "1000",
  });
  try {
    const [address] = await paidBookings(sql, "tls", 1);
    assert.equal(
      (await drain(plain.url)).body.retrying,
      1,
      "plain SMTP is refused: the port speaks TLS",
    );
    await sql`update booking_emails set due_at = now() where status = 'pending'`;
    assert.equal((await drain(server.url)).body.sent, 1);
    const [email] = await maildev.mailbox.to(address);
    assert.ok(email, "the email arrived over TLS");
    assert.ok(await maildev.mailbox.invite(email), "with its invite");
  } finally {
    await plain.stop();
    await server.stop();
    await maildev.stop();
    await Deno.remove(dir, { recursive: true });
    await sql.end({ timeout: 5 });
  }
});
