// Is this PostgreSQL server affected by the GiST bug of docs/postgres-gist-bug.md (a rescanned
// GiST index scan marks live entries LP_DEAD after a leaf split)? Runs the minimal reproduction
// in a scratch schema inside one transaction that is rolled back: nothing is left behind.
//
// Usage: tools/node_modules/.bin/deno run --allow-net --allow-env scripts/check_gist_bug.ts [db-url]
//        (default: $SUPABASE_DB_URL, else the dev stack on 127.0.0.1:54322)
// Prints the verdict; exits 0 when not affected, 1 when affected, 2 when it could not check.
import postgres from "postgres";

const url = Deno.args[0] ?? Deno.env.get("SUPABASE_DB_URL") ??
  "postgresql://postgres:postgres@127.0.0.1:54322/postgres";

/** Thrown to roll the reproduction back once it has been measured. */
class Measured extends Error {
  constructor(readonly viaIndex: number, readonly viaTable: number) {
    super("measured");
  }
}

// prepare: false: each count is planned under the settings in force when it runs.
const sql = postgres(url, {
  max: 1,
  prepare: false,
  onnotice: () => {},
  connect_timeout: 10,
});
try {
  const [{ version, wal_level }] = await sql<
    { version: string; wal_level: string }[]
  >`select current_setting('server_version') as version, current_setting('wal_level') as wal_level`;
  const outcome = await sql.begin(async (tx) => {
    await tx`create extension if not exists btree_gist`;
    await tx`create schema gist_bug_check`;
    await tx`set local search_path = gist_bug_check, pg_catalog`;
    await tx`create table t (id int primary key, k int not null, pad text)`;
    await tx`create index t_k_gist on t using gist (k)`;
    // Entries of rows dead to everyone (a rolled-back insert) and a live V, all k = 0, laid out
    // first on the leftmost leaf when the index grows to two levels.
    await tx`savepoint dead`;
    await tx`insert into t select 100000 + g, 0, 'D' from generate_series(1, 5) g`;
    await tx`rollback to savepoint dead`;
    await tx`insert into t values (100010, 0, 'V')`;
    await tx`insert into t select g, g, repeat('x', 10) from generate_series(1, 600) g`;
    // Called for each outer row: on the second, inserts k = 0 rows until that leaf splits.
    await tx.unsafe(`
      create function split_leaf(i int) returns boolean language plpgsql as $$
      declare n0 bigint := pg_relation_size('t_k_gist'); j int := 200000;
      begin
        if i = 2 then
          while pg_relation_size('t_k_gist') = n0 loop
            j := j + 1;
            insert into t values (j, 0, 'filler');
          end loop;
        end if;
        return true;
      end $$`);
    for (
      const setting of [
        "enable_seqscan",
        "enable_bitmapscan",
        "enable_hashjoin",
        "enable_mergejoin",
        "enable_material",
        "enable_indexonlyscan",
      ]
    ) await tx`select set_config(${setting}, 'off', true)`;
    // The anti join's inner GiST scan passes the dead entries (kills remembered), stops at V;
    // for the next outer row the leaf splits and the rescan applies the stale kills.
    await tx`select o.i from (values (1), (2), (3)) o(i)
      where split_leaf(o.i) and not exists (select 1 from t where t.k = o.i * 0)`;
    const [{ n: viaIndex }] = await tx<{ n: number }[]>`
      select count(*)::int as n from t where k = 0`;
    await tx`select set_config('enable_seqscan', 'on', true), set_config('enable_indexscan', 'off', true)`;
    const [{ n: viaTable }] = await tx<{ n: number }[]>`
      select count(*)::int as n from t where k = 0`;
    throw new Measured(viaIndex, viaTable);
  }).catch((error) => {
    if (error instanceof Measured) return error;
    throw error;
  });
  const where = `PostgreSQL ${version} at ${new URL(url).host}`;
  if (outcome.viaIndex < outcome.viaTable) {
    console.log(
      `AFFECTED: ${where}: after a rescan, the GiST index returns ${outcome.viaIndex} of ` +
        `${outcome.viaTable} live rows (live entries were marked LP_DEAD). See docs/postgres-gist-bug.md.`,
    );
    Deno.exitCode = 1;
  } else {
    console.log(
      `not affected: ${where}: the GiST index returns all ${outcome.viaTable} live rows after ` +
        `the rescan.` + (wal_level === "minimal"
          ? " (wal_level = minimal skips WAL for this new table, which changes page LSNs: " +
            "check on a server with wal_level replica or logical.)"
          : ""),
    );
  }
} catch (error) {
  console.error(`could not check ${new URL(url).host}: ${error}`);
  Deno.exitCode = 2;
} finally {
  await sql.end({ timeout: 5 });
}
