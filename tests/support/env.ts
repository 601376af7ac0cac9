// Where the stack under test is, read from the environment that scripts/test sets. The defaults
// are the dev stack of scripts/start, so `deno test` also runs against a running `scripts/start`.

import { parseEnv } from "node:util";

// The local stack's public demo keys and dev URLs: scripts/local.env, the one file that
// scripts/lib.sh and `deno task serve` read too.
const localEnv = parseEnv(
  Deno.readTextFileSync(new URL("../../scripts/local.env", import.meta.url)),
);

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
  /** The WhatsApp Cloud API stand-in send-booking-emails sends to (WHATSAPP_API_URL). */
  whatsappApiUrl: string;
  /** What whatsapp-webhook checks signatures and the handshake with (fake, local only). */
  whatsappAppSecret: string;
  whatsappVerifyToken: string;
  /** Pid of the functions server scripts/test started, if any. */
  functionsServerPid?: number;
}

function get(name: string): string {
  const value = Deno.env.get(name);
  return value === undefined || value === "" ? localEnv[name] ?? "" : value;
}

function firstKey(json: string): string {
  return Object.values(JSON.parse(json) as Record<string, string>)[0];
}

function load(): StackEnv {
  const apiUrl = (get("API_URL") || get("SUPABASE_URL")).replace(/\/+$/, "");
  const pid = Number(Deno.env.get("FUNCTIONS_SERVER_PID"));
  return {
    apiUrl,
    functionsUrl: `${apiUrl}/functions/v1`,
    dbUrl: get("SUPABASE_DB_URL"),
    anonKey: get("SUPABASE_ANON_KEY"),
    serviceRoleKey: get("SUPABASE_SERVICE_ROLE_KEY"),
    publishableKey: firstKey(get("SUPABASE_PUBLISHABLE_KEYS")),
    secretKey: firstKey(get("SUPABASE_SECRET_KEYS")),
    jwtSecret: get("SUPABASE_JWT_SECRET"),
    midtransServerKey: get("MIDTRANS_SERVER_KEY"),
    midtransApiUrl: get("MIDTRANS_API_URL").replace(/\/+$/, ""),
    whatsappApiUrl: get("WHATSAPP_API_URL").replace(/\/+$/, ""),
    whatsappAppSecret: get("WHATSAPP_APP_SECRET"),
    whatsappVerifyToken: get("WHATSAPP_VERIFY_TOKEN"),
    functionsServerPid: Number.isInteger(pid) && pid > 0 ? pid : undefined,
  };
}

/** The stack under test. */
export const env: StackEnv = load();
