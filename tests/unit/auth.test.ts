// _shared/auth.ts in-process: who may call the ops endpoint, with the keys passed in rather
// than read from the process environment.
import assert from "node:assert/strict";
import { requireServiceRole } from "../../supabase/functions/_shared/auth.ts";

const SERVICE_ROLE_JWT =
  "eyJhbGciOiJIUzI1NiJ9.eyJyb2xlIjoic2VydmljZV9yb2xlIn0.c2lnbmF0dXJl";
const ANON_JWT = "eyJhbGciOiJIUzI1NiJ9.eyJyb2xlIjoiYW5vbiJ9.c2lnbmF0dXJl";
const SECRET_KEY = "sb_secret_unitTestSecretKey0123456789";

const URL_SETTING = ["SUPABASE_URL", "http://127.0.0.1:54321"] as const;
const configured = new Map([
  URL_SETTING,
  ["SUPABASE_SERVICE_ROLE_KEY", SERVICE_ROLE_JWT],
  ["SUPABASE_SECRET_KEYS", JSON.stringify({ default: SECRET_KEY })],
]);

function request(headers: Record<string, string>) {
  return new Request("http://functions.test/", { method: "POST", headers });
}

Deno.test("the service-role key or a project secret key passes, as a bearer or as apikey", async (t) => {
  for (
    const [name, headers] of [
      ["service-role JWT as Bearer", {
        authorization: `Bearer ${SERVICE_ROLE_JWT}`,
      }],
      ["service-role JWT, scheme in lower case", {
        authorization: `bearer ${SERVICE_ROLE_JWT}`,
      }],
      ["service-role JWT as apikey", { apikey: SERVICE_ROLE_JWT }],
      ["secret key as apikey", { apikey: SECRET_KEY }],
      ["secret key as Bearer", { authorization: `Bearer ${SECRET_KEY}` }],
      ["a wrong bearer beside the right apikey", {
        authorization: `Bearer ${ANON_JWT}`,
        apikey: SERVICE_ROLE_JWT,
      }],
    ] as const
  ) {
    await t.step(name, () => requireServiceRole(request(headers), configured));
  }
  await t.step(
    "a secret key set alone as SUPABASE_SECRET_KEY",
    () =>
      requireServiceRole(
        request({ apikey: SECRET_KEY }),
        new Map([URL_SETTING, ["SUPABASE_SECRET_KEY", SECRET_KEY]]),
      ),
  );
});

Deno.test("a real key that is not the service role's is 403; no credential at all is 401", async (t) => {
  const cases: [string, Record<string, string>, Map<string, string>, number][] =
    [
      [
        "the anon JWT",
        { authorization: `Bearer ${ANON_JWT}` },
        configured,
        403,
      ],
      [
        "a publishable key",
        { apikey: "sb_publishable_unitTestKey0123" },
        configured,
        403,
      ],
      [
        "a secret key of another project",
        { apikey: "sb_secret_someoneElse0123456789" },
        configured,
        403,
      ],
      [
        "a secret key when none is configured",
        { apikey: SECRET_KEY },
        new Map(),
        403,
      ],
      [
        "the service-role JWT when the function has none configured",
        { authorization: `Bearer ${SERVICE_ROLE_JWT}` },
        new Map(),
        403,
      ],
      ["no headers", {}, configured, 401],
      [
        "Basic credentials",
        { authorization: "Basic dXNlcjpwYXNz" },
        configured,
        401,
      ],
      [
        "a bearer that is no key's shape",
        { authorization: "Bearer hello" },
        configured,
        401,
      ],
      ["an empty apikey", { apikey: "" }, configured, 401],
    ];
  for (const [name, headers, env, status] of cases) {
    await t.step(
      name,
      () =>
        assert.rejects(requireServiceRole(request(headers), env), {
          status,
          code: status === 403 ? "forbidden" : "unauthorized",
        }),
    );
  }
});
