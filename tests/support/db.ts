// Postgres connections for tests, with npm:postgres (the driver the functions use).

import postgres from "postgres";
import { env } from "./env.ts";

export type Sql = postgres.Sql;

/**
 * A small connection pool to the database under test (superuser `postgres`). Close it with
 * `await sql.end()`, or use `withSql`.
 */
export function connect(
  options: postgres.Options<Record<string, never>> = {},
): Sql {
  return postgres(env.dbUrl, {
    max: 4,
    onnotice: () => {},
    connect_timeout: 10,
    ...options,
  });
}

/** Runs `fn` with a fresh pool and always closes it. */
export async function withSql<T>(fn: (sql: Sql) => Promise<T>): Promise<T> {
  const sql = connect();
  try {
    return await fn(sql);
  } finally {
    await sql.end({ timeout: 5 });
  }
}

/**
 * Runs `during` while another session holds the pool in ACCESS EXCLUSIVE mode: a payment does not
 * read the pool, but an assignment does, so the webhook's background assign waits on the lock.
 */
export async function withPoolLocked<T>(during: () => Promise<T>): Promise<T> {
  return await withSql(async (sql) => {
    let release = () => {};
    let locked = () => {};
    const isLocked = new Promise<void>((resolve) => (locked = resolve));
    const held = sql.begin(async (tx) => {
      await tx`lock table public.meeting_links_pool in access exclusive mode`;
      locked();
      await new Promise<void>((resolve) => (release = resolve));
    });
    await isLocked;
    try {
      return await during();
    } finally {
      release();
      await held;
    }
  });
}
