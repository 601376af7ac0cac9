// Local functions server: a stand-in for the Supabase edge runtime behind `supabase start`.
//
// Serves every function folder in supabase/functions that has an index.ts (folders named `_shared`
// or starting with `_` or `.` are not functions) at `ANY /functions/v1/<name>[/...]`, calling the
// module's default export `{ fetch(request) }` with the original Request. Unknown function: 404 JSON.
// A function that failed to load: 503 JSON. A handler that throws: 500 JSON, stack to stderr. `EdgeRuntime.waitUntil` is provided; on SIGINT
// or SIGTERM the server stops accepting, lets background work finish (at most 10 s) and exits 0.
//
// Also answers `GET /_local/health` (JSON: functions, pending background tasks) and
// `POST /_local/settle` (waits up to 10 s for background work, then answers the same JSON).
//
// Env: FUNCTIONS_HOST (default 127.0.0.1), FUNCTIONS_PORT (default 54321). Functions read their own
// settings (SUPABASE_URL, SUPABASE_DB_URL, keys...) from the environment, as on hosted Supabase.

import { functionNames, functionsDir } from "./functions.ts";
import {
  installEdgeRuntime,
  pendingBackgroundWork,
  settleBackgroundWork,
} from "./edge_runtime.ts";

type FetchHandler = (request: Request) => Response | Promise<Response>;
type Loaded = { fetch: FetchHandler } | { bootError: string };

const SHUTDOWN_GRACE_MS = 10_000;
const hostname = Deno.env.get("FUNCTIONS_HOST") ?? "127.0.0.1";
const port = Number(Deno.env.get("FUNCTIONS_PORT") ?? "54321");

function json(status: number, body: unknown): Response {
  return Response.json(body, { status });
}

async function loadFunction(name: string): Promise<Loaded> {
  try {
    const module = await import(new URL(`${name}/index.ts`, functionsDir).href);
    const fetch = module.default?.fetch;
    if (typeof fetch !== "function") {
      return {
        bootError:
          "index.ts has no default export of the shape { fetch(request) }",
      };
    }
    return { fetch: fetch.bind(module.default) };
  } catch (error) {
    console.error(`functions server: ${name} failed to load:`, error);
    return {
      bootError: "the function failed to load; see the functions server log",
    };
  }
}

function health(functions: Map<string, Loaded>): Response {
  return json(200, {
    status: "ok",
    functions: [...functions.keys()],
    failedToLoad: [...functions].filter(([, f]) => "bootError" in f).map((
      [name],
    ) => name),
    pendingBackgroundTasks: pendingBackgroundWork(),
  });
}

async function route(
  request: Request,
  functions: Map<string, Loaded>,
): Promise<Response> {
  const { pathname } = new URL(request.url);
  if (pathname === "/_local/health" && request.method === "GET") {
    return health(functions);
  }
  if (pathname === "/_local/settle" && request.method === "POST") {
    await settleBackgroundWork(SHUTDOWN_GRACE_MS);
    return health(functions);
  }
  const match = /^\/functions\/v1\/([^/]+)(?:\/.*)?$/.exec(pathname);
  const name = match ? decodeURIComponent(match[1]) : undefined;
  const loaded = name === undefined ? undefined : functions.get(name);
  if (loaded === undefined) {
    return json(404, {
      error: "function_not_found",
      message: name === undefined
        ? `No route for ${pathname}: functions are served at /functions/v1/<name>`
        : `No function named ${JSON.stringify(name)}; served here: ${
          [...functions.keys()].join(", ")
        }`,
    });
  }
  if ("bootError" in loaded) {
    return json(503, {
      error: "boot_error",
      message: `${name}: ${loaded.bootError}`,
    });
  }
  try {
    const response = await loaded.fetch(request);
    if (!(response instanceof Response)) {
      throw new TypeError(`${name} did not return a Response`);
    }
    return response;
  } catch (error) {
    console.error(
      `functions server: ${name} threw while handling ${request.method} ${pathname}:`,
      error,
    );
    return json(500, { error: "internal_error" });
  }
}

async function main(): Promise<void> {
  installEdgeRuntime();
  const functions = new Map<string, Loaded>();
  // Listen first, so a port in use fails at once; requests wait until every function loaded.
  const ready = (async () => {
    for (const name of functionNames()) {
      functions.set(name, await loadFunction(name));
    }
    const names = [...functions.keys()].join(", ") || "(none)";
    console.error(
      `functions server: http://${hostname}:${port}/functions/v1/<name> serving ${names}`,
    );
  })();

  let server: Deno.HttpServer;
  try {
    server = Deno.serve(
      { hostname, port, onListen: () => {} },
      async (request) => {
        await ready;
        return route(request, functions);
      },
    );
  } catch (error) {
    if (error instanceof Deno.errors.AddrInUse) {
      console.error(
        `functions server: port ${port} on ${hostname} is already in use; stop what uses it or set FUNCTIONS_PORT`,
      );
      Deno.exit(1);
    }
    throw error;
  }

  let stopping = false;
  const stop = async () => {
    if (stopping) return;
    stopping = true;
    // Stop accepting; in-flight requests finish, then the background work they started, all
    // within one grace period.
    const deadline = Date.now() + SHUTDOWN_GRACE_MS;
    const timeout = new Promise<void>((resolve) =>
      setTimeout(resolve, SHUTDOWN_GRACE_MS)
    );
    await Promise.race([server.shutdown(), timeout]);
    const left = await settleBackgroundWork(Math.max(0, deadline - Date.now()));
    if (left > 0) {
      console.error(
        `functions server: stopped with ${left} background task(s) still running`,
      );
    }
    Deno.exit(0);
  };
  Deno.addSignalListener("SIGINT", stop);
  Deno.addSignalListener("SIGTERM", stop);
  await ready;
}

await main();
