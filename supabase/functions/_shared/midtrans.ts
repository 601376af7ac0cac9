// Midtrans HTTP notifications: their shape, their signature, and recording them.
import { createClient, FunctionsHttpError } from "@supabase/supabase-js";
import type postgres from "postgres";
import { z } from "zod";
import { constantTimeEqual } from "./constant_time.ts";
import { db, withTimeout } from "./db.ts";
import type { Env } from "./env.ts";
import { ConfigError, HttpError } from "./errors.ts";

const text = (max: number) => z.string().min(1).max(max);

/** The fields this system reads; every other field is kept in the stored payload as sent. */
export const MidtransNotification = z.looseObject({
  order_id: text(50),
  transaction_id: text(100),
  transaction_status: text(40),
  status_code: z.string().regex(/^\d{3}$/, "status_code must be three digits"),
  gross_amount: z.string().regex(
    /^\d{1,15}(\.\d{1,2})?$/,
    "gross_amount must be a decimal string such as 150000.00",
  ),
  signature_key: z.string().max(256).optional(),
  fraud_status: text(40).optional(),
  currency: text(10).optional(),
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

export type Recorded = {
  notification_id: string;
  booking_id: string | null;
  outcome: string;
  duplicate: boolean;
  payment_status: string | null;
  needs_link: boolean;
};

/** Stores a verified notification, exactly as received, once and applies it to its booking. */
export async function recordNotification(
  body: unknown,
  env: Env = Deno.env,
): Promise<Recorded> {
  const sql = db(env);
  const [row] = await withTimeout<Recorded>(
    sql`select * from public.record_midtrans_notification(${
      sql.json(body as postgres.JSONValue)
    })`,
    env,
  );
  return row;
}

// pool_exhausted is an answer, not a failure: the booking is flagged for a manual link.
async function answerCode(response: Response): Promise<string> {
  const body = await response.json().catch(() => undefined);
  const code = typeof body?.error === "string" ? body.error : "no error code";
  return code === "pool_exhausted"
    ? code
    : `failed: HTTP ${response.status} ${code}`;
}

/**
 * Asks assign-meeting-link for the booking's link, waiting at most ASSIGN_TIMEOUT_MS (default 10 s).
 * Failures are logged: the sweep retries.
 */
export async function requestMeetingLink(
  bookingId: string,
  env: Env = Deno.env,
): Promise<void> {
  const started = performance.now();
  const url = env.get("SUPABASE_URL");
  const key = env.get("SUPABASE_SERVICE_ROLE_KEY");
  let outcome: string;
  try {
    if (!url || !key) {
      throw new ConfigError(
        "SUPABASE_URL and SUPABASE_SERVICE_ROLE_KEY are needed to request a link",
      );
    }
    const supabase = createClient(url, key, {
      auth: { persistSession: false, autoRefreshToken: false },
    });
    const { data, error } = await supabase.functions.invoke(
      "assign-meeting-link",
      {
        body: { bookingId },
        timeout: Number(env.get("ASSIGN_TIMEOUT_MS") ?? 10_000),
      },
    );
    outcome = error instanceof FunctionsHttpError
      ? await answerCode(error.context)
      : error
      ? `failed: ${error.message}`
      : data?.alreadyAssigned
      ? "already_assigned"
      : "assigned";
  } catch (error) {
    outcome = `failed: ${(error as Error).message}`;
  }
  const line = {
    function: "midtrans-webhook",
    task: "request_meeting_link",
    bookingId,
    outcome,
    ms: Math.round(performance.now() - started),
  };
  (outcome.startsWith("failed") ? console.error : console.log)(
    JSON.stringify(line),
  );
}
