// One small Postgres pool per isolate, reused across requests. Direct SQL through
// SUPABASE_DB_URL (set by hosted Supabase for every function); prepare: false so the
// transaction pooler works.
import postgres from "postgres";
import { ConfigError, HttpError } from "./errors.ts";

let pool: postgres.Sql | undefined;

export function db(): postgres.Sql {
  if (pool) return pool;
  const url = Deno.env.get("SUPABASE_DB_URL");
  if (!url) throw new ConfigError("SUPABASE_DB_URL is not set");
  pool = postgres(url, {
    prepare: false,
    max: Number(Deno.env.get("DB_POOL_SIZE") ?? 5),
    connect_timeout: 5,
    idle_timeout: 30,
    connection: { application_name: "meeting-links-functions" },
    onnotice: () => {},
  });
  return pool;
}

const QUERY_TIMEOUT_MS = Number(Deno.env.get("DB_QUERY_TIMEOUT_MS") ?? 10_000);

/** Runs one query, cancelling it if the database does not answer in time (a 503: retry later). */
export async function withTimeout<T>(
  query: postgres.PendingQuery<postgres.Row[]>,
): Promise<T[]> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      query.cancel();
      reject(
        new HttpError(
          503,
          "database_unavailable",
          "The database did not answer in time; retry later.",
        ),
      );
    }, QUERY_TIMEOUT_MS);
  });
  try {
    return await Promise.race([query, timeout]) as unknown as T[];
  } finally {
    clearTimeout(timer);
  }
}
