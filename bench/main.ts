// Runs the benchmarks against the stack bench/run started, prints a table and writes
// bench/results/<name>.json (figures, machine, versions). Exits non-zero when a correctness
// check fails (a double-booked link, a lost notification, a caller error).
import denoJson from "../deno.json" with { type: "json" };
import {
  contentionHttp,
  contentionReference,
  type ContentionResult,
  contentionSql,
  withDefaultDurability,
} from "./contention.ts";
import { guardCost, type GuardCostResult } from "./guard.ts";
import { hotPath, type HotPathResult, hotPathTable } from "./hot_path.ts";
import { availabilityCost, holdContention, holdPlacement } from "./holds.ts";
import { emails, type EmailsResult } from "./emails.ts";
import { majorOf, previousFigures } from "./figures.ts";
import { messages, type MessagesResult } from "./messages.ts";
import { placement, type PlacementResult } from "./placement.ts";
import { scaling, type ScalingResult } from "./scaling.ts";
import { connect, env, quick, ratio } from "./support.ts";
import { throughput, type ThroughputResult } from "./throughput.ts";
import { webhook, type WebhookResult } from "./webhook.ts";

const ALL = [
  "contention",
  "throughput",
  "scaling",
  "baseline",
  "webhook",
  "placement",
  "guard",
  "emails",
  "hot_path",
  "messages",
  "holds",
  "availability",
] as const;
type Name = typeof ALL[number];
const only = (Deno.env.get("BENCH_ONLY") ?? "").split(",").filter(Boolean);
for (const name of only) {
  if (!(ALL as readonly string[]).includes(name)) {
    throw new Error(`unknown benchmark ${name}; benchmarks: ${ALL.join(" ")}`);
  }
}
const wanted = (name: Name) => only.length === 0 || only.includes(name);
const resultsPath = Deno.env.get("BENCH_RESULTS");

const sql = connect(2);
const started = new Date();
const uptimeBefore = uptime();
const results: {
  contention?: {
    http: ContentionResult;
    sql: ContentionResult;
    /** The same, with PostgreSQL's default durability settings. */
    durable: { http: ContentionResult; sql: ContentionResult };
  };
  throughput?: ThroughputResult;
  scaling?: ScalingResult;
  baseline?: { reference: ContentionResult; ours: ContentionResult };
  webhook?: WebhookResult;
  placement?: PlacementResult;
  guard?: GuardCostResult;
  emails?: EmailsResult;
  hot_path?: HotPathResult;
  messages?: MessagesResult;
  holds?: {
    placement: Awaited<ReturnType<typeof holdPlacement>>;
    contention: Awaited<ReturnType<typeof holdContention>>;
  };
  availability?: Awaited<ReturnType<typeof availabilityCost>>;
} = {};
const seconds: Record<string, number> = {};
const failures: string[] = [];

/** CPU ms by process, one line: the processes that spent any. */
function cpu(spent: Record<string, number>): string {
  return Object.entries(spent).filter(([, ms]) => ms > 0).map(([kind, ms]) =>
    `${kind} ${ms}`
  ).join(", ");
}

/** What `uptime` shows about load: the 1, 5 and 15 minute load averages. */
function uptime(): string {
  return `load average: ${Deno.loadavg().map((l) => l.toFixed(2)).join(", ")}`;
}

/**
 * A fingerprint of the schema every benchmark measures: public's own functions (definitions and
 * grants), indexes and triggers. A benchmark that changes the schema must put it back, or every
 * later one measures something else (guard once put back the claim path of November 26).
 */
async function schemaFingerprint(): Promise<string> {
  const [{ fingerprint }] = await sql<{ fingerprint: string }[]>`
    select md5(string_agg(item, '|' order by item)) as fingerprint from (
      select pg_catalog.pg_get_functiondef(p.oid) || coalesce(p.proacl::text, '') as item
      from pg_catalog.pg_proc p
      where p.pronamespace = 'public'::regnamespace and p.prokind in ('f', 'p')
        and not exists (select 1 from pg_catalog.pg_depend d
          where d.classid = 'pg_proc'::regclass and d.objid = p.oid and d.deptype = 'e')
      union all
      select pg_catalog.pg_get_indexdef(c.oid) from pg_catalog.pg_class c
      where c.relnamespace = 'public'::regnamespace and c.relkind = 'i'
      union all
      select t.tgrelid::regclass::text || ' ' || t.tgname || ' ' || t.tgenabled::text
      from pg_catalog.pg_trigger t join pg_catalog.pg_class c on c.oid = t.tgrelid
      where c.relnamespace = 'public'::regnamespace and not t.tgisinternal
    ) items`;
  return fingerprint;
}

async function timed<T>(name: Name, run: () => Promise<T>): Promise<T> {
  console.error(`bench: ${name}...`);
  const schema = await schemaFingerprint();
  const t0 = performance.now();
  const result = await run();
  seconds[name] = Math.round((performance.now() - t0) / 100) / 10;
  console.error(`bench: ${name} took ${seconds[name]} s`);
  if (await schemaFingerprint() !== schema) {
    failures.push(
      `${name}: left the schema changed; later benchmarks measured it`,
    );
  }
  return result;
}

try {
  if (wanted("contention")) {
    results.contention = await timed("contention", async () => ({
      http: await contentionHttp(sql),
      sql: await contentionSql(sql),
      durable: await withDefaultDurability(sql, async () => ({
        http: await contentionHttp(sql),
        sql: await contentionSql(sql),
      })),
    }));
  }
  if (wanted("throughput")) {
    results.throughput = await timed("throughput", () => throughput(sql));
  }
  if (wanted("scaling")) {
    results.scaling = await timed("scaling", () => scaling(sql));
  }
  if (wanted("baseline")) {
    results.baseline = await timed("baseline", async () => ({
      reference: await contentionReference(sql),
      ours: results.contention?.sql ?? await contentionSql(sql),
    }));
  }
  if (wanted("webhook")) {
    results.webhook = await timed("webhook", () => webhook(sql));
  }
  if (wanted("placement")) {
    results.placement = await timed("placement", () => placement(sql));
  }
  if (wanted("guard")) {
    results.guard = await timed("guard", () => guardCost(sql));
  }
  if (wanted("emails")) {
    results.emails = await timed("emails", () => emails(sql));
  }
  if (wanted("hot_path")) {
    results.hot_path = await timed("hot_path", () => hotPath(sql));
  }
  if (wanted("messages")) {
    results.messages = await timed("messages", () => messages(sql));
  }
  if (wanted("holds")) {
    results.holds = await timed("holds", async () => ({
      placement: await holdPlacement(sql),
      contention: await holdContention(sql),
    }));
  }
  if (wanted("availability")) {
    results.availability = await timed(
      "availability",
      () => availabilityCost(sql),
    );
  }
  const [{ version }] = await sql<{ version: string }[]>`select version()`;
  const memory = Deno.systemMemoryInfo();
  const report = {
    mode: quick ? "quick" : "full",
    startedAt: started.toISOString(),
    seconds,
    machine: {
      cores: navigator.hardwareConcurrency,
      memoryGiB: Math.round(memory.total / 2 ** 30 * 10) / 10,
      uptimeBefore,
      uptimeAfter: uptime(),
    },
    versions: {
      postgres: version,
      deno: Deno.version.deno,
      supabaseCli: Deno.env.get("SUPABASE_CLI_VERSION") ?? null,
      postgresDriver: denoJson.imports.postgres,
    },
    results,
  };
  checkCorrectness();
  printTable(report.machine, report.versions);
  if (resultsPath) {
    await Deno.writeTextFile(
      `${resultsPath}.tmp`,
      JSON.stringify({ ...report, failures }, null, 2) + "\n",
    );
    await Deno.rename(`${resultsPath}.tmp`, resultsPath);
    console.log(`\nwrote ${resultsPath}`);
    console.log(
      await previousFigures({
        path: resultsPath,
        mode: report.mode,
        startedAt: report.startedAt,
        major: majorOf(version),
        versions: report.versions,
        results,
      }, resultsPath.slice(0, resultsPath.lastIndexOf("/"))),
    );
  }
} finally {
  await sql.end({ timeout: 5 });
}
if (failures.length > 0) {
  console.error(`\nCORRECTNESS CHECK FAILED:\n  ${failures.join("\n  ")}`);
  Deno.exit(1);
}

function checkCorrectness(): void {
  const m = results.messages;
  for (
    const [channel, d] of m
      ? Object.entries({ emails: m.emails, whatsapp: m.whatsapp })
      : []
  ) {
    if (d.lost !== 0 || d.duplicates !== 0) {
      failures.push(
        `messages: ${channel}: ${d.lost} lost, ${d.duplicates} duplicates`,
      );
    }
  }
  const e = results.emails;
  if (
    e && (e.lost !== 0 || e.duplicates !== 0 || e.invites !== e.settlements)
  ) {
    failures.push(
      `emails: ${e.lost} lost, ${e.duplicates} duplicates, ${e.invites} invites of ${e.settlements}`,
    );
  }
  const ours = [
    results.contention?.http,
    results.contention?.sql,
    results.contention?.durable.http,
    results.contention?.durable.sql,
  ];
  for (const run of ours) {
    if (!run) continue;
    if (run.overlappingPairs !== 0) {
      failures.push(`${run.what}: ${run.overlappingPairs} overlapping pairs`);
    }
    if (run.errors !== 0) failures.push(`${run.what}: ${run.errors} errors`);
    if (run.assignedPerRound.some((n) => n !== 10)) {
      failures.push(`${run.what}: assigned per round ${run.assignedPerRound}`);
    }
  }
  const h = results.holds;
  if (h) {
    if (h.placement.paidWithoutLink !== 0) {
      failures.push(
        `holds: ${h.placement.paidWithoutLink} paid bookings without a link`,
      );
    }
    if (!h.contention.exactlyPoolSizeHeld) {
      failures.push(
        `holds: contention rounds ${JSON.stringify(h.contention.rounds)}`,
      );
    }
  }
  const t = results.throughput;
  if (t && t.overlappingPairs !== 0) {
    failures.push(`throughput: ${t.overlappingPairs} overlapping pairs`);
  }
  const w = results.webhook;
  if (w) {
    if (w.overlappingPairs !== 0) {
      failures.push(`webhook: ${w.overlappingPairs} overlapping pairs`);
    }
    if (
      w.lostNotifications !== 0 || w.storedNotifications !== w.notifications
    ) {
      failures.push(
        `webhook: ${w.storedNotifications} stored, ${w.paidBookings} paid of ${w.notifications}`,
      );
    }
  }
}

function printTable(
  machine: { cores: number; memoryGiB: number; uptimeBefore: string },
  versions: Record<string, string | null>,
): void {
  const lines: string[][] = [];
  const row = (...cells: (string | number | null | undefined)[]) =>
    lines.push(
      [0, 1, 2, 3].map((i) =>
        cells[i] === null || cells[i] === undefined ? "" : String(cells[i])
      ),
    );
  const lat = (l: { p50: number; p95: number; p99: number }) =>
    `${l.p50} / ${l.p95} / ${l.p99}`;
  const x = (r: number | null | undefined) =>
    r === null || r === undefined ? "-" : `${r}x`;
  row("benchmark", "figure", "value", "ratio / check");
  const c = results.contention;
  if (c) {
    const runs = [
      ["contention HTTP", c.http],
      ["contention SQL", c.sql],
      ["contention HTTP, default durability", c.durable.http],
      ["contention SQL, default durability", c.durable.sql],
    ] as const;
    for (const [label, run] of runs) {
      row(label, "requests/s (200 bookings, 32 callers)", run.perSecond);
      row(label, "latency p50/p95/p99 ms", lat(run.latencyMs));
      row(
        label,
        "assigned per round; overlapping pairs; errors",
        `${
          run.assignedPerRound.join(",")
        }; ${run.overlappingPairs}; ${run.errors}`,
        run.overlappingPairs === 0 && run.errors === 0 &&
          run.assignedPerRound.every((n) => n === 10)
          ? "ok"
          : "FAILED",
      );
    }
  }
  const g = results.guard;
  if (g) {
    const runs = (side: "before" | "after", key: "httpAssign" | "sqlAssign") =>
      g[side].map((r) => r[key].latencyMs.p50).join(", ");
    row(
      "guard cost, HTTP",
      "assign p50 ms, median before / after the guard",
      `${g.p50.httpBefore} / ${g.p50.httpAfter}`,
      `${g.httpAssignP50}x (bar: 1.10x)`,
    );
    row(
      "guard cost, HTTP",
      "runs before; after",
      `${runs("before", "httpAssign")}; ${runs("after", "httpAssign")}`,
    );
    row(
      "guard cost, SQL",
      "assign p50 ms, median before / after the guard",
      `${g.p50.sqlBefore} / ${g.p50.sqlAfter}`,
      `${g.sqlAssignP50}x (bar: 1.10x)`,
    );
    row(
      "guard cost, SQL",
      "runs before; after",
      `${runs("before", "sqlAssign")}; ${runs("after", "sqlAssign")}`,
    );
  }
  const t = results.throughput;
  if (t) {
    const n = `${t.bookings} bookings, ${t.callers} callers`;
    row(
      "throughput HTTP",
      `assign req/s (${n})`,
      t.httpAssign.perSecond,
      `${x(t.ratios.httpPerSecondVsNoop)} of no-op`,
    );
    row(
      "throughput HTTP",
      "assign p50/p95/p99 ms",
      lat(t.httpAssign.latencyMs),
      `p50 ${x(t.ratios.httpP50VsNoop)} no-op (bar 2x)`,
    );
    row(
      "throughput HTTP",
      "no-op GET /_local/health req/s",
      t.httpNoop.perSecond,
      "floor",
    );
    row(
      "throughput HTTP",
      "no-op p50/p95/p99 ms",
      lat(t.httpNoop.latencyMs),
      "floor",
    );
    row(
      "throughput HTTP",
      "1 caller: assign p50 / no-op p50 ms",
      `${t.httpAssignOneCaller.latencyMs.p50} / ${t.httpNoopOneCaller.latencyMs.p50}`,
      x(t.ratios.httpOneCallerP50VsNoop),
    );
    row(
      "throughput SQL",
      "assign_meeting_link calls/s",
      t.sqlAssign.perSecond,
      `${x(t.ratios.sqlPerSecondVsSelect1)} of select 1`,
    );
    row(
      "throughput SQL",
      "assign p50/p95/p99 ms",
      lat(t.sqlAssign.latencyMs),
      `p50 ${x(t.ratios.sqlP50VsSelect1)} select 1`,
    );
    row(
      "throughput SQL",
      "1 caller: assign p50 / select 1 p50 ms",
      `${t.sqlAssignOneCaller.latencyMs.p50} / ${t.sqlSelect1OneCaller.latencyMs.p50}`,
      x(ratio(
        t.sqlAssignOneCaller.latencyMs.p50,
        t.sqlSelect1OneCaller.latencyMs.p50,
      )),
    );
    row("throughput SQL", "select 1 calls/s", t.sqlSelect1.perSecond, "floor");
    row(
      "throughput SQL",
      "select 1 p50/p95/p99 ms",
      lat(t.sqlSelect1.latencyMs),
      "floor",
    );
    row(
      "throughput",
      "outcomes HTTP; SQL; overlapping pairs",
      `${JSON.stringify(t.httpAssign.outcomes)}; ${
        JSON.stringify(t.sqlAssign.outcomes)
      }; ${t.overlappingPairs}`,
    );
  }
  const s = results.scaling;
  if (s) {
    for (const p of s.points) {
      row(
        "scaling",
        `one assignment, ${
          p.existing.toLocaleString("en")
        } existing: p50/p95/p99 ms`,
        lat(p.latencyMs),
        `load ${p.loadSeconds} s, vacuum ${p.vacuumSeconds} s; passes' p50 ${
          Math.min(...p.passP50Ms)
        }-${Math.max(...p.passP50Ms)}; control ${p.controlMs} ms`,
      );
      row(
        "scaling",
        "  pages per assignment (pay + assign), by relation",
        Object.entries(p.pagesPerProbe ?? {}).slice(0, 7).map(([name, pages]) =>
          `${name} ${pages}`
        ).join(", "),
        `pass ${
          p.pagesPass ?? "1, beside other work"
        }; ${p.passesBesideOtherWork} of ${p.passP50Ms.length} passes beside other work`,
      );
    }
    const last = s.points.at(-1)!;
    row(
      "scaling",
      `p50 ratio ${last.existing.toLocaleString("en")} / ${
        s.points[0].existing.toLocaleString("en")
      }`,
      x(s.ratioLargestToSmallest),
      "bar 1.2x",
    );
    row(
      "scaling",
      "  the same, each p50 over its size's control",
      x(s.ratioLargestToSmallestPerControl),
      "the machine's speed taken out",
    );
    row(
      "scaling",
      "candidate probe uses bookings_link_starts_at_idx, not GiST",
      s.plan.usesBtreeIndex && !s.plan.readsGistIndex ? "yes" : "NO",
      `${s.plan.seqScansOnBookings} seq scans on bookings; JIT ${
        s.plan.jit ? "on" : "off"
      }`,
    );
    for (const scan of s.plan.candidateProbeScans) row("", "  plan", scan);
  }
  const b = results.baseline;
  if (b) {
    for (const run of [b.reference, b.ours]) {
      const label = run === b.reference
        ? "BASELINE reference"
        : "ours (same case)";
      row(
        label,
        "requests/s; p50/p95/p99 ms",
        `${run.perSecond}; ${lat(run.latencyMs)}`,
        run === b.reference
          ? `${
            x(ratio(b.ours.perSecond, b.reference.perSecond))
          } ours/baseline req/s`
          : "",
      );
      row(
        label,
        "assigned per round; overlapping pairs",
        `${run.assignedPerRound.join(",")}; ${run.overlappingPairs}`,
        run.overlappingPairs > 0 ? "double-bookings" : "none",
      );
    }
  }
  const h = results.holds;
  if (h) {
    const p = h.placement;
    row(
      "holds placement",
      "refused at checkout / offline optimum stranded",
      x(p.refusedVsOptimum),
      `today stranded ${
        x(p.strandedTodayVsOptimum)
      }; paid without link ${p.paidWithoutLink}`,
    );
    for (const r of p.rows) {
      row(
        "",
        `  ${r.links} links, ${r.bookings} bookings`,
        `refused ${r.refused}`,
        `optimum ${r.optimum}, today stranded ${r.stranded}`,
      );
    }
    const c = h.contention;
    row(
      "holds contention HTTP",
      "req/s (200 holds, pool 10, 32 callers)",
      c.perSecond,
    );
    row(
      "holds contention HTTP",
      "latency p50/p95/p99 ms",
      lat(c.latencyMs),
      c.exactlyPoolSizeHeld ? "exactly 10 held" : "FAILED",
    );
  }
  const a = results.availability;
  if (a) {
    for (const p of a.points) {
      row(
        "availability",
        `${a.slots} slots, ${a.links} links, ${
          p.existing.toLocaleString("en")
        } bookings: db ms p50/p95/p99`,
        lat(p.databaseMs),
        `call p50 ${p.callMs.p50} ms`,
      );
    }
  }
  const w = results.webhook;
  if (w) {
    row(
      "webhook",
      `${w.notifications} notifications, ${w.callers} callers: req/s`,
      w.perSecond,
    );
    row("webhook", "response p50/p95/p99 ms", lat(w.responseMs));
    row(
      "webhook",
      `1 caller (${w.oneCaller.responseMs.count} settlements): response p50/p95/p99 ms`,
      lat(w.oneCaller.responseMs),
      "bar p50 3 ms",
    );
    const partsRow = (what: string, parts?: typeof w.oneCaller.partsMs) =>
      parts && row(
        "webhook",
        `${what}, p50 by part (Server-Timing), ms`,
        `status call ${parts.statusCall}, database ${parts.database}, rest of the handler ${parts.restOfHandler}, outside it ${parts.outsideHandler}`,
      );
    partsRow("1 caller", w.oneCaller.partsMs);
    if (w.oneCaller.settledResponseMs) {
      row(
        "webhook",
        "1 caller, each once the last one's background assign is done: p50/p95/p99 ms",
        lat(w.oneCaller.settledResponseMs),
      );
      partsRow("1 caller, settled between calls", w.oneCaller.settledPartsMs);
    }
    row(
      "webhook",
      "1 caller: the status call alone (stand-in) p50/p95/p99 ms",
      lat(w.oneCaller.statusCallMs),
    );
    row(
      "webhook",
      "Midtrans status call alone (stand-in) p50/p95/p99 ms",
      lat(w.statusCallMs),
    );
    row(
      "webhook",
      "seconds until every booking linked or flagged",
      w.allLinkedSeconds,
      `${w.linked} linked, ${w.flagged} flagged`,
    );
    row(
      "webhook",
      "stored / paid / lost; overlapping pairs",
      `${w.storedNotifications} / ${w.paidBookings} / ${w.lostNotifications}; ${w.overlappingPairs}`,
      w.lostNotifications === 0 && w.overlappingPairs === 0 ? "ok" : "FAILED",
    );
    if (w.cpuMsPerSettlement) {
      row(
        "webhook",
        "CPU ms per settlement, by process",
        cpu(w.cpuMsPerSettlement),
      );
    }
    row(
      "webhook",
      "functions server peak RSS MiB (webhook; whole run before)",
      `${w.serverPeakRssMiB.duringWebhook}; ${w.serverPeakRssMiB.wholeRunBefore}`,
    );
  }
  const pl = results.placement;
  if (pl) {
    for (const r of pl.rows) {
      row(
        "placement",
        `${r.links} links, ${r.bookings} bookings: stranded optimum / first-fit / shipped`,
        `${r.optimum} / ${r.firstFit} / ${r.shipped}`,
        `ff ${x(r.firstFitVsOptimum)}, shipped ${x(r.shippedVsOptimum)}`,
      );
    }
    const sum = (f: (r: PlacementResult["rows"][number]) => number) =>
      pl.rows.reduce((a, r) => a + f(r), 0);
    row(
      "placement",
      "all sizes: stranded optimum / first-fit / shipped",
      `${sum((r) => r.optimum)} / ${sum((r) => r.firstFit)} / ${
        sum((r) => r.shipped)
      }`,
      `ff ${x(ratio(sum((r) => r.firstFit), sum((r) => r.optimum)))}, shipped ${
        x(ratio(sum((r) => r.shipped), sum((r) => r.optimum)))
      }`,
    );
    row(
      "placement",
      "shipped never worse than first-fit; better on",
      `${pl.shippedNeverWorse}; ${pl.shippedBetterOn} of ${pl.rows.length} sizes`,
    );
  }
  const e = results.emails;
  if (e) {
    row(
      "emails",
      `${e.settlements} settlements, ${e.callers} callers: seconds until the last invite is in MailDev`,
      e.lastInviteSeconds,
      `every booking linked after ${e.allLinkedSeconds} s; webhook ${e.webhookPerSecond} req/s`,
    );
    row(
      "emails",
      "notification-to-inbox p50/p95/p99 ms",
      lat(e.notificationToInboxMs),
    );
    row("emails", "messages/s into the inbox", e.messagesPerSecond);
    row(
      "emails",
      "received / invites / lost / duplicates",
      `${e.received} / ${e.invites} / ${e.lost} / ${e.duplicates}`,
      e.lost === 0 && e.duplicates === 0 && e.invites === e.settlements
        ? "ok"
        : "FAILED",
    );
    row("emails", "attempts per invite (count)", JSON.stringify(e.attempts));
    if (e.cpuMsPerSettlement) {
      row(
        "emails",
        "CPU ms per settlement, by process",
        cpu(e.cpuMsPerSettlement),
      );
    }
    if (e.mailDevAlone) {
      row(
        "emails",
        "MailDev alone: the same invites over SMTP, 5 connections: msg/s",
        e.mailDevAlone.perSecond,
        `CPU ms per message: ${cpu(e.mailDevAlone.cpuMsPerMessage)}`,
      );
    }
  }
  const hp = results.hot_path;
  if (hp) {
    row(
      "hot path",
      "database ms: pay + assign (auto_explain duration, medians)",
      `${hp.databaseMs.pay} + ${hp.databaseMs.assign} = ${hp.databaseMs.total}`,
      "budget 2 ms",
    );
    row(
      "hot path",
      "1 caller ms: pay / assign / select 1",
      `${hp.oneCaller.pay} / ${hp.oneCaller.assign} / ${hp.oneCaller.select1}`,
    );
    row(
      "hot path",
      "1 caller: assign p50 / constrained UPDATE p50 ms",
      `${hp.oneCaller.assign} / ${hp.oneCaller.constrainedUpdate}`,
      `${x(hp.oneCaller.assignVsUpdate)} (bar 1.5x)`,
    );
    row(
      "hot path",
      "server-side: assign / constrained UPDATE ms (medians)",
      `${hp.oneCaller.serverAssign} / ${hp.oneCaller.serverUpdate}`,
      x(hp.oneCaller.serverAssignVsUpdate),
    );
  }
  const m = results.messages;
  if (m) {
    row(
      "messages",
      `${m.settlements} settlements, email + WhatsApp: seconds until the last email / WhatsApp`,
      `${m.lastEmailSeconds} / ${m.lastWhatsAppSeconds}`,
      `${m.remindersQueued} reminders queued`,
    );
    row(
      "messages",
      "notification-to-inbox p50/p95/p99 ms",
      lat(m.notificationToInboxMs),
    );
    row(
      "messages",
      "notification-to-WhatsApp p50/p95/p99 ms",
      lat(m.notificationToWhatsAppMs),
    );
    row(
      "messages",
      "webhook req/s with contacts / without (ratio)",
      `${m.webhookPerSecond} / ${m.webhookPerSecondWithoutContacts}`,
      x(m.webhookRatio),
    );
    row(
      "messages",
      "lost / duplicates: email, WhatsApp",
      `${m.emails.lost} / ${m.emails.duplicates}, ${m.whatsapp.lost} / ${m.whatsapp.duplicates}`,
      m.emails.lost + m.emails.duplicates + m.whatsapp.lost +
            m.whatsapp.duplicates === 0
        ? "ok"
        : "FAILED",
    );
  }
  const widths = lines[0].map((_, i) =>
    Math.max(...lines.map((l) => l[i].length))
  );
  const out = lines.map((l) =>
    "| " + l.map((cell, i) => cell.padEnd(widths[i])).join(" | ") + " |"
  );
  out.splice(1, 0, "| " + widths.map((w) => "-".repeat(w)).join(" | ") + " |");
  console.log(
    `\n${
      quick ? "QUICK" : "FULL"
    } run; ${machine.cores} cores, ${machine.memoryGiB} GiB; load before: ${machine.uptimeBefore}`,
  );
  console.log(
    `PostgreSQL ${
      versions.postgres?.split(" ")[1]
    }, Deno ${versions.deno}, Supabase CLI ${versions.supabaseCli}, ${versions.postgresDriver}; API ${env.apiUrl}`,
  );
  console.log(out.join("\n"));
  console.log(`seconds per benchmark: ${JSON.stringify(seconds)}`);
  if (hp) {
    console.log(
      `\nhot path, statement by statement (${
        hp.rounds / 2
      } rounds, analyze on):\n${hotPathTable(hp)}`,
    );
  }
}
