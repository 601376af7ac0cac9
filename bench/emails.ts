// (7) Emails: 1,000 signed settlements (confirmed with the Midtrans stand-in, as in the webhook
// benchmark) for bookings with a customer, each its own address; how
// long until the last invite is in MailDev, notification-to-inbox latency, messages per second,
// and, read back from MailDev itself, that none was lost and none came twice. Then the CPU each
// settlement cost in each process, and MailDev's own ceiling: the same invites sent straight to it.
import nodemailer from "nodemailer";
import type SMTPPool from "nodemailer/lib/smtp-pool/index.js";
import { Mailbox } from "../tests/support/maildev.ts";
import { cpuMeter, type CpuMs, perUnit } from "./cpu.ts";
import {
  addLinks,
  env,
  type Latency,
  load,
  postFunction,
  quick,
  resetData,
  settlementsAtMidtrans,
  type Sql,
  summarize,
  tally,
  waitFor,
} from "./support.ts";

const SETTLEMENTS = quick ? 200 : 1_000;
const CALLERS = 32;
const LINKS = 10;
const AMOUNT = "150000.00";

export interface EmailsResult {
  settlements: number;
  callers: number;
  webhookPerSecond: number;
  statuses: Record<string, number>;
  allLinkedSeconds: number;
  lastInviteSeconds: number;
  messagesPerSecond: number;
  notificationToInboxMs: Latency;
  received: number;
  invites: number;
  lost: number;
  duplicates: number;
  attempts: Record<string, number>;
  /** CPU ms per settlement, by process, from the first notification to the last invite. */
  cpuMsPerSettlement: CpuMs;
  /** The same invites sent straight to MailDev over SMTP (5 pooled connections, as the drain). */
  mailDevAlone: { perSecond: number; cpuMsPerMessage: CpuMs };
}

/**
 * MailDev's ceiling on this machine: `count` copies of one invite as MailDev stored it, sent over
 * SMTP_URL with the drain's settings (one pooled transport, 5 connections), nothing else running.
 */
async function mailDevAlone(mailbox: Mailbox, count: number) {
  const [first] = await mailbox.all();
  const raw = await fetch(`${mailbox.url}/email/${first.id}/download`).then((
    r,
  ) => r.text());
  await mailbox.clear();
  const smtpUrl = Deno.env.get("SMTP_URL");
  if (!smtpUrl) throw new Error("SMTP_URL is not set: run bench/run");
  const mailer = nodemailer.createTransport({
    url: smtpUrl,
    pool: true,
    maxConnections: 5,
  } as SMTPPool.Options);
  try {
    const cpuSpent = await cpuMeter();
    const run = await load(count, 5 * 2, (i) =>
      mailer.sendMail({
        envelope: { from: "bench@example.com", to: `alone-${i}@example.com` },
        raw,
      }));
    await waitFor(
      async () => {
        const response = await fetch(
          `${mailbox.url}/api/email/summary?limit=1`,
        );
        const { total } = await response.json() as { total: number };
        return total >= count;
      },
      120_000,
      "every copy to be in MailDev",
    );
    return {
      perSecond: run.perSecond,
      cpuMsPerMessage: perUnit(await cpuSpent(), count),
    };
  } finally {
    mailer.close();
  }
}

/** Pending bookings, 10 an hour (one per link), each with its own customer address. */
async function customerBookings(sql: Sql): Promise<string[]> {
  await resetData(sql);
  await addLinks(sql, LINKS);
  const rows = await sql<{ order_id: string }[]>`
    insert into public.bookings (order_id, starts_at, ends_at, amount, customer_email,
      customer_name, locale)
    select 'email-' || i, s, s + interval '1 hour', ${AMOUNT}::numeric,
      'email-' || i || '@example.com', 'Customer ' || i, case when i % 2 = 0 then 'id' else 'en' end
    from generate_series(0, ${SETTLEMENTS - 1}::int) as i,
      lateral (select timestamptz '2031-10-01 00:00Z' + (i / ${LINKS}) * interval '1 hour' as s) t
    returning order_id`;
  return rows.map((row) => row.order_id);
}

export async function emails(sql: Sql): Promise<EmailsResult> {
  const mailbox = new Mailbox();
  const orderIds = await customerBookings(sql);
  await mailbox.clear();
  const notifications = await settlementsAtMidtrans(
    orderIds,
    AMOUNT,
    "email-bench",
    CALLERS,
  );

  // When each notification was sent, on the database's clock (sent_at is written there too).
  const [{ offset }] = await sql<{ offset: number }[]>`
    select extract(epoch from clock_timestamp()) * 1000 - ${Date.now()}::float8 as offset`;
  const postedAt = new Map<string, number>();
  const cpuSpent = await cpuMeter();
  const started = performance.now();
  const run = await load(notifications.length, CALLERS, (i) => {
    postedAt.set(notifications[i].order_id, Date.now() + offset);
    return postFunction("midtrans-webhook", notifications[i]);
  });
  // Linking is what the webhook benchmark measures: the email's own share is the difference.
  await waitFor(
    async () => {
      const [{ waiting }] = await sql<{ waiting: number }[]>`
        select count(*)::int as waiting from public.bookings where meeting_link_id is null`;
      return waiting === 0;
    },
    300_000,
    "every booking to have a link",
  );
  const allLinkedSeconds = (performance.now() - started) / 1000;
  await waitFor(
    async () => {
      const response = await fetch(`${mailbox.url}/api/email/summary?limit=1`);
      const { total } = await response.json() as { total: number };
      return total >= SETTLEMENTS;
    },
    300_000,
    "every invite to be in MailDev",
  );
  const lastInviteSeconds = (performance.now() - started) / 1000;
  const cpuMsPerSettlement = perUnit(await cpuSpent(), notifications.length);
  await fetch(`${env.apiUrl}/_local/settle`, { method: "POST" }).then((r) =>
    r.text()
  );

  const caught = await mailbox.all();
  const perAddress = tally(caught, (email) => email.to[0]?.address ?? "");
  const invites =
    caught.filter((email) =>
      email.attachments?.some((a) => a.contentType.startsWith("text/calendar"))
    ).length;
  const rows = await sql<
    { order_id: string; sent_ms: number; attempts: number }[]
  >`
    select order_id, extract(epoch from sent_at) * 1000 as sent_ms, attempts
    from public.booking_emails where kind = 'invite' and status = 'sent'`;
  const latencies = rows.map((row) =>
    row.sent_ms - postedAt.get(row.order_id)!
  );
  return {
    settlements: notifications.length,
    callers: CALLERS,
    webhookPerSecond: run.perSecond,
    statuses: tally(
      run.results,
      (r) => r.status === 200 ? "200" : `${r.status} ${r.error}`,
    ),
    allLinkedSeconds: Math.round(allLinkedSeconds * 100) / 100,
    lastInviteSeconds: Math.round(lastInviteSeconds * 100) / 100,
    messagesPerSecond: Math.round(caught.length / lastInviteSeconds * 10) / 10,
    notificationToInboxMs: summarize(latencies),
    received: caught.length,
    invites,
    lost: orderIds.filter((id) => !perAddress[`${id}@example.com`]).length,
    duplicates: Object.values(perAddress).reduce((sum, n) => sum + n - 1, 0),
    attempts: tally(rows, (row) => String(row.attempts)),
    cpuMsPerSettlement,
    mailDevAlone: await mailDevAlone(mailbox, notifications.length),
  };
}
