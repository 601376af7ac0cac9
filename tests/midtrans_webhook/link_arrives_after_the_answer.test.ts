// The link is assigned after Midtrans has its answer: a slow or failed assignment never holds up
// or changes the webhook's answer, and the every-minute sweep catches what it missed.
import assert from "node:assert/strict";
import {
  answer,
  bookingState,
  createBooking,
  deliver,
  freePort,
  pendingBackgroundTasks,
  pollUntil,
  settleBackgroundWork,
  settlement,
  spawnFunctionsServer,
  webhookTest,
  withPoolLocked,
} from "../support/mod.ts";

webhookTest(
  "the webhook answers while the link is still being assigned, and the link appears shortly after",
  async (sql) => {
    const bookingId = await createBooking(sql, "slow-assign");
    // Hold the claim lock of the pool's only link for this slot, as a concurrent claim would:
    // assignment waits for it (the sweep skips a busy link), recording the payment does not.
    const holder = await sql.reserve();
    try {
      await holder`
      select pg_advisory_lock(k.link_key, k.hour_key)
      from bookings b, meeting_links_pool l, meeting_link_lock_keys(l.id, b.slot) k
      where b.id = ${bookingId}`;

      const response = await deliver(settlement("slow-assign"));

      assert.deepEqual(answer(response), { status: 200, outcome: "paid" });
      assert.equal(
        (await bookingState(sql, "slow-assign")).payment_status,
        "paid",
      );
      await pollUntil("assignment waiting for the claim lock", async () => {
        const [{ waiting }] = await sql`
        select count(*)::int as waiting from pg_stat_activity
        where wait_event_type = 'Lock' and wait_event = 'advisory'`;
        return waiting > 0 ? true : undefined;
      });
      assert.equal((await bookingState(sql, "slow-assign")).meeting_link, null);
      assert.ok(
        await pendingBackgroundTasks() >= 1,
        "the assign is still running",
      );
    } finally {
      await holder`select pg_advisory_unlock_all()`;
      holder.release();
    }

    const link = await pollUntil(
      "the booking's link",
      async () =>
        (await bookingState(sql, "slow-assign")).meeting_link ?? undefined,
    );
    assert.match(link, /^https:\/\/meet\.google\.com\//);
  },
);

webhookTest(
  "a payment whose background assign fails is paid (200) and gets its link from the sweep",
  async (sql) => {
    await createBooking(sql, "assign-down");
    // The same functions, but their queries give up after 300 ms, and the pool stays locked longer.
    const server = await spawnFunctionsServer(freePort(), {
      DB_QUERY_TIMEOUT_MS: "300",
    });
    const [{ paymentStarted }] =
      await sql`select clock_timestamp() as "paymentStarted"`;
    try {
      await withPoolLocked(async () => {
        const response = await deliver(settlement("assign-down"), {
          apiUrl: server.url,
        });
        assert.deepEqual(answer(response), { status: 200, outcome: "paid" });
        assert.equal(
          await settleBackgroundWork(server.url),
          0,
          "the failed assign is over",
        );
        // The function gives up at once and sends PostgreSQL a cancel, which lands a little
        // later: until it has, the statement still waits for the pool and would take the link
        // once the lock is gone (seen once in CI).
        await pollUntil(
          "the cancelled assign to leave PostgreSQL",
          async () => {
            const [{ waiting }] = await sql`
            select count(*)::int as waiting from pg_catalog.pg_stat_activity
            where application_name = 'meeting-links-functions'
              and query like '%public.assign_meeting_link(%'
              and state = 'active'`;
            return waiting === 0 ? true : undefined;
          },
        );
      });
    } finally {
      await server.stop();
    }
    assert.equal(
      (await bookingState(sql, "assign-down")).payment_status,
      "paid",
    );
    // The assign failed, so only a sweep can have given it a link: pg_cron's, if one was still
    // running when the payment started (read after the link, so such a sweep is already logged).
    const linkBeforeSweep =
      (await bookingState(sql, "assign-down")).meeting_link;
    const [{ cronRan }] = await sql`
    select exists (
      select 1 from cron.job_run_details d join cron.job j using (jobid)
      where j.jobname = 'assign-pending-meeting-links'
        and coalesce(d.end_time, 'infinity') >= ${paymentStarted}
    ) as "cronRan"`;
    assert.ok(
      linkBeforeSweep === null || cronRan,
      `link ${linkBeforeSweep} without a sweep`,
    );

    await sql`select assign_pending_meeting_links()`;

    assert.notEqual(
      (await bookingState(sql, "assign-down")).meeting_link,
      null,
    );
  },
);

webhookTest("pg_cron runs the link sweep every minute", async (sql) => {
  const jobs = await sql`
    select schedule, command, active, database from cron.job
    where jobname = 'assign-pending-meeting-links'`;

  assert.deepEqual(jobs.map((job) => ({ ...job })), [{
    schedule: "* * * * *",
    command: "select public.assign_pending_meeting_links()",
    active: true,
    database: "postgres",
  }]);
});
