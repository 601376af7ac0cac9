// A logical backup, restored with scripts/restore into a new PostgreSQL prepared like a new
// project (scripts/bootstrap.sql, pg_cron preloaded), comes back whole and as closed as the
// migrations leave it. The stack is filled through the real paths (paid, flagged, refunded and
// under-review bookings; the notification log; sent, queued, failed and in-flight emails), dumped
// as `supabase db dump` would (custom format, without the schemas its --dry-run excludes, at one
// snapshot), and restored into a second cluster on TEST_DB_PORT + 8.
import assert from "node:assert/strict";
import postgres from "postgres";
import {
  addLinks,
  catalogDifferences,
  catalogSnapshot,
  createBooking,
  createCustomerBooking,
  drain,
  env,
  freePort,
  pay,
  refund,
  resetData,
  type Sql,
  withSql,
} from "../support/mod.ts";

const root = new URL("../../", import.meta.url).pathname;
const PG_BIN = Deno.env.get("PG_BIN") ?? "/usr/lib/postgresql/15/bin";
// `supabase db dump --dry-run` (CLI 2.117.0): the schemas the platform maintains.
const EXCLUDED_SCHEMAS =
  "information_schema|pg_*|_analytics|_realtime|_supavisor|auth|etl|extensions|pgbouncer|" +
  "realtime|storage|supabase_functions|supabase_migrations|cron|dbdev|graphql|graphql_public|" +
  "net|pgmq|pgsodium|pgsodium_masks|pgtle|repack|tiger|tiger_data|timescaledb_*|" +
  "_timescaledb_*|topology|vault";
const SLOT_1 = {
  startsAt: "2031-03-03 10:00+07",
  endsAt: "2031-03-03 11:00+07",
};
const SLOT_2 = {
  startsAt: "2031-03-04 10:00+07",
  endsAt: "2031-03-04 11:00+07",
};

type Rows = Record<string, string[]>;

async function command(
  program: string,
  args: string[],
  options: { env?: Record<string, string>; stdout?: "piped" | "inherit" } = {},
): Promise<{ stdout: Uint8Array; text: string }> {
  const { code, stdout, stderr } = await new Deno.Command(program, {
    args,
    cwd: root,
    env: options.env,
    stdin: "null",
  }).output();
  const text = new TextDecoder().decode(stdout);
  assert.equal(
    code,
    0,
    `${program} ${args.join(" ")} exited ${code}\n${text.slice(-4000)}\n${
      new TextDecoder().decode(stderr)
    }`,
  );
  return { stdout, text };
}

/** Every row of every table in public, as text, sorted. */
async function rowsOf(sql: Sql | postgres.TransactionSql): Promise<Rows> {
  const tables = await sql<{ name: string }[]>`
    select relname as name from pg_class
    where relnamespace = 'public'::regnamespace and relkind = 'r' order by 1`;
  const rows: Rows = {};
  for (const { name } of tables) {
    const [{ all }] = await sql<{ all: string[] }[]>`
      select coalesce(array_agg(t::text order by t::text), '{}') as all
      from ${sql("public")}.${sql(name)} t`;
    rows[name] = all;
  }
  return rows;
}

/** The stack filled through the paths production uses, with each kind of row the issue names. */
async function fill(sql: Sql): Promise<void> {
  await resetData(sql);
  await addLinks(sql, 2, "rst");
  const customer = (name: string) => ({ email: `${name}@example.com`, name });
  await createCustomerBooking(sql, "restore-paid-1", customer("ayu"), SLOT_1);
  await createCustomerBooking(sql, "restore-paid-2", customer("budi"), SLOT_1);
  await createCustomerBooking(
    sql,
    "restore-flagged",
    customer("citra"),
    SLOT_1,
  );
  await createCustomerBooking(
    sql,
    "restore-refunded",
    customer("dewi"),
    SLOT_2,
  );
  await createBooking(sql, "restore-review", { amount: "99.00" });
  for (
    const order of [
      "restore-paid-1",
      "restore-paid-2",
      "restore-flagged", // the pool of two is full for SLOT_1: flagged needs_manual_link
      "restore-refunded",
      "restore-review", // Midtrans confirms 150000, the booking says 99: needs_review
    ]
  ) await pay(order);
  await refund("restore-refunded");
  const sent = await drain();
  assert.equal(sent.status, 200, JSON.stringify(sent.body));
  // Three emails written at commit and not drained: one a drainer took and died with (in
  // flight: its Message-ID fixed, its lease running), one whose every attempt failed, one queued.
  await sql`update bookings set customer_email = 'ayu.new@example.com'
    where order_id = 'restore-paid-1'`;
  await sql`update bookings set customer_email = 'budi.new@example.com'
    where order_id = 'restore-paid-2'`;
  await sql`update bookings set customer_email = 'ayu.newer@example.com'
    where order_id = 'restore-paid-1'`;
  const inFlight = await sql`
    select id from claim_booking_emails(1, interval '2 minutes', 'example.com')`;
  assert.equal(inFlight.length, 1);
  await sql`update booking_emails
    set status = 'failed', attempts = booking_email_max_attempts(),
        last_error = '550 5.1.1 mailbox unavailable'
    where recipient = 'budi.new@example.com'`;
  const states = await sql<{ state: string }[]>`
    select distinct status as state from booking_emails
    union select distinct payment_status from bookings
    union select 'flagged' from bookings where needs_manual_link
    union select 'review' from bookings where review_reason is not null`;
  assert.deepEqual(
    new Set(states.map((s) => s.state)),
    new Set([
      "sent",
      "pending",
      "sending",
      "failed",
      "skipped",
      "paid",
      "refunded",
      "flagged",
      "review",
    ]),
  );
}

async function dumpAtOneSnapshot(sql: Sql, file: string): Promise<Rows> {
  return await sql.begin("isolation level repeatable read", async (tx) => {
    const [{ snapshot }] = await tx<{ snapshot: string }[]>`
      select pg_export_snapshot() as snapshot`;
    const rows = await rowsOf(tx);
    const { stdout } = await command(`${PG_BIN}/pg_dump`, [
      "--format=custom",
      `--snapshot=${snapshot}`,
      "--exclude-schema",
      EXCLUDED_SCHEMAS,
      env.dbUrl,
    ]);
    await Deno.writeFile(file, stdout);
    return rows;
  });
}

function targetUrl(port: number): string {
  const url = new URL(env.dbUrl);
  url.port = String(port);
  url.pathname = "/postgres";
  return url.toString();
}

/** A new cluster of the stack's major, prepared like a new project; returns its folder. */
async function newProjectDatabase(port: number): Promise<string> {
  const { text } = await command("bash", [
    "-c",
    `set -euo pipefail; source scripts/lib.sh
     dir="$(server_tmpdir restore-test)"; make_pg_dir "$dir/db"
     trap 'stop_cluster "$dir/db"; rm -rf "$dir"' ERR
     init_cluster "$dir/db" "fsync = off" >/dev/null
     start_cluster "$dir/db" ${port} "$dir/postgres.log"
     psql_at ${port} -f scripts/bootstrap.sql >/dev/null
     echo "$dir"`,
  ]);
  return text.trim().split("\n").at(-1)!;
}

async function removeCluster(dir: string): Promise<void> {
  await command("bash", [
    "-c",
    `set -euo pipefail; source scripts/lib.sh; stop_cluster "$1/db"; rm -rf "$1"`,
    "-",
    dir,
  ]);
}

/** A restore re-parses expressions: (a AND b) AND c comes back as a AND b AND c. */
const sameButForParentheses = (left: string, right: string) =>
  left.replace(/[\s()]/g, "") === right.replace(/[\s()]/g, "");

Deno.test("a backup restored by scripts/restore brings every row and the schedules back, with access as the migrations leave it", async (t) => {
  const dump = await Deno.makeTempFile({ suffix: ".dump" });
  let cluster: string | undefined;
  let port = 0;
  try {
    const dumped = await withSql(async (sql) => {
      await fill(sql);
      return await dumpAtOneSnapshot(sql, dump);
    });
    // A port free a moment ago: a fixed one (it was the stack's + 8) can be any connection's
    // ephemeral port by then, and it once was. Taken between the check and the start: again.
    for (let attempt = 1; !cluster; attempt++) {
      port = freePort();
      try {
        cluster = await newProjectDatabase(port);
      } catch (error) {
        if (attempt === 3) throw error;
      }
    }
    const restore = await command("scripts/restore", [dump, targetUrl(port)], {
      env: {
        PG_RESTORE: `${PG_BIN}/pg_restore`,
        PSQL: `${PG_BIN}/psql`,
      },
    });
    assert.match(restore.text, /^Restored: /m);

    const target = postgres(targetUrl(port), { max: 1, onnotice: () => {} });
    try {
      await t.step("every row is back", async () => {
        const restored = await rowsOf(target);
        assert.deepEqual(Object.keys(restored), Object.keys(dumped));
        for (const [table, rows] of Object.entries(dumped)) {
          if (table === "double_booking_checks") {
            // The restored schedules may have run the health check since: it only adds rows.
            const missing = rows.filter((row) =>
              !restored[table].includes(row)
            );
            assert.deepEqual(missing, [], table);
          } else assert.deepEqual(restored[table], rows, table);
        }
        assert.ok(
          dumped.bookings.length === 5 && dumped.booking_emails.length > 6,
        );
      });

      await t.step(
        "the catalog is the migrated one: every grant, constraint (and whether it is valid), trigger (and whether it is enabled), function, comment and schedule",
        async () => {
          const source = await withSql((sql) =>
            catalogSnapshot(sql, { viewDefinitions: false })
          );
          const restored = await catalogSnapshot(target, {
            viewDefinitions: false,
          });
          // The pgTAP suite installs pgtap before this one in a full run; the dump carries it.
          source.delete("extension pgtap");
          restored.delete("extension pgtap");
          const differences = catalogDifferences(
            source,
            restored,
            ["the migrated stack", "the restored copy"],
            sameButForParentheses,
          );
          assert.equal(differences.length, 0, differences.join("\n"));
          const [{ invalid }] = await target<{ invalid: number }[]>`
          select count(*)::int as invalid from pg_constraint
          where connamespace = 'public'::regnamespace and not convalidated
            and conname <> 'midtrans_notifications_confirmed_by_midtrans'`;
          assert.equal(
            invalid,
            0,
            "only the constraint the schema declares not valid",
          );
        },
      );

      await t.step(
        "the catalog-driven access test (09-) passes on the restored database",
        async () => {
          await target`create extension if not exists pgtap with schema extensions`;
          const { text } = await command("pg_prove", [
            "--psql-bin",
            "/usr/lib/postgresql/15/bin/psql",
            "-h",
            "127.0.0.1",
            "-p",
            String(port),
            "-U",
            "postgres",
            "-d",
            "postgres",
            "--verbose",
            "supabase/tests/database/09-access-for-every-object.sql",
          ], {
            env: {
              PGPASSWORD: "postgres",
              PGOPTIONS:
                "-c search_path=public,extensions -c client_min_messages=warning",
            },
          });
          assert.doesNotMatch(text, /^\s*not ok/m);
          assert.ok((text.match(/^\s*ok \d+/gm) ?? []).length > 50, text);
          await target`drop extension pgtap`;
        },
      );

      await t.step("the health check finds nothing", async () => {
        const [check] = await target`select * from check_double_booking()`;
        assert.deepEqual({ ...check }, {
          bookings_sharing_a_link: 0,
          bookings_missing_from_index: 0,
          holds_sharing_a_link: 0,
        });
        assert.equal(
          (await target`select 1 from paid_bookings_sharing_a_link()`).length,
          0,
        );
      });

      await t.step(
        "the schedules are back, active, and a tick of each runs",
        async () => {
          const jobs = await target<{ jobname: string; command: string }[]>`
          select jobname, command from cron.job where active order by jobname`;
          assert.deepEqual(jobs.map((j) => j.jobname), [
            "assign-pending-meeting-links",
            "check-double-booking",
          ]);
          const before = await target`select id from double_booking_checks`;
          for (const job of jobs) await target.unsafe(job.command);
          const after = await target`select id from double_booking_checks`;
          assert.equal(after.length, before.length + 1);
        },
      );

      await t.step(
        "no email goes twice: sent ones stay sent, the one in flight keeps its Message-ID",
        async () => {
          const source = await withSql((sql) =>
            sql<{ id: string; status: string; message_id: string | null }[]>`
            select id, status, message_id from booking_emails order by id`
          );
          // Its drainer is gone with the old database: once the lease runs out, the next drain
          // takes it again, with the Message-ID the first attempt fixed (mail clients fold a
          // repeat).
          await target`update booking_emails set due_at = now() where status = 'sending'`;
          const claimed = await target<{ id: string; message_id: string }[]>`
          select id, message_id from claim_booking_emails(100, interval '2 minutes', 'example.com')`;
          const byId = new Map(source.map((row) => [row.id, row]));
          assert.deepEqual(
            claimed.map((row) => byId.get(row.id)?.status).sort(),
            ["pending", "sending"],
          );
          const inFlight = claimed.find((row) =>
            byId.get(row.id)?.status === "sending"
          )!;
          assert.equal(inFlight.message_id, byId.get(inFlight.id)?.message_id);
        },
      );
    } finally {
      await target.end({ timeout: 5 });
    }
  } finally {
    if (cluster) await removeCluster(cluster);
    await Deno.remove(dump);
    await withSql(resetData);
  }
});
