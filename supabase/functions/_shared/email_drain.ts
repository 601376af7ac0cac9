// Asking send-booking-emails to drain the outbox now, from another function's background work
// (the every-minute schedule is the safety net). Failures are logged, never thrown.
import { logTask } from "./background.ts";
import { db, withTimeout } from "./db.ts";
import type { Env } from "./env.ts";

/**
 * Whether a message of the booking, email or WhatsApp, waits to be sent now (the commit that just
 * ended queued it). Reminders are due later: the schedule sends them, so they ask for no drain.
 */
async function bookingHasDueEmail(
  bookingId: string,
  env: Env = Deno.env,
): Promise<boolean> {
  const [row] = await withTimeout<{ due: boolean }>(
    db(env)`select exists (select 1 from public.booking_emails e
        where e.booking_id = ${bookingId} and e.status = 'pending' and e.due_at <= now())
      or exists (select 1 from public.booking_whatsapp_messages m
        where m.booking_id = ${bookingId} and m.status = 'pending' and m.due_at <= now()) as due`,
    env,
  );
  return row.due;
}

/**
 * One drain request at a time: a request made while one is in flight is folded into exactly one
 * more, sent when it ends (that drain sees every email committed before it starts). The promise
 * settles when no drain is left to send.
 */
export function coalescing(
  send: () => Promise<void>,
): () => Promise<void> {
  let inFlight: Promise<void> | undefined;
  let again = false;
  return () => {
    if (inFlight) {
      again = true;
      return inFlight;
    }
    inFlight = (async () => {
      try {
        do {
          again = false;
          await send();
        } while (again);
      } finally {
        inFlight = undefined;
      }
    })();
    return inFlight;
  };
}

/** POSTs to send-booking-emails, waiting at most EMAIL_DRAIN_TIMEOUT_MS (default 10 s). */
async function postEmailDrain(
  caller: string,
  env: Env = Deno.env,
): Promise<void> {
  const started = performance.now();
  const url = env.get("SUPABASE_URL");
  const key = env.get("SUPABASE_SERVICE_ROLE_KEY");
  let outcome: string;
  try {
    if (!url || !key) {
      throw new Error(
        "SUPABASE_URL and SUPABASE_SERVICE_ROLE_KEY are needed to request a drain",
      );
    }
    const response = await fetch(`${url}/functions/v1/send-booking-emails`, {
      method: "POST",
      headers: {
        authorization: `Bearer ${key}`,
        "content-type": "application/json",
      },
      body: "{}",
      signal: AbortSignal.timeout(
        Number(env.get("EMAIL_DRAIN_TIMEOUT_MS") ?? 10_000),
      ),
    });
    const body = await response.json().catch(() => undefined);
    outcome = response.ok
      ? "drained"
      : `failed: HTTP ${response.status} ${body?.error ?? ""}`;
  } catch (error) {
    outcome = `failed: ${(error as Error).message}`;
  }
  logTask({
    function: caller,
    task: "request_email_drain",
    outcome,
    ms: Math.round(performance.now() - started),
  });
}

/** The function's drain requester: coalesced per instance (one per caller and env). */
export function emailDrainRequester(
  caller: string,
  env: Env = Deno.env,
): () => Promise<void> {
  return coalescing(() => postEmailDrain(caller, env));
}

/**
 * After a commit that may have queued an email for `bookingId`: requests a drain only when one
 * is due. Failures are logged, never thrown.
 */
export async function drainIfQueued(
  bookingId: string,
  requestDrain: () => Promise<void>,
  caller: string,
  env: Env = Deno.env,
): Promise<void> {
  let due: boolean;
  try {
    due = await bookingHasDueEmail(bookingId, env);
  } catch (error) {
    // The schedule drains within a minute; nothing is lost.
    logTask({
      function: caller,
      task: "request_email_drain",
      outcome: `failed: ${(error as Error).message}`,
    });
    return;
  }
  if (due) await requestDrain();
}
