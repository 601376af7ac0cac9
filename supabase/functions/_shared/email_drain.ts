// Asking send-booking-emails to drain the outbox now, from another function's background work
// (the every-minute schedule is the safety net). Failures are logged, never thrown.

const DRAIN_TIMEOUT_MS = Number(
  Deno.env.get("EMAIL_DRAIN_TIMEOUT_MS") ?? 10_000,
);

export async function requestEmailDrain(caller: string): Promise<void> {
  const started = performance.now();
  const url = Deno.env.get("SUPABASE_URL");
  const key = Deno.env.get("SUPABASE_SERVICE_ROLE_KEY");
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
      signal: AbortSignal.timeout(DRAIN_TIMEOUT_MS),
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
