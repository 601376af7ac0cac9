// Smoke tests of the local stack itself: the database was prepared as hosted Supabase would be,
// and the functions server routes requests to the functions.

import assert from "node:assert/strict";
import {
  installEdgeRuntime,
  pendingBackgroundWork,
  settleBackgroundWork,
} from "../../scripts/edge_runtime.ts";
import {
  callFunction,
  freePort,
  functionNames,
  spawnFunctionsServer,
  withSql,
} from "../support/mod.ts";

function migrationVersions(): string[] {
  const dir = new URL("../../supabase/migrations/", import.meta.url);
  const versions: string[] = [];
  try {
    for (const entry of Deno.readDirSync(dir)) {
      const match = /^(\d+)_.*\.sql$/.exec(entry.name);
      if (entry.isFile && match) versions.push(match[1]);
    }
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  }
  return versions.sort();
}

Deno.test("every migration in supabase/migrations was applied by the Supabase CLI", async () => {
  const applied = await withSql(async (sql) => {
    const [{ table }] = await sql`
      select to_regclass('supabase_migrations.schema_migrations') as table`;
    if (table === null) return [];
    const rows = await sql<{ version: string }[]>`
      select version from supabase_migrations.schema_migrations order by version`;
    return rows.map((row) => row.version);
  });
  assert.deepEqual(applied, migrationVersions());
});

Deno.test("the Supabase API roles exist as on hosted Supabase", async () => {
  const roles = await withSql((sql) =>
    sql<{ rolname: string; rolcanlogin: boolean; rolbypassrls: boolean }[]>`
      select rolname, rolcanlogin, rolbypassrls from pg_roles
      where rolname in ('anon', 'authenticated', 'service_role', 'authenticator')
      order by rolname`
  );
  assert.deepEqual(
    roles.map((r) => ({ ...r })),
    [
      { rolname: "anon", rolcanlogin: false, rolbypassrls: false },
      { rolname: "authenticated", rolcanlogin: false, rolbypassrls: false },
      { rolname: "authenticator", rolcanlogin: true, rolbypassrls: false },
      { rolname: "service_role", rolcanlogin: false, rolbypassrls: true },
    ],
  );
});

Deno.test("auth.uid() and auth.role() read the JWT claims of the request", async () => {
  const [row] = await withSql((sql) =>
    sql.begin(async (tx) => {
      await tx`select set_config('request.jwt.claims', ${
        JSON.stringify({
          sub: "8a3c1f0e-5b7d-4e2a-9c6f-1d2e3f4a5b6c",
          role: "authenticated",
        })
      }, true)`;
      return await tx`select auth.uid()::text as uid, auth.role() as role, auth.jwt() ->> 'sub' as sub`;
    })
  );
  assert.deepEqual({ ...row }, {
    uid: "8a3c1f0e-5b7d-4e2a-9c6f-1d2e3f4a5b6c",
    role: "authenticated",
    sub: "8a3c1f0e-5b7d-4e2a-9c6f-1d2e3f4a5b6c",
  });
});

Deno.test("an unknown function answers 404 with a JSON error", async () => {
  const response = await callFunction("no-such-function", { json: {} });
  assert.equal(response.status, 404);
  assert.equal(
    (response.json as { error: string }).error,
    "function_not_found",
  );
});

Deno.test("every function answers over HTTP with a JSON body", async (t) => {
  const names = functionNames();
  assert.ok(names.length > 0, "no function found in supabase/functions");
  for (const name of names) {
    await t.step(name, async () => {
      const response = await callFunction(name, { json: {} });
      assert.notEqual(
        response.json,
        undefined,
        `${name} answered ${response.status}: ${response.text}`,
      );
      const error = (response.json as { error?: string }).error;
      assert.notEqual(
        error,
        "boot_error",
        `${name} failed to load: ${response.text}`,
      );
      assert.notEqual(error, "function_not_found");
    });
  }
});

Deno.test("a CORS preflight (OPTIONS) reaches each function's own handler", async (t) => {
  for (const name of functionNames()) {
    await t.step(name, async () => {
      const response = await callFunction(name, {
        method: "OPTIONS",
        headers: {
          origin: "http://localhost:3000",
          "access-control-request-method": "POST",
        },
      });
      const error = (response.json as { error?: string } | undefined)?.error;
      assert.ok(
        !["function_not_found", "boot_error", "internal_error"].includes(
          error ?? "",
        ),
        `${name}: ${response.status} ${response.text}`,
      );
      assert.ok(
        response.status < 500,
        `${name}: ${response.status} ${response.text}`,
      );
    });
  }
});

Deno.test("background work handed to EdgeRuntime.waitUntil can be awaited", async () => {
  installEdgeRuntime();
  const runtime = (globalThis as unknown as {
    EdgeRuntime: { waitUntil<T>(p: Promise<T>): Promise<T> };
  }).EdgeRuntime;
  let finished = false;
  let finish!: () => void;
  runtime.waitUntil(
    new Promise<void>((resolve) => finish = resolve).then(() =>
      finished = true
    ),
  );
  // A failing task is logged, never thrown at the caller.
  const quiet = console.error;
  console.error = () => {};
  try {
    runtime.waitUntil(Promise.reject(new Error("expected in this test")));
    assert.equal(pendingBackgroundWork(), 2);
    // The task ends only after settling has begun: settling waits for it.
    const settled = settleBackgroundWork(5_000);
    finish();
    assert.equal(await settled, 0);
  } finally {
    console.error = quiet;
  }
  assert.equal(finished, true);
});

Deno.test("the functions server stops cleanly on SIGTERM and refuses a port in use", async () => {
  const server = await spawnFunctionsServer(freePort());
  try {
    const port = new URL(server.url).port;
    const second = await new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "--allow-net",
        "--allow-env",
        "--allow-read",
        "scripts/serve.ts",
      ],
      cwd: new URL("../../", import.meta.url).pathname,
      env: { FUNCTIONS_PORT: port, NO_COLOR: "1" },
      stdout: "null",
      stderr: "piped",
    }).output();
    assert.equal(second.code, 1);
    assert.match(
      new TextDecoder().decode(second.stderr),
      new RegExp(`port ${port} .*already in use`),
    );
  } finally {
    const status = await server.stop();
    assert.equal(status.code, 0);
  }
});
