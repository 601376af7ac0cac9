// meeting-link-availability takes the publishable key, which is public: past its rate a client
// gets 429 rate_limited with Retry-After. The buckets live in Postgres, so every function
// instance (here: two handlers) draws on the same one.
import assert from "node:assert/strict";
import { fetchWith } from "../../supabase/functions/meeting-link-availability/index.ts";
import {
  addLinks,
  captureConsole,
  env,
  resetData,
  withSql,
} from "../support/mod.ts";

const settings = new Map([
  ["SUPABASE_URL", env.apiUrl],
  ["SUPABASE_DB_URL", env.dbUrl],
  [
    "SUPABASE_PUBLISHABLE_KEYS",
    JSON.stringify({ default: env.publishableKey }),
  ],
  ["SUPABASE_SECRET_KEYS", JSON.stringify({ default: env.secretKey })],
  ["AVAILABILITY_RATE_PER_MINUTE", "3"],
]);

async function ask(
  handler: (request: Request) => Promise<Response>,
  headers: Record<string, string>,
): Promise<{ status: number; retryAfter: string | null; error?: string }> {
  const request = new Request(
    "http://functions.test/functions/v1/meeting-link-availability",
    {
      method: "POST",
      headers: { "content-type": "application/json", ...headers },
      body: JSON.stringify({
        slots: [{
          startsAt: "2031-05-05T10:00:00+07:00",
          endsAt: "2031-05-05T11:00:00+07:00",
        }],
      }),
    },
  );
  const { result } = await captureConsole(() => handler(request));
  const body = await result.json();
  return {
    status: result.status,
    retryAfter: result.headers.get("retry-after"),
    error: body.error,
  };
}

Deno.test("all public clients together past their rate get 429 too", async () => {
  await withSql(async (sql) => {
    await resetData(sql);
    const handler = fetchWith(
      new Map([...settings, ["AVAILABILITY_ALL_CLIENTS_RATE_PER_MINUTE", "2"]]),
    );
    const statuses = [];
    for (const address of ["192.0.2.1", "192.0.2.2", "192.0.2.3"]) {
      statuses.push(
        (await ask(handler, {
          apikey: env.publishableKey,
          "x-forwarded-for": address,
        })).status,
      );
    }
    assert.deepEqual(statuses, [200, 200, 429]);
  });
});

Deno.test("a client past the rate gets 429 rate_limited with Retry-After, on every instance; other clients and the secret key do not", async () => {
  await withSql(async (sql) => {
    await resetData(sql);
    await addLinks(sql, 1);
    const [one, two] = [fetchWith(settings), fetchWith(settings)];
    const client = {
      apikey: env.publishableKey,
      "x-forwarded-for": "203.0.113.7, 10.0.0.1",
    };

    const statuses = [];
    for (const handler of [one, two, one]) {
      statuses.push((await ask(handler, client)).status);
    }
    assert.deepEqual(statuses, [200, 200, 200]);
    const refused = await ask(two, client);
    assert.equal(refused.status, 429);
    assert.equal(refused.error, "rate_limited");
    // 3 a minute: the next token is at most 20 s away.
    assert.ok(
      Number(refused.retryAfter) >= 1 && Number(refused.retryAfter) <= 20,
      `Retry-After: ${refused.retryAfter}`,
    );
    assert.equal(
      (await ask(one, client)).status,
      429,
      "the first instance agrees",
    );

    const other = {
      apikey: env.publishableKey,
      "x-forwarded-for": "198.51.100.9",
    };
    assert.equal((await ask(one, other)).status, 200);
    for (let i = 0; i < 5; i++) {
      assert.equal((await ask(two, { apikey: env.secretKey })).status, 200);
    }
    const buckets =
      await sql`select client from api_rate_limits order by client`;
    assert.deepEqual(
      buckets.map((b) => b.client),
      ["*", "198.51.100.9", "203.0.113.7"],
      "one bucket per public client and one for all of them; none for the secret key",
    );
  });
});
