// The figures of a results file, by name, each with the direction that is better: what
// bench/compare matches across two commits and bench/run compares with the previous run.
// Written against the results files of every commit since 896c919, so old ones compare too.

export type Better = "higher" | "lower";

export interface Figure {
  /** Its path in `results`, arrays keyed by their size field: `scaling.points[existing=1000].latencyMs.p50`. */
  name: string;
  value: number;
  better: Better;
}

/** Rows of these arrays are figures, named by this field; other arrays (rounds, runs) are not. */
const ARRAY_KEYS = ["existing", "links"];

/**
 * Which numbers are figures: rates (higher is better); latency percentiles, durations, memory, CPU,
 * the guard's p50s, the scaling ratio and stranded bookings (lower is better). Counts that are
 * correctness checks (overlapping pairs, lost, errors) are not figures: bench/run exits non-zero
 * on those. Means and maxima are left out (one outlier moves them), as are ratios a run derives
 * from its own figures.
 */
function betterOf(path: string[]): Better | null {
  const key = path.at(-1)!;
  const parent = path.at(-2) ?? "";
  if (/perSecond$/i.test(key)) return "higher";
  if (/Ms$/.test(parent) && ["p50", "p95", "p99"].includes(key)) {
    return "lower";
  }
  if (/Seconds$/.test(key)) return "lower";
  if (parent === "serverPeakRssMiB") return "lower";
  if (/^cpuMsPer/.test(parent)) return "lower";
  if (path[0] === "guard" && parent === "p50") return "lower";
  if (key.startsWith("ratioLargestToSmallest")) return "lower";
  if (path[0] === "scaling" && key === "controlMs") return "lower";
  if (path[0] === "placement" && key === "shipped") return "lower";
  return null;
}

/** Every figure of a results file's `results` object. */
export function figuresOf(results: unknown): Figure[] {
  const out: Figure[] = [];
  const walk = (value: unknown, path: string[], name: string) => {
    if (typeof value === "number") {
      const better = betterOf(path);
      if (better && Number.isFinite(value)) {
        out.push({ name, value, better });
      }
    } else if (Array.isArray(value)) {
      for (const row of value) {
        const key = ARRAY_KEYS.find((k) => typeof row?.[k] === "number");
        if (!key) return;
        walk(row, path, `${name}[${key}=${row[key]}]`);
      }
    } else if (value && typeof value === "object") {
      for (const [k, v] of Object.entries(value)) {
        if (k === "rounds") continue;
        walk(v, [...path, k], name ? `${name}.${k}` : k);
      }
    }
  };
  walk(results, [], "");
  return out;
}

/** Oriented so that below 1 is worse: now/before for a rate, before/now for a time. */
export function betterRatio(
  better: Better,
  now: number,
  before: number,
): number | null {
  const [a, b] = better === "higher" ? [now, before] : [before, now];
  return b > 0 ? a / b : null;
}

export function round(n: number): number {
  const digits = Math.abs(n) >= 100 ? 1 : Math.abs(n) >= 1 ? 2 : 3;
  return Number(n.toFixed(digits));
}

export interface ResultsFile {
  path: string;
  mode: string;
  startedAt: string;
  /** The server's major, from version(). */
  major: string;
  versions: unknown;
  results: unknown;
}

/** A bench/run results file, or null for anything else (a compare table, a broken file). */
export async function readResults(path: string): Promise<ResultsFile | null> {
  try {
    const data = JSON.parse(await Deno.readTextFile(path));
    if (typeof data?.mode !== "string" || !data.results) return null;
    return {
      path,
      mode: data.mode,
      startedAt: data.startedAt,
      major: majorOf(data.versions?.postgres),
      versions: data.versions,
      results: data.results,
    };
  } catch {
    return null;
  }
}

/** "PostgreSQL 17.12 (Debian ...)" -> "17" */
export function majorOf(version: unknown): string {
  return /^PostgreSQL (\d+)/.exec(String(version ?? ""))?.[1] ?? "?";
}

/** Markdown-style table, columns padded. */
export function table(rows: string[][]): string {
  const widths = rows[0].map((_, i) =>
    Math.max(...rows.map((r) => r[i].length))
  );
  const lines = rows.map((r) =>
    "| " + r.map((cell, i) => cell.padEnd(widths[i])).join(" | ") + " |"
  );
  lines.splice(
    1,
    0,
    "| " + widths.map((w) => "-".repeat(w)).join(" | ") + " |",
  );
  return lines.join("\n");
}

/**
 * Each figure of this run beside the previous one: the newest earlier results file in the same
 * folder with the same mode and major that has that figure.
 */
export async function previousFigures(
  current: ResultsFile,
  folder: string,
): Promise<string> {
  const earlier: ResultsFile[] = [];
  for await (const entry of Deno.readDir(folder)) {
    if (!entry.isFile || !entry.name.endsWith(".json")) continue;
    const file = await readResults(`${folder}/${entry.name}`);
    if (
      file && file.path !== current.path && file.mode === current.mode &&
      file.major === current.major && file.startedAt < current.startedAt
    ) {
      earlier.push(file);
    }
  }
  earlier.sort((a, b) => b.startedAt.localeCompare(a.startedAt));
  const earlierFigures = earlier.map((file) => ({
    file: file.path.slice(folder.length + 1),
    figures: new Map(figuresOf(file.results).map((f) => [f.name, f])),
  }));
  const rows = [[
    "figure",
    "this run",
    "previous",
    "ratio (below 1: worse)",
    "previous file",
  ]];
  for (const figure of figuresOf(current.results)) {
    const prev = earlierFigures.find((e) => e.figures.has(figure.name));
    const before = prev?.figures.get(figure.name)?.value;
    const r = before === undefined
      ? null
      : betterRatio(figure.better, figure.value, before);
    rows.push([
      `${figure.name} (${figure.better} is better)`,
      String(figure.value),
      before === undefined ? "-" : String(before),
      r === null ? "-" : `${round(r)}x`,
      prev?.file ?? "none",
    ]);
  }
  return `\nEach figure beside the previous run's (${current.mode}, PostgreSQL ${current.major}):\n` +
    table(rows);
}
