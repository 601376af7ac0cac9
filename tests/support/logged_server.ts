// A functions server of its own whose output the test reads: for log lines, and for fault
// tests that point it at a database other than the shared one. Like spawnFunctionsServer
// (server.ts), but with stdout and stderr piped instead of inherited.

const root = new URL("../../", import.meta.url);

// Keep in step with DENO_SERVE_FLAGS in scripts/lib.sh.
const SERVE_FLAGS = [
  "--no-prompt",
  "--allow-net",
  "--allow-env",
  "--allow-read",
];

export interface ServerOutput {
  status: Deno.CommandStatus;
  stdout: string;
  stderr: string;
}

export interface LoggedServer {
  /** Base URL, e.g. http://127.0.0.1:40123 (functions under /functions/v1). */
  url: string;
  /** SIGTERM, waits for the exit, and returns everything the server printed. */
  stop(): Promise<ServerOutput>;
}

/** A port nothing listens on right now. */
export function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = listener.addr as Deno.NetAddr;
  listener.close();
  return port;
}

/**
 * Starts scripts/serve.ts on a free port with the current environment plus `envOverrides`, and
 * waits until it answers.
 */
export async function spawnLoggedFunctionsServer(
  envOverrides: Record<string, string> = {},
): Promise<LoggedServer> {
  const port = freePort();
  const url = `http://127.0.0.1:${port}`;
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      ...SERVE_FLAGS,
      "--config",
      new URL("deno.json", root).pathname,
      new URL("scripts/serve.ts", root).pathname,
    ],
    env: {
      ...envOverrides,
      FUNCTIONS_HOST: "127.0.0.1",
      FUNCTIONS_PORT: String(port),
      NO_COLOR: "1",
    },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  // Read both pipes from the start, so a full pipe never blocks the server.
  const stdout = new Response(child.stdout).text();
  const stderr = new Response(child.stderr).text();
  const stop = async (): Promise<ServerOutput> => {
    try {
      child.kill("SIGTERM");
    } catch {
      // already gone
    }
    const status = await child.status;
    return { status, stdout: await stdout, stderr: await stderr };
  };

  const deadline = Date.now() + 60_000;
  while (true) {
    try {
      const response = await fetch(`${url}/_local/health`);
      await response.body?.cancel();
      if (response.ok) return { url, stop };
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      const output = await stop();
      throw new Error(
        `functions server on port ${port} did not come up:\n${output.stderr}`,
      );
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}
