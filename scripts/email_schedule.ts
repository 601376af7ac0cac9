// The local stand-in for the job hosted Supabase runs with pg_cron + pg_net (see the migration
// *_booking_emails_schedule.sql): every EMAIL_SCHEDULE_SECONDS (default 60) it POSTs to
// send-booking-emails with the service-role key, so an email whose first attempt failed is
// retried here as it would be there. Started beside MailDev by scripts/lib.sh.

const seconds = Number(Deno.env.get("EMAIL_SCHEDULE_SECONDS") ?? 60);
const url = `${Deno.env.get("SUPABASE_URL")}/functions/v1/send-booking-emails`;
const key = Deno.env.get("SUPABASE_SERVICE_ROLE_KEY") ?? "";

async function drain(): Promise<void> {
  let outcome: string;
  try {
    const response = await fetch(url, {
      method: "POST",
      headers: {
        authorization: `Bearer ${key}`,
        "content-type": "application/json",
      },
      body: "{}",
      signal: AbortSignal.timeout(60_000),
    });
    outcome = `${response.status} ${await response.text()}`;
  } catch (error) {
    outcome = `failed: ${(error as Error).message}`;
  }
  console.log(`${new Date().toISOString()} send-booking-emails: ${outcome}`);
}

setInterval(drain, seconds * 1000);
