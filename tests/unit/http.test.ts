// _shared/http.ts in-process: reading and validating bodies, and what postHandler answers and
// logs around a handler. No server, no database.
import assert from "node:assert/strict";
import { z } from "zod";
import { HttpError } from "../../supabase/functions/_shared/errors.ts";
import {
  parseWith,
  postHandler,
  readJson,
} from "../../supabase/functions/_shared/http.ts";
import { captureConsole } from "../support/mod.ts";

const FUNCTION_URL = "http://functions.test/functions/v1/example";

function post(body: BodyInit | null, headers: Record<string, string> = {}) {
  return new Request(FUNCTION_URL, { method: "POST", body, headers });
}

const JSON_TYPE = { "content-type": "application/json" };

Deno.test("readJson takes JSON of at most maxBytes and refuses the rest with its code", async (t) => {
  await t.step("a JSON body is parsed", async () => {
    assert.deepEqual(await readJson(post('{"a":[1]}', JSON_TYPE), 100), {
      a: [1],
    });
  });
  await t.step(
    "JSON media types with a suffix or parameters are JSON",
    async () => {
      for (
        const type of [
          "application/json; charset=utf-8",
          "application/vnd.api+json",
          "Application/JSON",
        ]
      ) {
        assert.deepEqual(
          await readJson(post("1", { "content-type": type }), 100),
          1,
          type,
        );
      }
    },
  );
  await t.step("another content type is 415", async () => {
    for (const type of ["text/plain", "application/jsonp", "text/json", ""]) {
      await assert.rejects(
        readJson(post("{}", { "content-type": type }), 100),
        {
          code: "unsupported_media_type",
          status: 415,
        },
        type,
      );
    }
  });
  await t.step(
    "a declared Content-Length over the cap is 413 before reading",
    async () => {
      const request = post("{}", { ...JSON_TYPE, "content-length": "101" });
      await assert.rejects(readJson(request, 100), {
        code: "payload_too_large",
        status: 413,
      });
    },
  );
  await t.step("a streamed body over the cap is 413", async () => {
    const stream = new ReadableStream<Uint8Array>({
      start(controller) {
        for (let i = 0; i < 3; i++) {
          controller.enqueue(new Uint8Array(40).fill(0x20));
        }
        controller.close();
      },
    });
    await assert.rejects(readJson(post(stream, JSON_TYPE), 100), {
      code: "payload_too_large",
    });
  });
  await t.step("a body of exactly maxBytes is read", async () => {
    const text = JSON.stringify("x".repeat(98));
    assert.equal(text.length, 100);
    assert.equal(await readJson(post(text, JSON_TYPE), 100), "x".repeat(98));
  });
  await t.step("invalid or empty JSON is 400 invalid_request", async () => {
    for (const text of ["{", "", "{'a':1}", "[1,]"]) {
      await assert.rejects(readJson(post(text, JSON_TYPE), 100), {
        code: "invalid_request",
        status: 400,
      }, JSON.stringify(text));
    }
  });
  await t.step(
    "JSON with half a surrogate pair, in a value or a key, is 400 invalid_request",
    async () => {
      for (
        const text of ['"\\ud800"', '[{"a":["\\udfff x"]}]', '{"\\ud800":1}']
      ) {
        await assert.rejects(readJson(post(text, JSON_TYPE), 100), {
          code: "invalid_request",
          status: 400,
        }, text);
      }
      assert.deepEqual(
        await readJson(post('["\\ud83d\\ude42"]', JSON_TYPE), 100),
        [
          "🙂",
        ],
      );
    },
  );
});

Deno.test("parseWith returns the parsed value, or a 400 that names every wrong field", () => {
  const Schema = z.object({ id: z.string(), n: z.number().int() });
  assert.deepEqual(parseWith(Schema, { id: "a", n: 1, extra: true }), {
    id: "a",
    n: 1,
  });
  assert.throws(() => parseWith(Schema, { n: 1.5 }), (error: unknown) => {
    assert.ok(error instanceof HttpError);
    assert.equal(error.status, 400);
    assert.equal(error.code, "invalid_request");
    const problems = error.details.problems as string[];
    assert.equal(problems.length, 2);
    assert.match(problems[0], /^id: /);
    assert.match(problems[1], /^n: /);
    assert.equal(error.message, problems.join("; "));
    return true;
  });
});

Deno.test("postHandler answers preflights and wrong methods itself, maps failures to JSON, and logs one line per request", async (t) => {
  let calls = 0;
  const fetch = postHandler("example", (req, log) => {
    calls++;
    const kind = new URL(req.url).searchParams.get("fail");
    log.bookingId = "b-1";
    if (kind === "http") {
      throw new HttpError("booking_not_paid", "Pay first.", {
        bookingId: "b-1",
      });
    }
    if (kind === "bug") throw new Error("secret detail");
    return Promise.resolve(Response.json({ ok: true }));
  });

  await t.step(
    "OPTIONS: 200 {ok: true} with CORS headers; the handler is not called",
    async () => {
      const { result: response, lines } = await captureConsole(() =>
        fetch(new Request(FUNCTION_URL, { method: "OPTIONS" }))
      );
      assert.equal(response.status, 200);
      assert.deepEqual(await response.json(), { ok: true });
      assert.equal(response.headers.get("access-control-allow-origin"), "*");
      assert.equal(calls, 0);
      assert.equal(lines.length, 1);
      assert.equal(lines[0].outcome, "preflight");
    },
  );
  await t.step(
    "GET, PUT, DELETE: 405 method_not_allowed with Allow; the handler is not called",
    async () => {
      for (const method of ["GET", "PUT", "DELETE"]) {
        const { result: response } = await captureConsole(() =>
          fetch(new Request(FUNCTION_URL, { method }))
        );
        assert.equal(response.status, 405);
        assert.equal(response.headers.get("allow"), "POST, OPTIONS");
        assert.equal((await response.json()).error, "method_not_allowed");
      }
      assert.equal(calls, 0);
    },
  );
  await t.step(
    "a thrown HttpError: its status and body, logged with its code",
    async () => {
      const { result: response, lines } = await captureConsole(() =>
        fetch(new Request(`${FUNCTION_URL}?fail=http`, { method: "POST" }))
      );
      assert.equal(response.status, 409);
      assert.deepEqual(await response.json(), {
        error: "booking_not_paid",
        message: "Pay first.",
        bookingId: "b-1",
      });
      assert.equal(lines[0].outcome, "booking_not_paid");
      assert.equal(lines[0].status, 409);
      assert.equal(lines[0].cause, undefined, "a 4xx logs no stack");
    },
  );
  await t.step(
    "any other error: 500 internal_error, the cause in the log and not in the body",
    async () => {
      const { result: response, lines, errors } = await captureConsole(() =>
        fetch(new Request(`${FUNCTION_URL}?fail=bug`, { method: "POST" }))
      );
      assert.equal(response.status, 500);
      const text = await response.text();
      assert.equal(JSON.parse(text).error, "internal_error");
      assert.doesNotMatch(text, /secret detail/);
      assert.equal(lines.length, 0, "a 5xx goes to stderr");
      assert.equal(errors.length, 1);
      assert.match(String(errors[0].cause), /secret detail/);
    },
  );
  await t.step(
    "a log line is one JSON object with function, method, status, fields and ms",
    async () => {
      const { lines } = await captureConsole(() =>
        fetch(new Request(FUNCTION_URL, { method: "POST" }))
      );
      assert.deepEqual(Object.keys(lines[0]), [
        "function",
        "method",
        "status",
        "bookingId",
        "outcome",
        "ms",
      ]);
      assert.equal(lines[0].function, "example");
      assert.equal(lines[0].bookingId, "b-1");
      assert.ok(Number.isInteger(lines[0].ms));
    },
  );
});

Deno.test("every answer carries Server-Timing: the parts the handler logged as ...Ms fields, and its total", async () => {
  const timed = postHandler("example", (_req, log) => {
    log.statusApiMs = 0.8;
    log.databaseMs = 1.2;
    log.orderId = "not a timing";
    return Promise.resolve(Response.json({ ok: true }));
  });
  const { result: response, lines } = await captureConsole(() =>
    timed(new Request(FUNCTION_URL, { method: "POST" }))
  );
  assert.match(
    response.headers.get("server-timing") ?? "",
    /^statusApi;dur=0\.8, database;dur=1\.2, total;dur=\d+\.\d\d$/,
  );
  assert.equal(lines[0].databaseMs, 1.2, "the log line has the same parts");

  const refusing = postHandler("example", () => {
    throw new HttpError("booking_not_paid", "Pay first.");
  });
  const { result: refused } = await captureConsole(() =>
    refusing(new Request(FUNCTION_URL, { method: "POST" }))
  );
  assert.equal(refused.status, 409);
  assert.match(
    refused.headers.get("server-timing") ?? "",
    /^total;dur=\d+\.\d\d$/,
  );
});
