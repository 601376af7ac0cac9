// Midtrans notifications for the webhook tests: the published samples in tests/fixtures/midtrans,
// signed with an implementation of the algorithm of our own (node:crypto, not the function's code,
// so a bug there cannot hide itself), POSTed over real HTTP, and the database state they leave.

import { createHash } from "node:crypto";
import { addLinks, resetData } from "./data.ts";
import { connect, type Sql } from "./db.ts";
import { env } from "./env.ts";
import { type FunctionResponse, settleBackgroundWork } from "./http.ts";

/** A notification as Midtrans sends it: a JSON object whose fields are strings. */
export type Notification = Record<string, unknown>;

export type Sample =
  | "card_capture_accept"
  | "gopay_settlement"
  | "bca_va_settlement"
  | "permata_va_expire"
  | "signature_vector";

/** A published Midtrans sample, parsed afresh (callers may change it). */
export function sample(name: Sample): Notification {
  const url = new URL(`../fixtures/midtrans/${name}.json`, import.meta.url);
  return JSON.parse(Deno.readTextFileSync(url));
}

/** hex SHA-512 of order_id + status_code + gross_amount + server key, strings as they are. */
export function midtransSignatureOf(
  n: Notification,
  serverKey = env.midtransServerKey,
): string {
  return createHash("sha512")
    .update(`${n.order_id}${n.status_code}${n.gross_amount}${serverKey}`)
    .digest("hex");
}

/** A copy of `n` with the signature_key Midtrans would send for it under `serverKey`. */
export function signed(
  n: Notification,
  serverKey = env.midtransServerKey,
): Notification {
  return { ...n, signature_key: midtransSignatureOf(n, serverKey) };
}

/** A settlement for `orderId` in the shape of the GoPay sample. */
export function settlement(
  orderId: string,
  fields: Notification = {},
): Notification {
  return {
    ...sample("gopay_settlement"),
    order_id: orderId,
    transaction_id: `tx-${orderId}`,
    gross_amount: "150000.00",
    ...fields,
  };
}

/** The same transaction reported with another status (and its status_code). */
export function followUp(
  n: Notification,
  transactionStatus: string,
  statusCode: string,
): Notification {
  return {
    ...n,
    transaction_status: transactionStatus,
    status_code: statusCode,
  };
}

/** POSTs a body to the server's midtrans-webhook as Midtrans does (JSON, no credentials). */
export async function postToWebhook(
  body: string,
  apiUrl = env.apiUrl,
  timeoutMs = 15_000,
): Promise<FunctionResponse> {
  const response = await fetch(`${apiUrl}/functions/v1/midtrans-webhook`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body,
    signal: AbortSignal.timeout(timeoutMs),
  });
  const text = await response.text();
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: response.status, headers: response.headers, text, json };
}

/** Signs `n` with the test server key (unless it is sent `asIs`) and POSTs it. */
export function deliver(
  n: Notification,
  { apiUrl = env.apiUrl, asIs = false } = {},
): Promise<FunctionResponse> {
  return postToWebhook(JSON.stringify(asIs ? n : signed(n)), apiUrl);
}

/** The `error` code, or the `outcome`, of a webhook answer. */
export function answer(
  response: FunctionResponse,
): { status: number; error?: string; outcome?: string } {
  const body = (response.json ?? {}) as { error?: string; outcome?: string };
  return {
    status: response.status,
    ...(body.error === undefined ? {} : { error: body.error }),
    ...(body.outcome === undefined ? {} : { outcome: body.outcome }),
  };
}

export interface BookingOptions {
  amount?: string;
  startsAt?: string;
  endsAt?: string;
}

/** A pending booking for `orderId` (150000 IDR, 2031-03-03 10:00-11:00 Jakarta by default). */
export async function createBooking(
  sql: Sql,
  orderId: string,
  {
    amount = "150000.00",
    startsAt = "2031-03-03 10:00+07",
    endsAt = "2031-03-03 11:00+07",
  }: BookingOptions = {},
): Promise<string> {
  const [{ id }] = await sql<{ id: string }[]>`
    insert into bookings (order_id, amount, starts_at, ends_at)
    values (${orderId}, ${amount}, ${startsAt}, ${endsAt})
    returning id`;
  return id;
}

export interface BookingState {
  payment_status: string;
  paid_transaction_id: string | null;
  meeting_link: string | null;
  needs_manual_link: boolean;
  review_reason: string | null;
}

export async function bookingState(
  sql: Sql,
  orderId: string,
): Promise<BookingState> {
  const [row] = await sql<BookingState[]>`
    select b.payment_status, b.paid_transaction_id, l.meeting_link, b.needs_manual_link,
      b.review_reason
    from bookings b left join meeting_links_pool l on l.id = b.meeting_link_id
    where b.order_id = ${orderId}`;
  if (!row) throw new Error(`no booking ${orderId}`);
  return { ...row };
}

export interface NotificationRow {
  transaction_id: string;
  transaction_status: string;
  outcome: string;
  deliveries: number;
  booking_id: string | null;
  payload: Notification;
}

/** The notification log of one order, oldest first. */
export async function notificationLog(
  sql: Sql,
  orderId: string,
): Promise<NotificationRow[]> {
  const rows = await sql<NotificationRow[]>`
    select transaction_id, transaction_status, outcome, deliveries, booking_id::text, payload
    from midtrans_notifications where order_id = ${orderId} order by id`;
  return rows.map((row) => ({ ...row }));
}

/** Every row of every table in the public schema, to show that a request changed nothing. */
export async function snapshotTables(
  sql: Sql,
): Promise<Record<string, unknown>> {
  const tables = await sql<{ name: string }[]>`
    select table_name as name from information_schema.tables
    where table_schema = 'public' and table_type = 'BASE TABLE' order by table_name`;
  const snapshot: Record<string, unknown> = {};
  for (const { name } of tables) {
    const [{ rows }] = await sql`
      select coalesce(jsonb_agg(to_jsonb(t) order by to_jsonb(t)::text), '[]') as rows
      from ${sql("public")}.${sql(name)} t`;
    snapshot[name] = rows;
  }
  return snapshot;
}

/** Calls `attempt` until it returns something other than undefined, for at most `withinMs`. */
export async function pollUntil<T>(
  what: string,
  attempt: () => Promise<T | undefined>,
  withinMs = 10_000,
  everyMs = 50,
): Promise<T> {
  const deadline = Date.now() + withinMs;
  while (true) {
    const value = await attempt();
    if (value !== undefined) return value;
    if (Date.now() > deadline) {
      throw new Error(`${what}: not within ${withinMs} ms`);
    }
    await new Promise((resolve) => setTimeout(resolve, everyMs));
  }
}

/**
 * A webhook test: an empty database with `links` pool links, a connection, and afterwards the
 * background work it started settled, so nothing spills into the next test.
 */
export function webhookTest(
  name: string,
  fn: (sql: Sql) => Promise<void>,
  { links = 1 } = {},
): void {
  Deno.test(name, async () => {
    const sql = connect();
    try {
      await resetData(sql);
      if (links > 0) await addLinks(sql, links);
      await fn(sql);
    } finally {
      await settleBackgroundWork();
      await sql.end({ timeout: 5 });
    }
  });
}
