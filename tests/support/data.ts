// Test data: each test starts from an empty pool and no bookings (deno test runs files one
// after another, so a test owns the database while it runs).
import type { Sql } from "./db.ts";

export async function resetData(sql: Sql): Promise<void> {
  // The settings row is kept; a test that changed it gets the defaults back.
  await sql`update public.booking_message_settings set reminder_offsets = default`;
  // A pg_cron job (the sweep, the health check) can hold one of these tables while it waits for
  // another the truncate has locked: PostgreSQL cancels one of the two (deadlock_detected), and
  // when it is the truncate, it goes again. Beside the two jobs' functions called back to back,
  // 107 of 200 resets failed so.
  for (let attempt = 1;; attempt++) {
    try {
      await sql`truncate public.midtrans_notifications, public.booking_emails,
        public.booking_whatsapp_messages, public.meeting_link_holds, public.api_rate_limits,
        public.bookings, public.meeting_links_pool`;
      return;
    } catch (error) {
      if ((error as { code?: string }).code !== "40P01" || attempt === 10) {
        throw error;
      }
    }
  }
}

/** No reminders until the next resetData: for tests about the one email a change queues. */
export async function withoutReminders(sql: Sql): Promise<void> {
  await sql`update public.booking_message_settings set reminder_offsets = '{}'`;
}

/** A valid Meet link for the number n: the digits spelled as letters (0 → a ... 9 → j). */
export function meetLink(n: number, prefix = "tst"): string {
  const code = String(n).padStart(4, "0").replace(
    /\d/g,
    (d) => "abcdefghij"[Number(d)],
  );
  return `https://meet.google.com/${prefix}-${code}-lnk`;
}

/** Adds `count` available links to the pool, in pool order. */
export async function addLinks(
  sql: Sql,
  count: number,
  prefix = "tst",
): Promise<string[]> {
  const links = Array.from(
    { length: count },
    (_, i) => meetLink(i + 1, prefix),
  );
  const rows = await sql<{ id: string }[]>`
    insert into meeting_links_pool (meeting_link)
    select unnest(${links}::text[])
    returning id`;
  return rows.map((row) => row.id);
}

// A slot that has already ended: the every-minute sweep only serves upcoming bookings, so in
// these tests every link is assigned by the call under test, whenever the sweep fires.
const ENDED_SLOT = {
  startsAt: "2021-03-01T10:00:00+07:00",
  endsAt: "2021-03-01T11:00:00+07:00",
};

/** Inserts `count` bookings in one slot (paid and ended by default) and returns their ids. */
export async function insertBookings(
  sql: Sql,
  count: number,
  { status = "paid", slot = ENDED_SLOT } = {},
): Promise<string[]> {
  const rows = await sql<{ id: string }[]>`
    insert into bookings (order_id, starts_at, ends_at, amount, payment_status)
    select 'assign-' || gen_random_uuid(), ${slot.startsAt}, ${slot.endsAt}, 150000, ${status}
    from generate_series(1, ${count}::int)
    returning id`;
  return rows.map((row) => row.id);
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
