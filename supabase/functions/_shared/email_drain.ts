// Asking send-booking-emails to drain the outbox now, from another function's background work
// (the every-minute schedule is the safety net). Failures are logged, never thrown.
import type { Env } from "./env.ts";

/** POSTs to send-booking-emails, waiting at most EMAIL_DRAIN_TIMEOUT_MS (default 10 s). */
export async function requestEmailDrain(
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
  const line = {
    function: caller,
    task: "request_email_drain",
    outcome,
    ms: Math.round(performance.now() - started),
  };
  (outcome.startsWith("failed") ? console.error : console.log)(
    JSON.stringify(line),
  );
}
