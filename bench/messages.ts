// (8) Messages on both channels: 1,000 signed settlements for bookings whose customers have an
// address and a WhatsApp opt-in; seconds until the last invite email is in MailDev and the last
// WhatsApp message is at the stand-in, notification-to-delivery per channel, none lost and none
// twice (read back from MailDev and the stand-in), and the webhook's req/s beside the same run
// for bookings without customer contacts (what the two channels and their reminders cost it).
import { Mailbox } from "../tests/support/maildev.ts";
import { WhatsAppSandbox } from "../tests/support/whatsapp.ts";
import {
  addLinks,
  env,
  type Latency,
  load,
  postFunction,
  quick,
  ratio,
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

export interface MessagesResult {
  settlements: number;
  callers: number;
  webhookPerSecond: number;
  webhookPerSecondWithoutContacts: number;
  /** With contacts / without: what queuing both channels and the reminders costs the webhook. */
  webhookRatio: number | null;
  statuses: Record<string, number>;
  lastEmailSeconds: number;
  lastWhatsAppSeconds: number;
  notificationToInboxMs: Latency;
  notificationToWhatsAppMs: Latency;
  emails: { received: number; lost: number; duplicates: number };
  whatsapp: { received: number; lost: number; duplicates: number };
  remindersQueued: number;
}

/** Pending bookings, 10 an hour (one per link); with contacts, each its own address and phone. */
async function bookings(
  sql: Sql,
  prefix: string,
  contacts: boolean,
  phoneTag: string,
): Promise<string[]> {
  await resetData(sql);
  await addLinks(sql, LINKS);
  const rows = await sql<{ order_id: string }[]>`
    insert into public.bookings (order_id, starts_at, ends_at, amount, customer_email,
      customer_name, locale, customer_phone, customer_whatsapp_opt_in)
    select ${prefix} || i, s, s + interval '1 hour', ${AMOUNT}::numeric,
      case when ${contacts} then ${prefix} || i || '@example.com' end, 'Customer ' || i,
      case when i % 2 = 0 then 'id' else 'en' end,
      case when ${contacts} then '+6289' || ${phoneTag} || lpad(i::text, 5, '0') end, ${contacts}
    from generate_series(0, ${SETTLEMENTS - 1}::int) as i,
      lateral (select timestamptz '2031-10-01 00:00Z' + (i / ${LINKS}) * interval '1 hour' as s) t
    returning order_id`;
  return rows.map((row) => row.order_id);
}

/** Settles every order through the webhook (32 callers); req/s and when each was posted. */
async function settle(sql: Sql, orderIds: string[], prefix: string) {
  const notifications = await settlementsAtMidtrans(
    orderIds,
    AMOUNT,
    prefix,
    CALLERS,
  );
  // When each notification was sent, on the database's clock (sent_at is written there too).
  const [{ offset }] = await sql<{ offset: number }[]>`
    select extract(epoch from clock_timestamp()) * 1000 - ${Date.now()}::float8 as offset`;
  const postedAt = new Map<string, number>();
  const started = performance.now();
  const run = await load(notifications.length, CALLERS, (i) => {
    postedAt.set(notifications[i].order_id, Date.now() + offset);
    return postFunction("midtrans-webhook", notifications[i]);
  });
  return { run, postedAt, started };
}

function delivered<T>(
  items: T[],
  key: (item: T) => string,
  expected: string[],
) {
  const per = tally(items, key);
  return {
    received: items.length,
    lost: expected.filter((k) => !per[k]).length,
    duplicates: Object.values(per).reduce((sum, n) => sum + n - 1, 0),
  };
}

export async function messages(sql: Sql): Promise<MessagesResult> {
  // Without contacts first: the webhook's figure with nothing to tell anyone.
  const bare = await settle(
    sql,
    await bookings(sql, "bare-", false, ""),
    "bare-bench",
  );
  await waitFor(
    async () =>
      (await sql`select count(*)::int as n from public.bookings
        where meeting_link_id is null`)[0].n === 0,
    300_000,
    "every booking without contacts to have a link",
  );

  const mailbox = new Mailbox();
  const sandbox = new WhatsAppSandbox();
  const phoneTag = String(Date.now() % 1000).padStart(3, "0");
  const orderIds = await bookings(sql, "msg-", true, phoneTag);
  await mailbox.clear();
  const { run, postedAt, started } = await settle(sql, orderIds, "msg-bench");
  const phones = orderIds.map((id) =>
    `6289${phoneTag}${id.slice("msg-".length).padStart(5, "0")}`
  );
  const ours = new Set(phones);
  const chats = async () =>
    (await sandbox.messages()).filter((m) =>
      ours.has(m.to) && m.template === "booking_invite"
    );
  // Both waits run at once: each channel's last delivery is timed on its own.
  const [lastEmailSeconds, lastWhatsAppSeconds] = await Promise.all([
    waitFor(
      async () => {
        const response = await fetch(
          `${mailbox.url}/api/email/summary?limit=1`,
        );
        const { total } = await response.json() as { total: number };
        return total >= SETTLEMENTS;
      },
      300_000,
      "every invite to be in MailDev",
    ).then(() => (performance.now() - started) / 1000),
    waitFor(
      async () => (await chats()).length >= SETTLEMENTS,
      300_000,
      "every WhatsApp invite to be at the stand-in",
    ).then(() => (performance.now() - started) / 1000),
  ]);
  await fetch(`${env.apiUrl}/_local/settle`, { method: "POST" }).then((r) =>
    r.text()
  );

  const latency = async (table: string) => {
    const rows = await sql<{ order_id: string; sent_ms: number }[]>`
      select order_id, extract(epoch from sent_at) * 1000 as sent_ms from ${
      sql(table)
    }
      where kind = 'invite' and status = 'sent'`;
    return summarize(rows.map((r) => r.sent_ms - postedAt.get(r.order_id)!));
  };
  const [{ reminders }] = await sql<{ reminders: number }[]>`
    select (select count(*) from public.booking_emails where kind = 'reminder')
      + (select count(*) from public.booking_whatsapp_messages where kind = 'reminder')
      as reminders`;
  const caught = await mailbox.all();
  return {
    settlements: orderIds.length,
    callers: CALLERS,
    webhookPerSecond: run.perSecond,
    webhookPerSecondWithoutContacts: bare.run.perSecond,
    webhookRatio: ratio(run.perSecond, bare.run.perSecond),
    statuses: tally(
      [...run.results, ...bare.run.results],
      (r) => r.status === 200 ? "200" : `${r.status} ${r.error}`,
    ),
    lastEmailSeconds: Math.round(lastEmailSeconds * 100) / 100,
    lastWhatsAppSeconds: Math.round(lastWhatsAppSeconds * 100) / 100,
    notificationToInboxMs: await latency("booking_emails"),
    notificationToWhatsAppMs: await latency("booking_whatsapp_messages"),
    emails: delivered(
      caught,
      (e) => e.to[0]?.address ?? "",
      orderIds.map((id) => `${id}@example.com`),
    ),
    whatsapp: delivered(await chats(), (m) => m.to, phones),
    remindersQueued: Number(reminders),
  };
}
