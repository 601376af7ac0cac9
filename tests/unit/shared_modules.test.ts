// The small modules of _shared/, in-process: comparing secrets, work after the answer, and the
// assign request's schema.
import assert from "node:assert/strict";
import { runInBackground } from "../../supabase/functions/_shared/background.ts";
import { constantTimeEqual } from "../../supabase/functions/_shared/constant_time.ts";
import { AssignRequest } from "../../supabase/functions/_shared/meeting_links.ts";

Deno.test("constantTimeEqual is true only for the same string, whatever the lengths or characters", () => {
  assert.equal(constantTimeEqual("sb_secret_abc", "sb_secret_abc"), true);
  assert.equal(constantTimeEqual("", ""), true);
  assert.equal(constantTimeEqual("🙂key", "🙂key"), true);
  assert.equal(constantTimeEqual("sb_secret_abc", "sb_secret_abd"), false);
  assert.equal(constantTimeEqual("sb_secret_abc", "sb_secret_ab"), false);
  assert.equal(constantTimeEqual("sb_secret_ab", "sb_secret_abc"), false);
  assert.equal(constantTimeEqual("key", ""), false);
  // Same number of characters, different number of bytes.
  assert.equal(constantTimeEqual("é", "e"), false);
});

Deno.test("runInBackground hands work to EdgeRuntime.waitUntil, and without a runtime a failure is not unhandled", async () => {
  const handed: Promise<unknown>[] = [];
  const global = globalThis as { EdgeRuntime?: unknown };
  global.EdgeRuntime = { waitUntil: (p: Promise<unknown>) => handed.push(p) };
  try {
    const work = Promise.resolve("done");
    runInBackground(work);
    assert.deepEqual(handed, [work]);
  } finally {
    delete global.EdgeRuntime;
  }
  // An unhandled rejection would fail this test.
  runInBackground(Promise.reject(new Error("logged by the work itself")));
  await new Promise((resolve) => setTimeout(resolve, 10));
});

Deno.test("the assign request takes any 8-4-4-4-12 hex id and ignores other fields; it names what is wrong", () => {
  for (
    const id of [
      "5a7c1a52-8d0c-4d4e-9a57-0f1e7b1c2d3e",
      "00000000-0000-0000-0000-000000000000",
      "5A7C1A52-8D0C-4D4E-9A57-0F1E7B1C2D3E",
      "5a7c1a52-8d0c-0d4e-0a57-0f1e7b1c2d3e", // no RFC version or variant: Postgres takes it
    ]
  ) {
    assert.deepEqual(AssignRequest.parse({ bookingId: id, extra: 1 }), {
      bookingId: id,
    }, id);
  }
  const problem = (value: unknown) =>
    AssignRequest.safeParse(value).error?.issues.map((i) => i.message);
  assert.deepEqual(problem({}), ["is required"]);
  assert.deepEqual(problem({ bookingId: "seed-order-4" }), ["must be a UUID"]);
  assert.deepEqual(problem({ bookingId: 42 }), ["must be a UUID"]);
  assert.deepEqual(problem([]), [
    'The body must be a JSON object: {"bookingId": "<uuid>"}.',
  ]);
  assert.deepEqual(problem(null), [
    'The body must be a JSON object: {"bookingId": "<uuid>"}.',
  ]);
});
