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
  withoutReminders,
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
  // The schedule's log, line by line: the tick that sent the email says so.
  const lines = schedule.stdout.pipeThrough(new TextDecoderStream())
    .getReader();
  let log = "";
  const sentLine = async (withinMs: number): Promise<string | undefined> => {
    const deadline = Date.now() + withinMs;
    while (Date.now() < deadline) {
      const line = log.split("\n").find((l) => /"sent":1,/.test(l));
      if (line) return line;
      const { value, done } = await lines.read();
      if (done) return undefined;
      log += value;
    }
  };
  try {
    await resetData(sql);
    await withoutReminders(sql);
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

    assert.match(
      (await sentLine(15_000)) ?? log,
      /send-booking-emails: 200 \{"sent":1,/,
      "a tick of the schedule sent it",
    );
    assert.equal((await mailbox.to("eka@example.com")).length, 1);
    assert.deepEqual(
      (await outbox(sql, "mail-cron-1")).map((row) => row.status),
      ["sent"],
    );
  } finally {
    schedule.kill("SIGTERM");
    await lines.cancel();
    await schedule.status;
    await sql.end({ timeout: 5 });
  }
});
