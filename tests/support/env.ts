// Where the stack under test is, read from the environment that scripts/test sets. The defaults
// are the dev stack of scripts/start, so `deno test` also runs against a running `scripts/start`.

const LOCAL_ANON_KEY =
  "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJpc3MiOiJzdXBhYmFzZS1kZW1vIiwicm9sZSI6ImFub24iLCJleHAiOjE5ODM4MTI5OTZ9.CRXP1A7WOeoJeXxjNni43kdQwgnWNReilDMblYTn_I0";
const LOCAL_SERVICE_ROLE_KEY =
  "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJpc3MiOiJzdXBhYmFzZS1kZW1vIiwicm9sZSI6InNlcnZpY2Vfcm9sZSIsImV4cCI6MTk4MzgxMjk5Nn0.EGIM96RAZx35lJzdJsyH-qQwv8Hdp7fsn3W0YpN81IU";

export interface StackEnv {
  /** Base URL of the API, e.g. http://127.0.0.1:54331 (functions under /functions/v1). */
  apiUrl: string;
  /** `${apiUrl}/functions/v1` */
  functionsUrl: string;
  /** Postgres URL of the database the functions use. */
  dbUrl: string;
  anonKey: string;
  serviceRoleKey: string;
  /** The first `sb_publishable_...` key of SUPABASE_PUBLISHABLE_KEYS. */
  publishableKey: string;
  /** The first `sb_secret_...` key of SUPABASE_SECRET_KEYS. */
  secretKey: string;
  jwtSecret: string;
  /** The Midtrans server key the webhook verifies signatures with (fake, local only). */
  midtransServerKey: string;
  /** The Midtrans sandbox stand-in the webhook confirms notifications with (MIDTRANS_API_URL). */
  midtransApiUrl: string;
  /** Pid of the functions server scripts/test started, if any. */
  functionsServerPid?: number;
}

function get(name: string, fallback: string): string {
  const value = Deno.env.get(name);
  return value === undefined || value === "" ? fallback : value;
}

function firstKey(json: string, fallback: string): string {
  try {
    const keys = Object.values(JSON.parse(json) as Record<string, string>);
    return keys[0] ?? fallback;
  } catch {
    return fallback;
  }
}

function load(): StackEnv {
  const apiUrl = get("API_URL", get("SUPABASE_URL", "http://127.0.0.1:54321"))
    .replace(/\/+$/, "");
  const pid = Number(Deno.env.get("FUNCTIONS_SERVER_PID"));
  return {
    apiUrl,
    functionsUrl: `${apiUrl}/functions/v1`,
    dbUrl: get(
      "SUPABASE_DB_URL",
      "postgresql://postgres:postgres@127.0.0.1:54322/postgres",
    ),
    anonKey: get("SUPABASE_ANON_KEY", LOCAL_ANON_KEY),
    serviceRoleKey: get("SUPABASE_SERVICE_ROLE_KEY", LOCAL_SERVICE_ROLE_KEY),
    publishableKey: firstKey(
      get("SUPABASE_PUBLISHABLE_KEYS", ""),
      "sb_publishable_ACJWlzQHlZjBrEguHvfOxg_3BJgxAaH",
    ),
    secretKey: firstKey(
      get("SUPABASE_SECRET_KEYS", ""),
      "sb_secret_N7UND0UgjKTVK-Uodkm0Hg_xSvEMPvz",
    ),
    jwtSecret: get(
      "SUPABASE_JWT_SECRET",
      "super-secret-jwt-token-with-at-least-32-characters-long",
    ),
    midtransServerKey: get(
      "MIDTRANS_SERVER_KEY",
      "SB-Mid-server-LOCAL-TEST-KEY",
    ),
    midtransApiUrl: get("MIDTRANS_API_URL", "http://127.0.0.1:54326")
      .replace(/\/+$/, ""),
    functionsServerPid: Number.isInteger(pid) && pid > 0 ? pid : undefined,
  };
}

/** The stack under test. */
export const env: StackEnv = load();
