// supabase/schemas/ (the current schema, one file per concern) and supabase/migrations/ (the
// released history) must build the same database. Each is applied to a fresh database prepared
// like a new project (scripts/bootstrap.sql), the migrations by the real CLI as a deploy would,
// and the two catalogs are compared object by object (tests/support/catalog.ts); any difference
// fails the test, named, as does a difference in the rows they seed. The databases take turns
// as contrib_regression: pg_cron can be created only there or in cron.database_name (the test
// stack's own database), as in the CLI's shadow database for `supabase db diff`.
import assert from "node:assert/strict";
import postgres from "postgres";
import {
  catalogDifferences,
  type CatalogSnapshot,
  catalogSnapshot,
  env,
} from "../support/mod.ts";

const root = new URL("../../", import.meta.url);
const psql = `${Deno.env.get("PG_BIN") ?? "/usr/lib/postgresql/15/bin"}/psql`;
const supabase = new URL("tools/node_modules/.bin/supabase", root).pathname;
const TEMPLATE = "schema_check_template";
const TARGET = "contrib_regression";

function urlOf(database: string): string {
  const url = new URL(env.dbUrl);
  url.pathname = `/${database}`;
  return url.toString();
}

async function run(command: string, args: string[]): Promise<void> {
  const { code, stdout, stderr } = await new Deno.Command(command, {
    args,
    cwd: root.pathname,
    stdin: "null",
  }).output();
  const text = (bytes: Uint8Array) => new TextDecoder().decode(bytes);
  assert.equal(
    code,
    0,
    `${command} ${args.join(" ")}\n${text(stdout)}\n${text(stderr)}`,
  );
}

/** psql -f each file, stopping at the first error, each file in one transaction. */
async function applyFiles(database: string, files: string[]): Promise<void> {
  for (const file of files) {
    await run(psql, [
      urlOf(database),
      "-X",
      "-q",
      "-v",
      "ON_ERROR_STOP=1",
      "--single-transaction",
      "-f",
      file,
    ]);
  }
}

function schemaFiles(): string[] {
  // The CLI's order: lexical, as it walks supabase/schemas/.
  return [...Deno.readDirSync(new URL("supabase/schemas/", root))]
    .filter((entry) => entry.isFile && entry.name.endsWith(".sql"))
    .map((entry) => `supabase/schemas/${entry.name}`)
    .sort();
}

async function build(
  admin: postgres.Sql,
  apply: () => Promise<void>,
): Promise<CatalogSnapshot> {
  await admin.unsafe(`create database ${TARGET} template ${TEMPLATE}`);
  try {
    await apply();
    const sql = postgres(urlOf(TARGET), { max: 1, onnotice: () => {} });
    try {
      const snapshot = await catalogSnapshot(sql);
      // And what they seed (time_zone_names): each table's rows, as one hash.
      const tables = await sql<{ name: string }[]>`
        select relname as name from pg_class
        where relnamespace = 'public'::regnamespace and relkind = 'r'`;
      for (const { name } of tables) {
        const [{ rows }] = await sql<{ rows: string }[]>`
          select count(*) || ' rows, md5 ' || md5(coalesce(string_agg(t::text, ',' order by t::text), ''))
            as rows
          from ${sql("public")}.${sql(name)} t`;
        snapshot.set(`rows of public.${name}`, rows);
      }
      return snapshot;
    } finally {
      await sql.end({ timeout: 5 });
    }
  } finally {
    await admin.unsafe(`drop database if exists ${TARGET} with (force)`);
  }
}

Deno.test("supabase/schemas/ builds the same database as supabase/migrations/", async () => {
  const admin = postgres(env.dbUrl, { max: 1, onnotice: () => {} });
  try {
    await admin.unsafe(`drop database if exists ${TARGET} with (force)`);
    await admin.unsafe(`drop database if exists ${TEMPLATE} with (force)`);
    await admin.unsafe(`create database ${TEMPLATE}`);
    try {
      await applyFiles(TEMPLATE, ["scripts/bootstrap.sql"]);
      const fromMigrations = await build(
        admin,
        () =>
          run(supabase, [
            "db",
            "push",
            "--db-url",
            `${urlOf(TARGET)}?sslmode=disable`,
            "--include-all",
            "--yes",
          ]),
      );
      const fromSchemas = await build(
        admin,
        () => applyFiles(TARGET, schemaFiles()),
      );
      assert.ok(
        fromMigrations.size > 100,
        `the snapshot reads the catalog (${fromMigrations.size} objects)`,
      );
      const differences = catalogDifferences(fromMigrations, fromSchemas, [
        "supabase/migrations",
        "supabase/schemas",
      ]);
      assert.equal(
        differences.length,
        0,
        `supabase/schemas/ and supabase/migrations/ differ in ${differences.length} objects:\n` +
          differences.join("\n"),
      );
    } finally {
      await admin.unsafe(`drop database if exists ${TEMPLATE} with (force)`);
    }
  } finally {
    await admin.end({ timeout: 5 });
  }
});
