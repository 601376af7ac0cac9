// Start and stop processes of the stack from a test: an extra functions server (another port,
// another environment), a Midtrans sandbox stand-in, or the test cluster's Postgres (fault tests).

import { env } from "./env.ts";

const root = new URL("../../", import.meta.url);

// Keep in step with DENO_SERVE_FLAGS in scripts/lib.sh.
const SERVE_FLAGS = [
  "--no-prompt",
  "--allow-net",
  "--allow-env",
  "--allow-read",
];

/** A port nothing listens on right now. */
export function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = listener.addr as Deno.NetAddr;
  listener.close();
  return port;
}

/** How a server exited, and what it printed when its output was captured. */
export type ServerExit = Deno.CommandStatus & {
  stdout: string;
  stderr: string;
};

export interface RunningServer {
  /** Base URL, e.g. http://127.0.0.1:54340 (functions under /functions/v1). */
  url: string;
  pid: number;
  /** SIGTERM, then waits for the exit (the server lets background work finish first). */
  stop(): Promise<ServerExit>;
}

/**
 * Starts scripts/serve.ts on `port` with the current environment plus `envOverrides`, and waits
 * until it answers. Its output goes to this test's stderr, or, with `captureOutput`, is kept for
 * `stop()` to return (for tests that read its log lines).
 */
export function spawnFunctionsServer(
  port: number,
  envOverrides: Record<string, string> = {},
  { captureOutput = false } = {},
): Promise<RunningServer> {
  return spawnDenoServer("scripts/serve.ts", port, "/_local/health", {
    ...envOverrides,
    FUNCTIONS_HOST: "127.0.0.1",
    FUNCTIONS_PORT: String(port),
    NO_COLOR: "1",
  }, { captureOutput });
}

/**
 * Starts a server script of this repo (path from the repo root) with the current environment
 * plus `envOverrides`, and waits until `healthPath` on `port` answers 2xx.
 */
export async function spawnDenoServer(
  script: string,
  port: number,
  healthPath: string,
  envOverrides: Record<string, string>,
  { captureOutput = false } = {},
): Promise<RunningServer> {
  const url = `http://127.0.0.1:${port}`;
  const output = captureOutput ? "piped" : "inherit";
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      ...SERVE_FLAGS,
      "--config",
      new URL("deno.json", root).pathname,
      new URL(script, root).pathname,
    ],
    env: envOverrides,
    stdin: "null",
    stdout: output,
    stderr: output,
  }).spawn();
  // Read captured pipes from the start, so a full pipe never blocks the server.
  const stdout = captureOutput ? new Response(child.stdout).text() : "";
  const stderr = captureOutput ? new Response(child.stderr).text() : "";
  const stop = async (): Promise<ServerExit> => {
    try {
      child.kill("SIGTERM");
    } catch {
      // already gone
    }
    const status = await child.status;
    return { ...status, stdout: await stdout, stderr: await stderr };
  };

  const deadline = Date.now() + 60_000;
  while (true) {
    try {
      const response = await fetch(`${url}${healthPath}`);
      await response.body?.cancel();
      if (response.ok) return { url, pid: child.pid, stop };
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      const exit = await stop();
      throw new Error(
        `${script} on port ${port} did not come up\n${exit.stderr}`,
      );
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/**
 * Stops or starts the Postgres cluster of scripts/test (TEST_PGDATA), as its OS user. For fault
 * tests only: the dev stack's cluster is never touched.
 */
export async function testPostgres(action: "stop" | "start"): Promise<void> {
  const data = Deno.env.get("TEST_PGDATA");
  const pgBin = Deno.env.get("PG_BIN") ?? "/usr/lib/postgresql/15/bin";
  const osUser = Deno.env.get("PG_OS_USER") ?? "";
  const port = new URL(env.dbUrl).port;
  if (!data) {
    throw new Error("TEST_PGDATA is not set: run this through scripts/test");
  }
  const pgCtl = action === "stop"
    ? [`${pgBin}/pg_ctl`, "-D", data, "-m", "fast", "-w", "stop"]
    : [
      `${pgBin}/pg_ctl`,
      "-D",
      data,
      "-l",
      `${data}/../postgres.log`,
      "-o",
      `-p ${port}`,
      "-w",
      "start",
    ];
  const [command, ...args] = osUser
    ? ["runuser", "-u", osUser, "--", ...pgCtl]
    : pgCtl;
  const { code, stderr } = await new Deno.Command(command, {
    args,
    stdout: "null",
    stderr: "piped",
  })
    .output();
  if (code !== 0) {
    throw new Error(
      `pg_ctl ${action} failed: ${new TextDecoder().decode(stderr)}`,
    );
  }
}
