// POST with the service-role key: sends the booking emails that are due (the outbox in
// public.booking_emails) and answers how many went. Called after every assignment and every
// minute (pg_cron + pg_net on hosted Supabase); any body is ignored.
import { requireServiceRole } from "../_shared/auth.ts";
import { drainBookingEmails, mailConfig } from "../_shared/booking_emails.ts";
import { json, postHandler } from "../_shared/http.ts";

export default {
  fetch: postHandler("send-booking-emails", async (req, log) => {
    await requireServiceRole(req);
    const result = await drainBookingEmails(mailConfig());
    Object.assign(log, result);
    log.outcome = "drained";
    return json(result);
  }),
};
