// POST with the service-role key: sends the booking emails that are due (the outbox in
// public.booking_emails) and answers how many went. Called after every assignment and every
// minute (pg_cron + pg_net on hosted Supabase); any body is ignored.
import { requireServiceRole } from "../_shared/auth.ts";
import { drainBookingEmails, mailConfig } from "../_shared/booking_emails.ts";
import type { Env } from "../_shared/env.ts";
import { json, postHandler } from "../_shared/http.ts";

/** The handler with its settings read from `env` (tests pass their own). */
export function fetchWith(env: Env = Deno.env) {
  return postHandler("send-booking-emails", async (req, log) => {
    await requireServiceRole(req, env);
    const result = await drainBookingEmails(mailConfig(env), env);
    Object.assign(log, result);
    log.outcome = "drained";
    return json(result);
  });
}

export default { fetch: fetchWith() };
