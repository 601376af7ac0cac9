// Migration rehearsal (bench/run --only migrations): every migration in supabase/migrations,
// applied in order by the Supabase CLI (`supabase db push`, one file per push) to a database
// holding BENCH_MIGRATIONS_SIZE bookings, while 32 callers pay bookings. Per migration: how long
// the push took, the longest any payment waited, and how many payments were never applied after
// Midtrans-style retries of every answer that was not 200. One size per run: bench/run starts a
// fresh stack (bootstrap only, no migrations) for each size and calls this once per size.
import postgres from "postgres";
import {
  putTransaction,
  statusFieldsOf,
} from "../tests/support/midtrans_sandbox.ts";
import { settlement, signed } from "../tests/support/webhook.ts";
import {
  addLinks,
  connect,
  env,
  type Latency,
  load,
  postFunction,
  quick,
  round1,
  summarize,
} from "./support.ts";

const SIZE = Number(Deno.env.get("BENCH_MIGRATIONS_SIZE"));
if (!Number.isInteger(SIZE) || SIZE < 1000) {
  throw new Error(
    "BENCH_MIGRATIONS_SIZE must be a number of bookings (>= 1000): run bench/run",
  );
}
/** The first migration rehearsed (a prefix of its file name); the ones before are applied first. */
const FROM = Deno.env.get("BENCH_MIGRATIONS_FROM") ?? "";
/** Set when this run continues the size's rehearsal after a migration cancelled at the cap. */
const CONTINUES = Deno.env.get("BENCH_MIGRATIONS_CONTINUE") === "1";
/** Where to write the migration to continue from, after one is cancelled at the cap. */
const NEXT_FILE = Deno.env.get("BENCH_MIGRATIONS_NEXT");
const RESULTS = Deno.env.get("BENCH_RESULTS");
const ROOT = new URL("..", import.meta.url).pathname.replace(/\/$/, "");
const CALLERS = 32;
const LINKS = 200;
const AMOUNT = "150000.00";
/** Payments before the push starts and after it ends, so the whole migration runs under load. */
const MARGIN_MS = 1_000;
/**
 * A push still running after this is cancelled; bench/run then rehearses the next migration on a
 * fresh stack, with the cancelled one applied before the bookings are loaded.
 */
const CAP_SECONDS = quick ? 60 : 120;
/** A push that fails on its lock_timeout is retried, as the operator does. */
const MAX_ATTEMPTS = 10;
/** Pending bookings made ready for each migration's payments. */
const POOL = quick ? 10_000 : 30_000;
/** Midtrans retries what was not answered 200; here at once, a few times. */
const RETRY_ROUNDS = 3;

export interface MigrationRun {
  migration: string;
  /** How the payments reached the database: the webhook, or SQL for a schema it predates. */
  paymentPath:
    | "webhook"
    | "sql: record_midtrans_notification(jsonb)"
    | "sql: update";
  seconds: number;
  attempts: number;
  cancelledAtCap: boolean;
  /** Not applied: every attempt failed with this SQLSTATE (55P03 or 40P01). */
  gaveUp: string | null;
  payments: number;
  waitMs: Latency;
  /** Answers other than 200 during the run (retried afterwards). */
  notOk: Record<string, number>;
  /** Payments whose booking is not paid after the retries. */
  failed: number;
  poolRanOut: boolean;
}

/** One stack: the migrations before `from` applied, the data loaded, then each one rehearsed. */
export interface Segment {
  from: string;
  /** A push with nothing to apply: the CLI's own share of every push's seconds. */
  emptyPushSeconds: number;
  loadSeconds: Record<string, number>;
  rows: Record<string, number>;
  uptimeBefore: string;
  uptimeAfter: string;
}

export interface SizeResult {
  bookings: number;
  postgres: string;
  segments: Segment[];
  migrations: MigrationRun[];
}

const sql = connect(4);
const payer = postgres(env.dbUrl, {
  max: CALLERS,
  prepare: false,
  onnotice: () => {},
  // What the webhook's DB_QUERY_TIMEOUT_MS does: a payment not answered in 10 s is a 503.
  connection: { application_name: "bench-payments", statement_timeout: 10_000 },
});
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const loadavg = () =>
  `load average: ${Deno.loadavg().map((l) => l.toFixed(2)).join(", ")}`;

// --- the CLI, one migration at a time ------------------------------------------------------------

const files = [...Deno.readDirSync(`${ROOT}/supabase/migrations`)]
  .map((e) => e.name).filter((n) => n.endsWith(".sql")).sort();
const workdir = await Deno.makeTempDir({ prefix: "migration-rehearsal-" });
await Deno.mkdir(`${workdir}/supabase/migrations`, { recursive: true });
await Deno.copyFile(
  `${ROOT}/supabase/config.toml`,
  `${workdir}/supabase/config.toml`,
);
const supabase = `${ROOT}/tools/node_modules/.bin/supabase`;
const pushUrl = `${env.dbUrl}?sslmode=disable`;

/** Adds the files to the CLI's folder and pushes them; retried while a lock_timeout fails it. */
async function push(names: string[], cap = CAP_SECONDS) {
  for (const name of names) {
    await Deno.copyFile(
      `${ROOT}/supabase/migrations/${name}`,
      `${workdir}/supabase/migrations/${name}`,
    );
  }
  let cancelledAtCap = false;
  const started = performance.now();
  for (let attempt = 1;; attempt++) {
    const timer = setTimeout(async () => {
      cancelledAtCap = true;
      // The CLI names its connection after its driver: cancel every client but ours.
      await sql`select pg_cancel_backend(pid) from pg_stat_activity
        where backend_type = 'client backend' and pid <> pg_backend_pid()
          and application_name not in ('bench', 'bench-payments', 'meeting-links-functions')`;
    }, Math.max(0, cap * 1000 - (performance.now() - started)));
    const out = await new Deno.Command(supabase, {
      args: ["db", "push", "--db-url", pushUrl, "--include-all", "--yes"],
      cwd: workdir,
      stdin: "null",
    }).output();
    clearTimeout(timer);
    const text = new TextDecoder().decode(out.stdout) +
      new TextDecoder().decode(out.stderr);
    const seconds = (performance.now() - started) / 1000;
    if (out.success) {
      return {
        seconds,
        attempts: attempt,
        cancelledAtCap: false,
        gaveUp: null,
      };
    }
    if (cancelledAtCap) {
      return { seconds, attempts: attempt, cancelledAtCap, gaveUp: null };
    }
    const retriable = text.match(/55P03|40P01/)?.[0] ?? null;
    if (retriable && attempt === MAX_ATTEMPTS) {
      return { seconds, attempts: attempt, cancelledAtCap, gaveUp: retriable };
    }
    // 55P03: the migration's own lock_timeout; 40P01: a deadlock with a payment. Either way it
    // rolled back whole, and the operator pushes it again.
    if (/55P03|40P01/.test(text) && attempt < MAX_ATTEMPTS) {
      console.error(
        `bench: ${names.join(" ")}: attempt ${attempt} failed (${
          text.match(/55P03|40P01/)?.[0]
        })`,
      );
      await sleep(1_000);
      continue;
    }
    throw new Error(`supabase db push ${names.join(" ")} failed:\n${text}`);
  }
}

// --- the data ------------------------------------------------------------------------------------

async function exists(table: string): Promise<boolean> {
  const [{ found }] = await sql<{ found: boolean }[]>`
    select to_regclass(${`public.${table}`}) is not null as found`;
  return found;
}

async function columns(table: string): Promise<Set<string>> {
  const rows = await sql<{ name: string }[]>`
    select attname as name from pg_catalog.pg_attribute
    where attrelid = ${`public.${table}`}::regclass and attnum > 0 and not attisdropped`;
  return new Set(rows.map((r) => r.name));
}

/**
 * Bulk loads in one transaction each, with row triggers off (session_replication_role):
 * the rows are valid by construction (one booking per link and hour). Time-boxed.
 */
async function bulk(
  what: string,
  statements: (tx: postgres.TransactionSql) => Promise<unknown>,
) {
  const t0 = performance.now();
  await withCheapTimeZoneCheck(() =>
    sql.begin(async (tx) => {
      await tx`set local session_replication_role = replica`;
      await tx`set local statement_timeout = '20min'`;
      await statements(tx);
    })
  );
  loadSeconds[what] = round1((performance.now() - t0) / 1000);
  console.error(`bench: loaded ${what} in ${loadSeconds[what]} s`);
}

/**
 * While the released check on customer_time_zone (20261126120000, dropped by 20261205100000)
 * exists, it reads pg_timezone_names for every row written (tens of ms): the harness's own inserts
 * (every row 'Asia/Jakarta', which it accepts) run with a stand-in that accepts just that name, and
 * the definition is put back before any payment or migration runs.
 */
async function withCheapTimeZoneCheck<T>(write: () => Promise<T>): Promise<T> {
  const [original] = await sql<{ definition: string }[]>`
    select pg_catalog.pg_get_functiondef(p.oid) as definition from pg_catalog.pg_proc p
    where p.oid = to_regprocedure('public.is_iana_time_zone(text)')`;
  if (!original) return await write();
  await sql`create or replace function public.is_iana_time_zone(p_zone text) returns boolean
    language sql immutable set search_path = '' as $$ select p_zone = 'Asia/Jakarta' $$`;
  try {
    return await write();
  } finally {
    await sql.unsafe(original.definition);
  }
}

const loadSeconds: Record<string, number> = {};
const BASELINE = "(no migration: the payments alone)";
const filled = new Set<string>();
// Half the bookings are over, half to come; each link holds one booking an hour.
const hours = Math.ceil(SIZE / LINKS);

/**
 * A realistic mix of SIZE bookings: 70% paid with a link, 15% expired, 5% cancelled, 2% failed,
 * 3% refunded, 5% pending; then, as each table appears, its rows: the notifications that moved
 * each booking, and the invite each paid booking was sent.
 */
async function fill(): Promise<void> {
  if (!filled.has("bookings") && await exists("bookings")) {
    filled.add("bookings");
    const links = await addLinks(sql, LINKS, "reh");
    await bulk("bookings", (tx) =>
      tx`
      insert into public.bookings (order_id, starts_at, ends_at, amount, payment_status, paid_at,
        paid_transaction_id, meeting_link_id, created_at, updated_at)
      select 'load-' || i, s, s + interval '1 hour', ${AMOUNT}::numeric, status,
        case when status in ('paid', 'refunded') then s - interval '1 day' end,
        case when status = 'paid' then 'load-tx-' || i end,
        case when status = 'paid' then (${links}::uuid[])[1 + i % ${LINKS}] end,
        s - interval '2 days', s - interval '1 day'
      from generate_series(0, ${SIZE - 1}::int) as i,
        lateral (select date_trunc('hour', now()) + (i / ${LINKS} - ${
        hours / 2
      }::int) * interval '1 hour' as s,
          case when i % 100 < 70 then 'paid' when i % 100 < 85 then 'expired'
               when i % 100 < 90 then 'cancelled' when i % 100 < 92 then 'failed'
               when i % 100 < 95 then 'refunded' else 'pending' end as status) t`);
    await sql`vacuum analyze public.bookings`;
  }
  if (
    !filled.has("midtrans_notifications") &&
    await exists("midtrans_notifications")
  ) {
    filled.add("midtrans_notifications");
    // Rows logged after the confirmation migration carry what Midtrans confirmed.
    const confirmed = (await columns("midtrans_notifications")).has(
      "confirmed",
    );
    await bulk("midtrans_notifications", (tx) =>
      tx.unsafe(`
      insert into public.midtrans_notifications (received_at, last_received_at, order_id,
        transaction_id, transaction_status, status_code, fraud_status, gross_amount, payload,
        booking_id, outcome, payment_status_before, payment_status_after${
        confirmed ? ", confirmed" : ""
      })
      select at, at, order_id, 'load-tx-' || substr(order_id, 6), tstatus, code,
        case when tstatus = 'expire' then null else 'accept' end, '${AMOUNT}', payload, id,
        outcome, before, after${confirmed ? ", payload" : ""}
      from (
        select b.order_id, b.id, n.*,
          jsonb_build_object('order_id', b.order_id, 'transaction_id', 'load-tx-' || substr(b.order_id, 6),
            'transaction_status', n.tstatus, 'status_code', n.code, 'gross_amount', '${AMOUNT}',
            'payment_type', 'gopay', 'currency', 'IDR', 'merchant_id', 'G141532850',
            'transaction_time', to_char(n.at, 'YYYY-MM-DD HH24:MI:SS'),
            'signature_key', md5(b.order_id) || md5(n.tstatus) || md5(b.order_id || n.code)) as payload
        from public.bookings b
        cross join lateral (values
          ('settlement', '200', 'paid', 'pending', 'paid', b.paid_at),
          ('refund', '200', 'status_changed', 'paid', 'refunded', b.paid_at + interval '1 hour'),
          ('expire', '407', 'status_changed', 'pending', 'expired', b.created_at + interval '1 day')
        ) as n(tstatus, code, outcome, before, after, at)
        where b.order_id like 'load-%' and (
          (n.tstatus = 'settlement' and b.payment_status in ('paid', 'refunded'))
          or (n.tstatus = 'refund' and b.payment_status = 'refunded')
          or (n.tstatus = 'expire' and b.payment_status = 'expired'))
      ) rows`));
    await sql`vacuum analyze public.midtrans_notifications`;
  }
  if (!filled.has("booking_emails") && await exists("booking_emails")) {
    filled.add("booking_emails");
    await bulk("booking_emails", (tx) =>
      tx`
      insert into public.booking_emails (booking_id, kind, recipient, order_id, starts_at, ends_at,
        meeting_link, locale, time_zone, calendar_method, calendar_sequence, status, attempts,
        due_at, message_id, created_at, sent_at)
      select b.id, 'invite', b.order_id || '@customers.example.com', b.order_id, b.starts_at,
        b.ends_at, l.meeting_link, 'id', 'Asia/Jakarta', 'REQUEST', 0, 'sent', 1, b.paid_at,
        '<' || b.id || '@bench.example.com>', b.paid_at, b.paid_at
      from public.bookings b join public.meeting_links_pool l on l.id = b.meeting_link_id
      where b.order_id like 'load-%'`);
    await sql`vacuum analyze public.booking_emails`;
  }
}

async function rowCounts(): Promise<Record<string, number>> {
  const counts: Record<string, number> = {};
  for (
    const table of ["bookings", "midtrans_notifications", "booking_emails"]
  ) {
    if (!await exists(table)) continue;
    const [{ n }] = await sql.unsafe<{ n: number }[]>(
      `select count(*)::int as n from public.${table}`,
    );
    counts[table] = n;
  }
  return counts;
}

// --- the payments --------------------------------------------------------------------------------

interface Payment {
  id: string;
  orderId: string;
  notification: ReturnType<typeof signed>;
  atMidtrans: boolean;
  ok: boolean;
  latencies: number[];
  answers: string[];
}

let poolRound = 0;

/**
 * POOL pending bookings after every loaded one, each with a fresh signed settlement: the ones the
 * previous migration's callers did not reach, and new ones for the rest.
 */
async function pendingPayments(): Promise<Payment[]> {
  poolRound++;
  const left = await sql<{ id: string; order_id: string }[]>`
    select id, order_id from public.bookings
    where order_id like 'pay-%' and payment_status = 'pending' limit ${POOL}`;
  const added = await withCheapTimeZoneCheck(() =>
    sql<{ id: string; order_id: string }[]>`
    insert into public.bookings (order_id, starts_at, ends_at, amount)
    select 'pay-' || ${poolRound}::int || '-' || k, s, s + interval '1 hour', ${AMOUNT}::numeric
    from generate_series(0, ${POOL - left.length - 1}::int) as k,
      lateral (select date_trunc('hour', now())
        + (${hours}::int + (${poolRound}::int * ${POOL}::int + k) / ${LINKS}) * interval '1 hour' as s) t
    returning id, order_id`
  );
  const rows = [...left, ...added];
  return rows.map((r, i) => ({
    id: r.id,
    orderId: r.order_id,
    notification: signed(settlement(r.order_id, {
      transaction_id: `rehearsal-${poolRound}-${i}-${crypto.randomUUID()}`,
      gross_amount: AMOUNT,
    })),
    atMidtrans: false,
    ok: false,
    latencies: [],
    answers: [],
  }));
}

type PaymentPath = MigrationRun["paymentPath"];

/** The payment path the schema before the migration has: the webhook needs today's function. */
async function paymentPath(): Promise<PaymentPath> {
  const [{ two, one }] = await sql<{ two: boolean; one: boolean }[]>`
    select exists (select from pg_catalog.pg_proc
             where proname = 'record_midtrans_notification' and pronargs = 2) as two,
           exists (select from pg_catalog.pg_proc
             where proname = 'record_midtrans_notification' and pronargs = 1) as one`;
  return two
    ? "webhook"
    : one
    ? "sql: record_midtrans_notification(jsonb)"
    : "sql: update";
}

let path: PaymentPath = "sql: update";

/** One delivery; its wait is the request's whole time (a 503 is retried later, as Midtrans does). */
async function pay(p: Payment): Promise<void> {
  if (path === "webhook" && !p.atMidtrans) {
    // Midtrans's side: what its Get Status API will confirm. Not timed.
    await putTransaction(p.orderId, statusFieldsOf(p.notification));
    p.atMidtrans = true;
  }
  const t0 = performance.now();
  let answer: string;
  try {
    if (path === "webhook") {
      const r = await postFunction("midtrans-webhook", p.notification);
      answer = r.status === 200 ? "200" : `${r.status} ${r.error}`;
    } else if (path === "sql: update") {
      await payer`update public.bookings set payment_status = 'paid' where id = ${p.id}`;
      answer = "200";
    } else {
      // As an object: the driver sends it as json (a string would arrive as a json string).
      await payer`select public.record_midtrans_notification(${
        payer.json(p.notification as postgres.JSONValue)
      })`;
      answer = "200";
    }
  } catch (error) {
    const code = (error as { code?: string }).code;
    answer = `error ${code ?? String(error).slice(0, 60)}`;
    // 42883: the migration replaced the one-argument function, and today's webhook can pay.
    if (code === "42883") path = await paymentPath();
  }
  p.latencies.push(performance.now() - t0);
  p.answers.push(answer);
  p.ok = answer === "200";
}

/** Payments while `name` is pushed; BASELINE: while a push with nothing to apply runs. */
async function rehearse(name: string): Promise<MigrationRun> {
  path = await paymentPath();
  const pathBefore = path;
  const payments = await pendingPayments();
  let next = 0;
  let stop = false;
  const worker = async () => {
    while (!stop && next < payments.length) await pay(payments[next++]);
  };
  console.error(`bench: ${name} (${pathBefore})...`);
  const workers = Array.from({ length: CALLERS }, worker);
  await sleep(MARGIN_MS);
  const pushed = await push(name === BASELINE ? [] : [name]);
  await sleep(MARGIN_MS);
  stop = true;
  await Promise.all(workers);
  const used = payments.slice(0, next);
  const notOk: Record<string, number> = {};
  for (const p of used) {
    for (const a of p.answers) if (a !== "200") notOk[a] = (notOk[a] ?? 0) + 1;
  }
  for (let round = 0; round < RETRY_ROUNDS; round++) {
    const retry = used.filter((p) => !p.ok);
    if (retry.length === 0) break;
    await sleep(1_000);
    await load(retry.length, CALLERS, (i) => pay(retry[i]));
  }
  const [{ paid }] = await sql<{ paid: number }[]>`
    select count(*)::int as paid from public.bookings
    where id = any(${
    used.map((p) => p.id)
  }::uuid[]) and payment_status = 'paid'`;
  const run: MigrationRun = {
    migration: name,
    paymentPath: pathBefore,
    seconds: Math.round(pushed.seconds * 100) / 100,
    attempts: pushed.attempts,
    cancelledAtCap: pushed.cancelledAtCap,
    gaveUp: pushed.gaveUp,
    payments: used.length,
    waitMs: summarize(used.flatMap((p) => p.latencies)),
    notOk,
    failed: used.length - paid,
    poolRanOut: next >= payments.length,
  };
  console.error(
    `bench: ${name}: ${run.seconds} s, longest wait ${run.waitMs.max} ms, ${run.failed} failed, ` +
      `not 200: ${JSON.stringify(run.notOk)}`,
  );
  return run;
}

// --- the run -------------------------------------------------------------------------------------

const uptimeBefore = loadavg();
const first = FROM ? files.findIndex((f) => f.startsWith(FROM)) : 1;
if (first < 1) {
  throw new Error(
    `BENCH_MIGRATIONS_FROM=${FROM}: no such migration after the first`,
  );
}
const runs: MigrationRun[] = [];
let continueFrom = "";
try {
  await push(files.slice(0, first), 3600);
  await fill();
  const rows = await rowCounts();
  const baseline = await rehearse(BASELINE);
  runs.push(baseline);
  const emptyPushSeconds = baseline.seconds;
  for (const [i, name] of files.slice(first).entries()) {
    const run = await rehearse(name);
    runs.push(run);
    if (run.cancelledAtCap || run.gaveUp) {
      continueFrom = files[first + i + 1] ?? "";
      break;
    }
    await fill();
  }
  const [{ version }] = await sql<{ version: string }[]>`select version()`;
  const segment = {
    from: files[first],
    emptyPushSeconds,
    loadSeconds,
    rows,
    uptimeBefore,
    uptimeAfter: loadavg(),
  };
  const all = await readResults();
  const earlier = CONTINUES ? all.migrations[String(SIZE)] : undefined;
  all.migrations[String(SIZE)] = {
    bookings: SIZE,
    postgres: version,
    segments: [...earlier?.segments ?? [], segment],
    migrations: [...earlier?.migrations ?? [], ...runs],
  };
  all.mode = quick ? "quick" : "full";
  if (RESULTS) {
    await Deno.writeTextFile(
      `${RESULTS}.tmp`,
      JSON.stringify(all, null, 2) + "\n",
    );
    await Deno.rename(`${RESULTS}.tmp`, RESULTS);
  }
  printTable(all.migrations);
  if (RESULTS) console.log(`\nwrote ${RESULTS}`);
  if (NEXT_FILE) {
    await Deno.writeTextFile(NEXT_FILE, continueFrom.replace(/_.*$/, ""));
  }
} finally {
  await payer.end({ timeout: 5 });
  await sql.end({ timeout: 5 });
  await Deno.remove(workdir, { recursive: true });
}

async function readResults(): Promise<
  { mode?: string; migrations: Record<string, SizeResult> }
> {
  try {
    return JSON.parse(await Deno.readTextFile(RESULTS!));
  } catch {
    return { migrations: {} };
  }
}

function printTable(sizes: Record<string, SizeResult>): void {
  const lines = [[
    "migration",
    "bookings",
    "push s",
    "longest payment wait ms",
    "p99 ms",
    "payments",
    "failed",
    "answers not 200 (retried)",
    "payments through",
  ]];
  for (const size of Object.values(sizes)) {
    for (const m of size.migrations) {
      lines.push([
        m.migration.replace(/\.sql$/, ""),
        size.bookings.toLocaleString("en"),
        `${m.seconds}${m.cancelledAtCap ? " (cancelled at cap)" : ""}${
          m.gaveUp ? ` (not applied: ${m.gaveUp} every time)` : ""
        }${m.attempts > 1 ? ` (${m.attempts} attempts)` : ""}`,
        String(m.waitMs.max),
        String(m.waitMs.p99),
        `${m.payments}${m.poolRanOut ? " (pool ran out)" : ""}`,
        String(m.failed),
        Object.entries(m.notOk).map(([k, v]) => `${v}x ${k}`).join(", ") || "0",
        m.paymentPath,
      ]);
    }
  }
  const widths = lines[0].map((_, i) =>
    Math.max(...lines.map((l) => (l[i] ?? "").length))
  );
  const out = lines.map((l) =>
    "| " + widths.map((w, i) => (l[i] ?? "").padEnd(w)).join(" | ") + " |"
  );
  out.splice(1, 0, "| " + widths.map((w) => "-".repeat(w)).join(" | ") + " |");
  console.log(
    `\n${quick ? "QUICK" : "FULL"} migration rehearsal, ${CALLERS} callers`,
  );
  for (const size of Object.values(sizes)) {
    for (const s of size.segments) {
      console.log(
        `${size.bookings.toLocaleString("en")} bookings, from ${s.from}: ` +
          `${size.postgres.split(" ").slice(0, 2).join(" ")}; rows ${
            JSON.stringify(s.rows)
          }; ` +
          `a push with nothing to apply ${s.emptyPushSeconds} s; load s ${
            JSON.stringify(s.loadSeconds)
          }; ${s.uptimeBefore} before, ${s.uptimeAfter} after`,
      );
    }
  }
  console.log(out.join("\n"));
}
