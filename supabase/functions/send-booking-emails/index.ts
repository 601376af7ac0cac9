// POST with the service-role key: sends the customer messages that are due, emails (the outbox
// public.booking_emails, over SMTP) and WhatsApp messages (public.booking_whatsapp_messages,
// Meta's Cloud API), each channel in its own loop so an outage of one never delays the other,
// and answers how many went. Called after assignments and every minute (pg_cron + pg_net on
// hosted Supabase); any body is ignored.
import { requireServiceRole } from "../_shared/auth.ts";
import { drainBookingEmails, mailConfig } from "../_shared/booking_emails.ts";
import type { Env } from "../_shared/env.ts";
import { json, postHandler } from "../_shared/http.ts";
import { drainWhatsApp, whatsappConfig } from "../_shared/whatsapp.ts";

/** The handler with its settings read from `env` (tests pass their own). */
export function fetchWith(env: Env = Deno.env) {
  return postHandler("send-booking-emails", async (req, log) => {
    await requireServiceRole(req, env);
    const whatsapp = whatsappConfig(env);
    const [email, chat] = await Promise.allSettled([
      Promise.resolve().then(() => drainBookingEmails(mailConfig(env), env)),
      whatsapp
        ? drainWhatsApp(whatsapp, env)
        : Promise.resolve("not_configured" as const),
    ]);
    // Either channel's failure is the answer, once the other has drained.
    if (email.status === "rejected") throw email.reason;
    if (chat.status === "rejected") throw chat.reason;
    Object.assign(log, email.value, { whatsapp: chat.value });
    log.outcome = "drained";
    return json({ ...email.value, whatsapp: chat.value });
  });
}

export default { fetch: fetchWith() };
