// Bookings with a customer to email, and draining the outbox, for the email tests.
import { asServiceRole } from "./assign.ts";
import { type Sql } from "./db.ts";
import { callFunction } from "./http.ts";

export type Customer = {
  email: string | null;
  /** E.164; messages go there only with `whatsapp` (the opt-in). */
  phone?: string;
  whatsapp?: boolean;
  name?: string;
  locale?: "en" | "id";
  timeZone?: string;
};

/** A pending booking of 150000 IDR for `orderId` with a customer; returns its id. */
export async function createCustomerBooking(
  sql: Sql,
  orderId: string,
  customer: Customer,
  slot = { startsAt: "2031-03-03 10:00+07", endsAt: "2031-03-03 11:00+07" },
): Promise<string> {
  const [{ id }] = await sql<{ id: string }[]>`
    insert into bookings (order_id, amount, starts_at, ends_at, customer_email, customer_name,
      locale, customer_time_zone, customer_phone, customer_whatsapp_opt_in)
    values (${orderId}, 150000, ${slot.startsAt}, ${slot.endsAt}, ${customer.email},
      ${customer.name ?? null}, ${customer.locale ?? "id"},
      ${customer.timeZone ?? "Asia/Jakarta"}, ${customer.phone ?? null},
      ${customer.whatsapp ?? false})
    returning id`;
  return id;
}

export type DrainAnswer = {
  status: number;
  body: {
    sent?: number;
    retrying?: number;
    failed?: number;
    error?: string;
    whatsapp?: {
      sent: number;
      retrying: number;
      failed: number;
      skipped: number;
    };
  };
};

/** POSTs to send-booking-emails as the schedule does. */
export async function drain(apiUrl?: string): Promise<DrainAnswer> {
  const response = await callFunction("send-booking-emails", {
    method: "POST",
    headers: asServiceRole,
    json: {},
    apiUrl,
    timeoutMs: 60_000,
    requireJson: true,
  });
  return {
    status: response.status,
    body: response.json as DrainAnswer["body"],
  };
}

export type OutboxRow = {
  kind: string;
  status: string;
  recipient: string | null;
  calendar_sequence: number | null;
  message_id: string | null;
  attempts: number;
};

export async function outbox(sql: Sql, orderId: string): Promise<OutboxRow[]> {
  const rows = await sql<OutboxRow[]>`
    select kind, status, recipient, calendar_sequence, message_id, attempts
    from booking_emails where order_id = ${orderId} and kind <> 'reminder' order by id`;
  return rows.map((row) => ({ ...row }));
}
