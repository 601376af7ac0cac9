// (9) The hot path, statement by statement: one settlement (record_midtrans_notification, as the
// webhook calls it) and one assignment (assign_meeting_link) on one connection, recorded by
// auto_explain (nested statements, analyze, triggers; sent to this session as notices), the
// median of each statement, trigger and foreign-key check over the rounds. Then the same two
// calls without auto_explain, alternating with `select 1` and with the reference they are held
// to: one constrained UPDATE giving a paid booking a link (guard trigger, exclusion constraint).
import postgres from "postgres";
import {
  addLinks,
  env,
  quick,
  ratio,
  resetData,
  type Sql,
  summarize,
} from "./support.ts";
import { statusFieldsOf } from "../tests/support/midtrans_sandbox.ts";
import { settlement, signed } from "../tests/support/webhook.ts";

const ROUNDS = quick ? 30 : 200;
const LINKS = 10;
const AMOUNT = "150000.00";

export interface HotPathStatement {
  call: "pay" | "assign";
  /** The statement, first line, whitespace folded. */
  statement: string;
  /** auto_explain's duration of the statement (its nested statements and triggers included). */
  ms: number;
  /** Triggers fired by the statement (foreign-key checks are RI_ConstraintTrigger_*). */
  triggers: { name: string; ms: number }[];
}

export interface HotPathResult {
  rounds: number;
  statements: HotPathStatement[];
  /**
   * Medians of the calls' server-side duration (auto_explain, no analyze), commit-time email
   * triggers included.
   */
  databaseMs: { pay: number; assign: number; total: number };
  /** Round trips on one connection, alternated, medians in ms. */
  oneCaller: {
    pay: number;
    assign: number;
    select1: number;
    constrainedUpdate: number;
    assignVsUpdate: number | null;
    /** The same two, server-side (auto_explain duration) medians. */
    serverAssign: number;
    serverUpdate: number;
    serverAssignVsUpdate: number | null;
  };
}

/** Pending bookings with a customer address (so settlement queues emails), one hour each. */
async function bookings(
  sql: Sql,
  prefix: string,
  status: string,
  year: number,
) {
  const rows = await sql<{ id: string; order_id: string }[]>`
    insert into public.bookings (order_id, starts_at, ends_at, amount, payment_status,
      customer_email)
    select ${prefix} || '-' || i, s, s + interval '1 hour', ${AMOUNT}::numeric, ${status},
      'customer' || i || '@example.com'
    from generate_series(0, ${ROUNDS - 1}::int) as i,
      lateral (select make_timestamptz(${year}, 1, 1, 0, 0, 0, 'UTC') + i * interval '1 hour' as s) t
    returning id, order_id`;
  return rows;
}

type Plan = {
  "Query Text": string;
  Triggers?: { "Trigger Name": string; Time: number }[];
};

/** One auto_explain notice (log_format json): its duration and plan. */
function parseNotice(message: string): { ms: number; plan: Plan } | null {
  const match = /^duration: ([\d.]+) ms\s+plan:\s*([\s\S]*)$/.exec(message);
  if (!match) return null;
  return { ms: Number(match[1]), plan: JSON.parse(match[2]) as Plan };
}

const median = (values: number[]) => summarize(values).p50;

const oneLine = (text: string) =>
  text.replace(/--[^\n]*/g, " ").replace(/\s+/g, " ").trim().slice(0, 110);

export async function hotPath(sql: Sql): Promise<HotPathResult> {
  let notices: string[] = [];
  const one = postgres(env.dbUrl, {
    max: 1,
    prepare: false,
    onnotice: (notice) => notices.push(String(notice.message)),
    connection: { application_name: "bench" },
  });
  try {
    await resetData(sql);
    const links = await addLinks(sql, LINKS);
    const pending = await bookings(sql, "hot-pay", "pending", 2033);
    const paid = await bookings(sql, "hot-assign", "paid", 2034);
    const reference = await bookings(sql, "hot-update", "paid", 2035);
    // Pass 3 pays orders of its own.
    const pending3 = await bookings(sql, "hot-pay3", "pending", 2036);
    const notifications = [...pending, ...pending3].map((b, i) =>
      signed(settlement(b.order_id, {
        transaction_id: `hot-${i}-${crypto.randomUUID()}`,
        gross_amount: AMOUNT,
      }))
    );
    const pay = (i: number, on: postgres.Sql | postgres.TransactionSql = one) =>
      on`select * from public.record_midtrans_notification(
        ${on.json(notifications[i] as postgres.JSONValue)},
        ${on.json(statusFieldsOf(notifications[i]) as postgres.JSONValue)})`;
    const assign = (
      id: string,
      on: postgres.Sql | postgres.TransactionSql = one,
    ) =>
      on`select booking_id, meeting_link_id, meeting_link, outcome
          from public.assign_meeting_link(${id})`;

    await one`load 'auto_explain'`;
    await one`set auto_explain.log_level = notice`;
    await one`set auto_explain.log_format = json`;
    await one`set auto_explain.log_min_duration = 0`;

    // Pass 1: every statement, trigger and check, with analyze (which adds its own overhead).
    await one`set auto_explain.log_analyze = on`;
    await one`set auto_explain.log_triggers = on`;
    await one`set auto_explain.log_nested_statements = on`;
    const samples = new Map<
      string,
      HotPathStatement & { all: number[]; trig: Map<string, number[]> }
    >();
    const half = Math.floor(ROUNDS / 2);
    for (let i = 0; i < half; i++) {
      for (const call of ["pay", "assign"] as const) {
        notices = [];
        if (call === "pay") await pay(i);
        else await assign(pending[i].id);
        const seen = new Map<string, number>();
        for (const message of notices) {
          const parsed = parseNotice(message);
          if (!parsed) continue;
          const statement = oneLine(parsed.plan["Query Text"]);
          const n = (seen.get(statement) ?? 0) + 1;
          seen.set(statement, n);
          const key = `${call}|${statement}|${n}`;
          let entry = samples.get(key);
          if (!entry) {
            entry = {
              call,
              statement,
              ms: 0,
              triggers: [],
              all: [],
              trig: new Map(),
            };
            samples.set(key, entry);
          }
          entry.all.push(parsed.ms);
          for (const t of parsed.plan.Triggers ?? []) {
            const times = entry.trig.get(t["Trigger Name"]) ?? [];
            times.push(t.Time);
            entry.trig.set(t["Trigger Name"], times);
          }
        }
      }
    }
    // The first rounds plan every PL/pgSQL statement; the medians are of the rounds after.
    const statements: HotPathStatement[] = [...samples.values()].map((e) => ({
      call: e.call,
      statement: e.statement,
      ms: median(e.all),
      triggers: [...e.trig].map(([name, times]) => ({
        name,
        ms: median(times),
      })),
    }));

    // Pass 2: the top-level calls' own duration, no analyze, no nested statements; the email
    // triggers (deferred to commit) fire at the statement's end, so the duration includes them.
    await one`set auto_explain.log_analyze = off`;
    await one`set auto_explain.log_nested_statements = off`;
    const payMs: number[] = [];
    const assignMs: number[] = [];
    for (let i = half; i < ROUNDS; i++) {
      for (const call of ["pay", "assign"] as const) {
        notices = [];
        await one.begin(async (tx) => {
          await tx`set constraints all immediate`;
          if (call === "pay") await pay(i, tx);
          else await assign(pending[i].id, tx);
        });
        // The top-level call ends last.
        const ms = notices.map(parseNotice).filter(Boolean).at(-1)?.ms;
        if (ms !== undefined) (call === "pay" ? payMs : assignMs).push(ms);
      }
    }
    // Pass 3: round trips, alternated: a settlement, `select 1`, the reference UPDATE (a paid
    // booking gets links[i % LINKS] in an hour no other booking holds it) and an assignment. Each
    // also with its server-side duration (auto_explain, no analyze; commit-time email triggers
    // not included, the same invite for both the UPDATE and the assignment).
    const trips = {
      pay: [] as number[],
      assign: [] as number[],
      select1: [] as number[],
      update: [] as number[],
    };
    const server = { assign: [] as number[], update: [] as number[] };
    const timed = async (
      into: number[],
      run: () => Promise<unknown>,
      serverInto?: number[],
    ) => {
      notices = [];
      const t0 = performance.now();
      await run();
      into.push(performance.now() - t0);
      const ms = notices.map(parseNotice).filter(Boolean).at(-1)?.ms;
      if (serverInto && ms !== undefined) serverInto.push(ms);
    };
    for (let i = 0; i < ROUNDS; i++) {
      await timed(trips.pay, () => pay(ROUNDS + i));
      await timed(trips.select1, () => one`select 1`);
      await timed(
        trips.update,
        () =>
          one`update public.bookings set meeting_link_id = ${links[i % LINKS]}
              where id = ${reference[i].id}`,
        server.update,
      );
      await timed(trips.assign, () => assign(paid[i].id), server.assign);
    }
    await one`set auto_explain.log_min_duration = -1`;
    const oneCaller = {
      pay: median(trips.pay),
      assign: median(trips.assign),
      select1: median(trips.select1),
      constrainedUpdate: median(trips.update),
      assignVsUpdate: ratio(median(trips.assign), median(trips.update)),
      serverAssign: median(server.assign),
      serverUpdate: median(server.update),
      serverAssignVsUpdate: ratio(median(server.assign), median(server.update)),
    };
    const pay50 = median(payMs);
    const assign50 = median(assignMs);
    return {
      rounds: ROUNDS,
      statements,
      databaseMs: {
        pay: pay50,
        assign: assign50,
        total: Math.round((pay50 + assign50) * 1000) / 1000,
      },
      oneCaller,
    };
  } finally {
    await one.end({ timeout: 5 });
  }
}

/** The per-statement table, markdown. */
export function hotPathTable(r: HotPathResult): string {
  const lines = [
    "| call | statement (trigger) | ms, median |",
    "| --- | --- | --- |",
  ];
  for (const s of r.statements) {
    lines.push(
      `| ${s.call} | \`${s.statement.replaceAll("|", "\\|")}\` | ${s.ms} |`,
    );
    for (const t of s.triggers) {
      lines.push(`| ${s.call} | trigger ${t.name} | ${t.ms} |`);
    }
  }
  return lines.join("\n");
}
