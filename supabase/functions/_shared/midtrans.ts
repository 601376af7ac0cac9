// Midtrans HTTP notifications: their shape, their signature, confirming them with Midtrans's Get
// Status API, and recording them.
import type postgres from "postgres";
import { z } from "zod";
import { constantTimeEqual } from "./constant_time.ts";
import { db, withTimeout } from "./db.ts";
import type { Env } from "./env.ts";
import { ConfigError, HttpError } from "./errors.ts";
import { readAtMost } from "./http.ts";

const text = (max: number) => z.string().min(1).max(max);

// The fields this system reads, as Midtrans sends them in a notification and in a status answer.
const transactionFields = {
  order_id: text(50),
  transaction_id: text(100),
  transaction_status: text(40),
  status_code: z.string().regex(/^\d{3}$/, "status_code must be three digits"),
  gross_amount: z.string().regex(
    /^\d{1,15}(\.\d{1,2})?$/,
    "gross_amount must be a decimal string such as 150000.00",
  ),
  fraud_status: text(40).optional(),
  currency: text(10).optional(),
};

/** A notification; every other field is kept in the stored payload as sent. */
export const MidtransNotification = z.looseObject({
  ...transactionFields,
  // It goes into the status call's URL, which cannot carry a lone surrogate.
  transaction_id: transactionFields.transaction_id.refine(
    (id) => id.isWellFormed(),
    "transaction_id must be well-formed Unicode",
  ),
  signature_key: z.string().max(256).optional(),
});
export type MidtransNotification = z.infer<typeof MidtransNotification>;

export function midtransServerKey(env: Env = Deno.env): string {
  const key = env.get("MIDTRANS_SERVER_KEY");
  if (!key) {
    throw new ConfigError(
      "MIDTRANS_SERVER_KEY is not set: refusing every notification",
    );
  }
  return key;
}

/** hex SHA-512 of order_id + status_code + gross_amount + server key, strings exactly as sent. */
export async function midtransSignature(
  n: Pick<MidtransNotification, "order_id" | "status_code" | "gross_amount">,
  serverKey: string,
): Promise<string> {
  const input = new TextEncoder().encode(
    n.order_id + n.status_code + n.gross_amount + serverKey,
  );
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-512", input));
  return Array.from(digest, (byte) => byte.toString(16).padStart(2, "0")).join(
    "",
  );
}

export async function verifyMidtransSignature(
  n: MidtransNotification,
  serverKey: string,
): Promise<void> {
  if (!n.signature_key) {
    throw new HttpError("invalid_signature", "signature_key is missing.");
  }
  const expected = await midtransSignature(n, serverKey);
  if (!constantTimeEqual(n.signature_key.toLowerCase(), expected)) {
    throw new HttpError(
      "invalid_signature",
      "signature_key does not match this notification.",
    );
  }
}

/** What the Get Status API answers for a transaction; every other field is kept as answered. */
export const MidtransStatus = z.looseObject(transactionFields);
export type MidtransStatus = z.infer<typeof MidtransStatus>;

const SANDBOX_API_URL = "https://api.sandbox.midtrans.com";
const PRODUCTION_API_URL = "https://api.midtrans.com";

/** MIDTRANS_API_URL, else the environment the server key belongs to (sandbox keys say so). */
export function midtransApiUrl(serverKey: string, env: Env = Deno.env): string {
  const configured = env.get("MIDTRANS_API_URL");
  if (configured) return configured.replace(/\/+$/, "");
  return serverKey.startsWith("SB-Mid-server-")
    ? SANDBOX_API_URL
    : PRODUCTION_API_URL;
}

const STATUS_MAX_BYTES = 256 * 1024;

// Midtrans cannot confirm right now: answer 503 so it retries (four times, over hours).
// The cause goes to the log line, not to the caller.
function unavailable(cause: string): HttpError {
  const error = new HttpError(
    "midtrans_unavailable",
    "Midtrans's Get Status API could not confirm this notification; retry later.",
  );
  error.cause = cause;
  return error;
}

/**
 * Asks Midtrans for the notification's transaction (by transaction_id: an order can have several
 * attempts, and each notification is about one of them) and returns what Midtrans says of it, after
 * checking that it is that transaction of that order. 404 transaction_not_found when Midtrans
 * does not know the transaction, 409 transaction_order_mismatch when it belongs to another order,
 * 503 midtrans_unavailable when Midtrans cannot be asked (down, slow, 5xx, key refused).
 */
export async function confirmWithMidtrans(
  n: MidtransNotification,
  serverKey: string,
  env: Env = Deno.env,
): Promise<MidtransStatus> {
  const url = `${midtransApiUrl(serverKey, env)}/v2/${
    encodeURIComponent(n.transaction_id)
  }/status`;
  // Midtrans waits 15 s for the webhook's answer: the status call must leave the database room.
  const timeoutMs = Number(env.get("MIDTRANS_API_TIMEOUT_MS") ?? 5_000);
  const signal = AbortSignal.timeout(timeoutMs);
  let response: Response;
  let bytes: Uint8Array | undefined;
  try {
    response = await fetch(url, {
      headers: {
        accept: "application/json",
        authorization: `Basic ${btoa(`${serverKey}:`)}`,
      },
      signal,
    });
    bytes = await readAtMost(response.body, STATUS_MAX_BYTES);
  } catch (error) {
    throw unavailable(`GET ${url}: ${(error as Error).message}`);
  }
  let body: unknown;
  try {
    body = bytes && JSON.parse(new TextDecoder().decode(bytes));
  } catch {
    body = undefined;
  }
  // A transaction's answer carries its own status_code (200, 201, 202, 407...); an error's
  // status_code is the call's, and Midtrans does not always repeat it as the HTTP status.
  const parsed = response.ok ? MidtransStatus.safeParse(body) : undefined;
  const bodyCode = (body as { status_code?: unknown } | undefined)?.status_code;
  if (!parsed?.success && (response.status === 404 || bodyCode === "404")) {
    throw new HttpError(
      "transaction_not_found",
      `Midtrans does not know transaction ${n.transaction_id}; nothing was recorded.`,
    );
  }
  if (!parsed?.success) {
    const refused = response.status === 401 || bodyCode === "401";
    throw unavailable(
      `GET ${url}: HTTP ${response.status}, status_code ${bodyCode}` +
        (refused ? " (MIDTRANS_SERVER_KEY or MIDTRANS_API_URL is wrong)" : ""),
    );
  }
  const status = parsed.data;
  if (
    status.order_id !== n.order_id || status.transaction_id !== n.transaction_id
  ) {
    throw new HttpError(
      "transaction_order_mismatch",
      `Midtrans does not have transaction ${n.transaction_id} in order ${n.order_id}; nothing was recorded.`,
    );
  }
  return status;
}

export type Recorded = {
  notification_id: string;
  booking_id: string | null;
  outcome: string;
  duplicate: boolean;
  payment_status: string | null;
  needs_link: boolean;
  notified_differences: Record<
    string,
    { notified: unknown; confirmed: unknown }
  >;
};

/**
 * Logs a signed notification, exactly as received, with the status Midtrans confirmed for it,
 * once per confirmed state, and applies the confirmed status to its booking.
 */
export async function recordNotification(
  received: unknown,
  confirmed: MidtransStatus,
  env: Env = Deno.env,
): Promise<Recorded> {
  const sql = db(env);
  const [row] = await withTimeout<Recorded>(
    sql`select * from public.record_midtrans_notification(${
      sql.json(received as postgres.JSONValue)
    }, ${sql.json(confirmed as postgres.JSONValue)})`,
    env,
  );
  return row;
}
