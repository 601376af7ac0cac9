// Test data: each test starts from an empty pool and no bookings (deno test runs files one
// after another, so a test owns the database while it runs).
import type { Sql } from "./db.ts";

export async function resetData(sql: Sql): Promise<void> {
  await sql`truncate public.midtrans_notifications, public.booking_emails, public.bookings,
    public.meeting_links_pool`;
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
