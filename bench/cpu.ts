// CPU time spent by the stack's processes over a stretch of a benchmark, from /proc: on 2 cores a
// CPU-bound load's rate is set by the CPU each request costs, so this says where a rate went.

/** CPU milliseconds by process kind, and the whole machine's busy time (every core, kernel too). */
export type CpuMs = Record<string, number>;

const TICKS_PER_SECOND = 100; // USER_HZ on Linux

const KINDS: [string, RegExp][] = [
  ["functions server", /scripts\/serve\.ts/],
  ["Midtrans stand-in", /midtrans_sandbox\.ts/],
  ["WhatsApp stand-in", /whatsapp_sandbox\.ts/],
  ["MailDev", /maildev/],
  ["PostgreSQL", /^postgres(:|\s|$)|\/bin\/postgres\b/],
];

function kindOf(pid: number, cmdline: string): string | undefined {
  if (pid === Deno.pid) return "benchmark client";
  return KINDS.find(([, pattern]) => pattern.test(cmdline))?.[0];
}

async function processTicks(): Promise<Map<number, [string, number]>> {
  const ticks = new Map<number, [string, number]>();
  for await (const entry of Deno.readDir("/proc")) {
    const pid = Number(entry.name);
    if (!Number.isInteger(pid)) continue;
    try {
      const cmdline = (await Deno.readTextFile(`/proc/${pid}/cmdline`))
        .replaceAll("\0", " ");
      const kind = kindOf(pid, cmdline);
      if (!kind) continue;
      const stat = await Deno.readTextFile(`/proc/${pid}/stat`);
      // Fields after the command's closing parenthesis: utime and stime are the 12th and 13th.
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      ticks.set(pid, [kind, Number(fields[11]) + Number(fields[12])]);
    } catch {
      // The process ended while being read.
    }
  }
  return ticks;
}

async function machineBusyTicks(): Promise<number> {
  const [cpu] = (await Deno.readTextFile("/proc/stat")).split("\n");
  const [user, nice, system, _idle, _iowait, irq, softirq, steal] = cpu
    .split(/\s+/).slice(1).map(Number);
  return user + nice + system + irq + softirq + steal;
}

/** Starts counting; the returned function gives the CPU milliseconds spent since. */
export async function cpuMeter(): Promise<() => Promise<CpuMs>> {
  const before = await processTicks();
  const machineBefore = await machineBusyTicks();
  return async () => {
    const after = await processTicks();
    const machine = await machineBusyTicks() - machineBefore;
    const spent: CpuMs = {};
    for (const [pid, [kind, ticks]] of after) {
      // A process started meanwhile counts whole; one that ended is only in the machine's total.
      const start = before.get(pid)?.[1] ?? 0;
      spent[kind] = (spent[kind] ?? 0) + (ticks - start);
    }
    spent["machine (all processes, kernel)"] = machine;
    for (const kind of Object.keys(spent)) {
      spent[kind] = (spent[kind] * 1000) / TICKS_PER_SECOND;
    }
    return spent;
  };
}

/** CPU ms per unit of work (a request, a settlement), rounded to 0.01 ms. */
export function perUnit(spent: CpuMs, units: number): CpuMs {
  return Object.fromEntries(
    Object.entries(spent).map((
      [kind, ms],
    ) => [kind, Math.round((ms / units) * 100) / 100]),
  );
}
