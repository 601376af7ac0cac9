// One small Postgres pool per isolate, reused across requests. Direct SQL through
// SUPABASE_DB_URL (set by hosted Supabase for every function); prepare: false so the
// transaction pooler works.
import postgres from "postgres";
import type { Env } from "./env.ts";
import { ConfigError, HttpError } from "./errors.ts";

// By URL: one in production; a test may point a handler at another database.
const pools = new Map<string, postgres.Sql>();

export function db(env: Env = Deno.env): postgres.Sql {
  const url = env.get("SUPABASE_DB_URL");
  if (!url) throw new ConfigError("SUPABASE_DB_URL is not set");
  let pool = pools.get(url);
  if (!pool) {
    pool = postgres(url, {
      prepare: false,
      max: Number(env.get("DB_POOL_SIZE") ?? 5),
      connect_timeout: 5,
      idle_timeout: 30,
      connection: { application_name: "meeting-links-functions" },
      onnotice: () => {},
    });
    pools.set(url, pool);
  }
  return pool;
}

/**
 * Runs one query, cancelling it if the database does not answer within DB_QUERY_TIMEOUT_MS
 * (default 10 s): a 503, retry later.
 */
export async function withTimeout<T>(
  query: postgres.PendingQuery<postgres.Row[]>,
  env: Env = Deno.env,
): Promise<T[]> {
  const timeoutMs = Number(env.get("DB_QUERY_TIMEOUT_MS") ?? 10_000);
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      query.cancel();
      reject(
        new HttpError(
          "database_unavailable",
          "The database did not answer in time; retry later.",
        ),
      );
    }, timeoutMs);
  });
  try {
    return await Promise.race([query, timeout]) as unknown as T[];
  } finally {
    clearTimeout(timer);
  }
}
