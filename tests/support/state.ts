// What the database holds after a test's requests: one booking, one order's notification log,
// every table at once, and the double-booking health check.
import type { Sql } from "./db.ts";

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
  payload: Record<string, unknown>;
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

/** Rows of one table, each as JSON. */
export type TableRows = Record<string, unknown>[];

/** Tables pg_cron writes every minute whatever requests do: the health check's log. */
const WRITTEN_BY_CRON = ["double_booking_checks"];

/**
 * Every row of every table in the public schema (found in the catalog, so a new table is
 * covered without editing this) but those pg_cron writes, in a stable order: to show that a
 * request changed nothing.
 */
export async function snapshotTables(
  sql: Sql,
): Promise<Record<string, TableRows>> {
  const tables = await sql<{ name: string }[]>`
    select table_name as name from information_schema.tables
    where table_schema = 'public' and table_type = 'BASE TABLE'
      and table_name <> all(${WRITTEN_BY_CRON}::text[])
    order by table_name`;
  const snapshot: Record<string, TableRows> = {};
  for (const { name } of tables) {
    const [{ rows }] = await sql<{ rows: TableRows }[]>`
      select coalesce(jsonb_agg(to_jsonb(t) order by to_jsonb(t)::text), '[]') as rows
      from ${sql("public")}.${sql(name)} t`;
    snapshot[name] = rows;
  }
  return snapshot;
}

/** A paid booking whose slot overlaps an earlier paid booking on the same link. */
export interface SharedLink {
  meeting_link_id: string;
  booking_id: string;
  order_id: string;
}

/**
 * The paid bookings whose slot overlaps another's on one link, from the health check
 * `paid_bookings_sharing_a_link()` (it reads no index, so it does not trust the constraint it
 * checks; supabase/tests/database/10-double-booking-health-check.sql tests it).
 */
export async function paidBookingsSharingALink(
  sql: Sql,
): Promise<SharedLink[]> {
  const rows = await sql<SharedLink[]>`
    select meeting_link_id, booking_id, order_id from public.paid_bookings_sharing_a_link()`;
  return rows.map((row) => ({ ...row }));
}
