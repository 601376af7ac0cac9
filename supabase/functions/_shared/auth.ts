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

// The project's sb_secret_ (or sb_publishable_) keys, read as @supabase/server reads them: a
// JSON object of named keys, or one key.
function projectKeys(
  env: Env,
  kind: "SECRET" | "PUBLISHABLE" = "SECRET",
): Record<string, string> {
  const single = env.get(`SUPABASE_${kind}_KEY`);
  try {
    return JSON.parse(env.get(`SUPABASE_${kind}_KEYS`) ?? "null") ??
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
      env: { url: env.get("SUPABASE_URL"), secretKeys: projectKeys(env) },
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

/**
 * For endpoints a browser calls (availability): a publishable key (or the legacy anon JWT) is
 * enough, and a service-role credential is accepted too. Answers which kind came.
 */
export async function requirePublicKey(
  req: Request,
  env: Env = Deno.env,
): Promise<"public" | "service_role"> {
  try {
    await requireServiceRole(req, env);
    return "service_role";
  } catch (error) {
    if (!(error instanceof HttpError)) throw error;
  }
  const bearer = req.headers.get("authorization")?.match(/^Bearer (\S+)$/i)
    ?.[1];
  const presented = [bearer, req.headers.get("apikey")].filter((
    key,
  ): key is string => !!key);
  const anonKey = env.get("SUPABASE_ANON_KEY");
  if (anonKey && presented.some((key) => constantTimeEqual(key, anonKey))) {
    return "public";
  }
  for (
    const key of presented.filter((key) => key.startsWith("sb_publishable_"))
  ) {
    const { error } = await verifyCredentials({ token: null, apikey: key }, {
      auth: "publishable:*",
      env: {
        url: env.get("SUPABASE_URL"),
        publishableKeys: projectKeys(env, "PUBLISHABLE"),
      },
    });
    if (!error) return "public";
  }
  if (presented.some((key) => JWT_SHAPE.test(key) || API_KEY_SHAPE.test(key))) {
    throw new HttpError("forbidden", "This key may not call this function.");
  }
  throw new HttpError(
    "unauthorized",
    "Send the publishable key as apikey (or the secret key).",
  );
}
