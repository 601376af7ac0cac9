// Calling assign-meeting-link over HTTP, and the bookings and table snapshots its tests need.
import assert from "node:assert/strict";
import type { Sql } from "./db.ts";
import { env } from "./env.ts";
import type { FunctionResponse } from "./http.ts";

/** The legacy service-role key as a bearer token, as the webhook and the reference send it. */
export const asServiceRole = { authorization: `Bearer ${env.serviceRoleKey}` };

export interface AssignCall {
  /** Sent as the JSON body with Content-Type: application/json. */
  json?: unknown;
  /** Sent as is; set content-type in `headers` yourself. Wins over `json`. */
  body?: BodyInit;
  /** Default: the service-role bearer. Pass {} for no credentials. */
  headers?: Record<string, string>;
  method?: string;
  /** Another functions server than the shared one, e.g. a spawned one. */
  apiUrl?: string;
}

/**
 * Calls assign-meeting-link over HTTP. Fails the test unless the answer is JSON, which the
 * contract promises for every status.
 */
export async function callAssign(
  call: AssignCall = {},
): Promise<FunctionResponse> {
  const headers = new Headers(call.headers ?? asServiceRole);
  let body = call.body;
  if (body === undefined && call.json !== undefined) {
    body = JSON.stringify(call.json);
    headers.set("content-type", "application/json");
  }
  const response = await fetch(
    `${call.apiUrl ?? env.apiUrl}/functions/v1/assign-meeting-link`,
    { method: call.method ?? "POST", headers, body },
  );
  const text = await response.text();
  assert.match(
    response.headers.get("content-type") ?? "",
    /^application\/json\b/,
    `${response.status} is not declared JSON: ${text}`,
  );
  return {
    status: response.status,
    headers: response.headers,
    text,
    json: JSON.parse(text),
  };
}

/** POSTs {"bookingId": id} as the service role (or with `headers`). */
export function assignLink(
  bookingId: string,
  headers?: Record<string, string>,
): Promise<FunctionResponse> {
  return callAssign({ json: { bookingId }, headers });
}

// A slot that has already ended: the every-minute sweep only serves upcoming bookings, so in
// these tests every link is assigned by the call under test, whenever the sweep fires.
export const ENDED_SLOT = {
  startsAt: "2021-03-01T10:00:00+07:00",
  endsAt: "2021-03-01T11:00:00+07:00",
};

/** Inserts `count` bookings in one slot and returns their ids. */
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

/** Every row of the tables the endpoint could write, as JSON, in a stable order. */
export async function snapshotTables(sql: Sql): Promise<unknown> {
  const [snapshot] = await sql`
    select
      (select coalesce(jsonb_agg(to_jsonb(b) order by b.id), '[]') from bookings b) as bookings,
      (select coalesce(jsonb_agg(to_jsonb(l) order by l.id), '[]') from meeting_links_pool l) as pool,
      (select coalesce(jsonb_agg(to_jsonb(n) order by n.id), '[]') from midtrans_notifications n)
        as notifications`;
  return { ...snapshot };
}
