// Who may call the ops endpoint: the service role. Hosted Supabase has two kinds of secret
// key: the legacy service-role JWT and sb_secret_... API keys (checked by @supabase/server,
// which refuses legacy JWTs). Either may come as `Authorization: Bearer` or as `apikey`.
import { verifyCredentials } from "@supabase/server/core";
import { constantTimeEqual } from "./constant_time.ts";
import type { Env } from "./env.ts";
import { HttpError } from "./errors.ts";

const JWT_SHAPE = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/;
const API_KEY_SHAPE = /^sb_(secret|publishable)_[A-Za-z0-9_-]+$/;

const unauthorized = () =>
  new HttpError(
    "unauthorized",
    "Send the service-role key as Authorization: Bearer, or a secret key as apikey.",
  );
const forbidden = () =>
  new HttpError(
    "forbidden",
    "This key may not call this function; use the service-role key.",
  );

// The project's sb_secret_ keys, read as @supabase/server reads them: a JSON object of named
// keys, or one key.
function secretKeys(env: Env): Record<string, string> {
  const single = env.get("SUPABASE_SECRET_KEY");
  try {
    return JSON.parse(env.get("SUPABASE_SECRET_KEYS") ?? "null") ??
      (single ? { default: single } : {});
  } catch {
    return {};
  }
}

/** Resolves when the request carries a service-role credential; throws 401 or 403 otherwise. */
export async function requireServiceRole(
  req: Request,
  env: Env = Deno.env,
): Promise<void> {
  const authorization = req.headers.get("authorization");
  // The auth scheme is case-insensitive (RFC 9110).
  const bearer = authorization?.match(/^Bearer (\S+)$/i)?.[1];
  const apikey = req.headers.get("apikey");
  const presented = [bearer, apikey].filter((key): key is string => !!key);

  const serviceRoleKey = env.get("SUPABASE_SERVICE_ROLE_KEY");
  if (
    serviceRoleKey &&
    presented.some((key) => constantTimeEqual(key, serviceRoleKey))
  ) {
    return;
  }

  for (const key of presented.filter((key) => key.startsWith("sb_secret_"))) {
    const { error } = await verifyCredentials({ token: null, apikey: key }, {
      auth: "secret:*",
      env: { url: env.get("SUPABASE_URL"), secretKeys: secretKeys(env) },
    });
    if (!error) return;
  }
  // A key of a real shape that is not the service role's (anon, a user's JWT, a publishable
  // key, a revoked secret key) is known but not allowed; anything else is no credential at all.
  if (presented.some((key) => JWT_SHAPE.test(key) || API_KEY_SHAPE.test(key))) {
    throw forbidden();
  }
  throw unauthorized();
}
