// The local stand-in for hosted Supabase's pg_cron + pg_net job: scripts/email_schedule.ts drains
// the outbox on its own, so an email queued by SQL alone (no function called) still goes out.
import assert from "node:assert/strict";
import {
  addLinks,
  connect,
  env,
  Mailbox,
  outbox,
  resetData,
} from "../support/mod.ts";

Deno.test("the local email schedule sends what SQL alone queued, within its interval", async () => {
  const sql = connect();
  const mailbox = new Mailbox();
  const schedule = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--no-prompt",
      "--allow-net",
      "--allow-env",
      new URL("../../scripts/email_schedule.ts", import.meta.url).pathname,
    ],
    env: {
      SUPABASE_URL: env.apiUrl,
      SUPABASE_SERVICE_ROLE_KEY: env.serviceRoleKey,
      EMAIL_SCHEDULE_SECONDS: "1",
    },
    stdin: "null",
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const log = new Response(schedule.stdout).text();
  try {
    await resetData(sql);
    await mailbox.clear();
    await addLinks(sql, 1);
    await sql`insert into bookings (order_id, starts_at, ends_at, amount, customer_email, locale)
      values ('mail-cron-1', '2031-05-01 03:00Z', '2031-05-01 04:00Z', 150000, 'eka@example.com', 'en')`;
    // An admin marks it paid and assigns by hand: no function is called.
    await sql`update bookings set payment_status = 'paid' where order_id = 'mail-cron-1'`;
    await sql`select assign_pending_meeting_links()`;
    assert.deepEqual(
      (await outbox(sql, "mail-cron-1")).map((row) => row.kind),
      ["invite"],
    );

    const emails = await mailbox.waitFor("eka@example.com", 1, 15_000);
    assert.equal(emails.length, 1, "the schedule sent it");
    assert.deepEqual(
      (await outbox(sql, "mail-cron-1")).map((row) => row.status),
      ["sent"],
    );
  } finally {
    schedule.kill("SIGTERM");
    await schedule.status;
    await sql.end({ timeout: 5 });
  }
  assert.match(await log, /send-booking-emails: 200 \{"sent":1,/);
});
