// bench/compare's table: reads the runs' results files (listed in a manifest that bench/compare
// writes), matches figures by name across the two commits, prints per figure both medians with
// their min-max and the ratio of the medians, oriented so that below 1 means HEAD is worse, and
// writes it all to a JSON file.
import {
  betterRatio,
  type Figure,
  figuresOf,
  readResults,
  round,
  table,
} from "./figures.ts";

interface Run {
  side: "base" | "head";
  round: number;
  path: string;
  loadBefore: string;
  loadAfter: string;
}

const [manifestPath, outPath] = Deno.args;
/** "<sha> <subject>" */
const commit = (v: string | undefined) => {
  const [sha, ...subject] = (v ?? "").split(" ");
  return { commit: sha, subject: subject.join(" ") };
};
const meta = {
  base: commit(Deno.env.get("COMPARE_BASE")),
  head: commit(Deno.env.get("COMPARE_HEAD")),
  rounds: Number(Deno.env.get("COMPARE_ROUNDS")),
  only: Deno.env.get("COMPARE_ONLY"),
  mode: Deno.env.get("COMPARE_MODE"),
};
const runs: Run[] = (await Deno.readTextFile(manifestPath)).trim().split("\n")
  .map((line) => {
    const [side, r, path, loadBefore, loadAfter] = line.split("\t");
    return {
      side: side as Run["side"],
      round: Number(r),
      path,
      loadBefore,
      loadAfter,
    };
  });

const perRun = new Map<Run, Map<string, Figure>>();
const majors = new Set<string>();
const versions: Record<string, unknown> = {};
for (const run of runs) {
  const file = await readResults(run.path);
  if (!file) throw new Error(`${run.path} is not a bench/run results file`);
  majors.add(file.major);
  versions[run.side] ??= file.versions;
  perRun.set(run, new Map(figuresOf(file.results).map((f) => [f.name, f])));
}
if (majors.size > 1) {
  // An old commit runs on the major it knows, whatever PG_MAJOR says.
  console.error(
    `error: the runs used different PostgreSQL majors (${[...majors]}); ` +
      "set PG_MAJOR to the one BASE runs on",
  );
  Deno.exit(1);
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};
const sideRuns = (side: Run["side"]) =>
  runs.filter((r) => r.side === side).sort((a, b) => a.round - b.round);
const valuesOf = (side: Run["side"], name: string) =>
  sideRuns(side).map((r) => perRun.get(r)!.get(name)?.value).filter((
    v,
  ): v is number => v !== undefined);
const stats = (xs: number[]) => ({
  median: round(median(xs)),
  min: Math.min(...xs),
  max: Math.max(...xs),
  values: xs,
});

const names = (side: Run["side"]) => {
  const seen = new Map<string, Figure>();
  for (const r of sideRuns(side)) {
    for (const [n, f] of perRun.get(r)!) if (!seen.has(n)) seen.set(n, f);
  }
  return seen;
};
const baseNames = names("base");
const headNames = names("head");

const figures = [];
for (const [name, figure] of headNames) {
  if (!baseNames.has(name)) continue;
  const base = stats(valuesOf("base", name));
  const head = stats(valuesOf("head", name));
  // Per round: that round's HEAD run against its BASE run (they ran back to back).
  const pairs = sideRuns("head").map((h) => {
    const b = sideRuns("base").find((x) => x.round === h.round);
    const hv = perRun.get(h)!.get(name)?.value;
    const bv = b && perRun.get(b)!.get(name)?.value;
    return hv === undefined || bv === undefined
      ? null
      : betterRatio(figure.better, hv, bv);
  }).filter((r): r is number => r !== null);
  const ratio = betterRatio(figure.better, head.median, base.median);
  figures.push({
    name,
    better: figure.better,
    base,
    head,
    ratio: ratio === null ? null : round(ratio),
    roundRatioMin: pairs.length ? round(Math.min(...pairs)) : null,
    roundRatioMax: pairs.length ? round(Math.max(...pairs)) : null,
  });
}

const range = (s: { median: number; min: number; max: number }) =>
  `${s.median} (${s.min}-${s.max})`;
const rows = [[
  "figure",
  "better",
  "BASE median (min-max)",
  "HEAD median (min-max)",
  "ratio",
  "per round",
  "",
]];
for (const f of figures) {
  rows.push([
    f.name,
    f.better,
    range(f.base),
    range(f.head),
    f.ratio === null ? "-" : `${f.ratio}x`,
    f.roundRatioMin === null ? "-" : `${f.roundRatioMin}-${f.roundRatioMax}x`,
    f.ratio !== null && f.ratio < 0.9 ? "WORSE" : "",
  ]);
}
const onlyIn = (a: Map<string, Figure>, b: Map<string, Figure>) =>
  [...a.keys()].filter((n) => !b.has(n));
const report = {
  kind: "compare",
  ...meta,
  postgresMajor: [...majors][0],
  loadBefore: runs[0].loadBefore,
  loadAfter: runs.at(-1)!.loadAfter,
  versions,
  runs: runs.map(({ side, round, path, loadBefore, loadAfter }) => ({
    side,
    round,
    file: path.slice(path.lastIndexOf("/") + 1),
    loadBefore,
    loadAfter,
  })),
  figures,
  onlyInBase: onlyIn(baseNames, headNames),
  onlyInHead: onlyIn(headNames, baseNames),
};

console.log(
  `\nBASE ${meta.base.commit} (${meta.base.subject})\nHEAD ${meta.head.commit} (${meta.head.subject})`,
);
console.log(
  `PostgreSQL ${report.postgresMajor}; ${meta.rounds} rounds, alternating; ` +
    `load average before: ${report.loadBefore}; after: ${report.loadAfter}`,
);
console.log(
  "ratio = HEAD/BASE for a rate, BASE/HEAD for a time or a size: below 1 means HEAD is worse; " +
    "per round: the same ratio for each round's back-to-back pair. WORSE: below 0.9.",
);
console.log(table(rows));
if (report.onlyInBase.length) {
  console.log(`only in BASE: ${report.onlyInBase.join(", ")}`);
}
if (report.onlyInHead.length) {
  console.log(`only in HEAD: ${report.onlyInHead.join(", ")}`);
}
await Deno.writeTextFile(outPath, JSON.stringify(report, null, 2) + "\n");
console.log(`\nwrote ${outPath}`);
