// The drain requests of one function instance: at most one in flight, and requests made meanwhile
// fold into exactly one more.
import assert from "node:assert/strict";
import { coalescing } from "../../supabase/functions/_shared/email_drain.ts";

/** A drain sender whose requests end when the test says so. */
function controlledSender() {
  const pending: (() => void)[] = [];
  let started = 0;
  let waiter: (() => void) | undefined;
  const send = () => {
    started++;
    waiter?.();
    return new Promise<void>((resolve) => pending.push(resolve));
  };
  return {
    send,
    get started() {
      return started;
    },
    get inFlight() {
      return pending.length;
    },
    /** Resolves when the sender has been called `n` times in all. */
    startedCount(n: number): Promise<void> {
      if (started >= n) return Promise.resolve();
      return new Promise((resolve) => {
        waiter = () => {
          if (started >= n) resolve();
        };
      });
    },
    finishOne() {
      pending.shift()!();
    },
  };
}

Deno.test("one request, one drain", async () => {
  const sender = controlledSender();
  const request = coalescing(sender.send);
  const done = request();
  assert.equal(sender.started, 1);
  sender.finishOne();
  await done;
  assert.equal(sender.started, 1);
});

Deno.test("requests while a drain is in flight fold into exactly one more, sent after it", async () => {
  const sender = controlledSender();
  const request = coalescing(sender.send);
  const first = request();
  const during = [request(), request(), request()];
  assert.equal(
    sender.started,
    1,
    "no second drain while the first is in flight",
  );
  assert.equal(sender.inFlight, 1);
  sender.finishOne();
  await sender.startedCount(2);
  assert.equal(sender.inFlight, 1, "the follow-up drain is alone in flight");
  sender.finishOne();
  await Promise.all([first, ...during]);
  assert.equal(
    sender.started,
    2,
    "three requests during the first drain cost one more",
  );
});

Deno.test("a request during the follow-up drain gets one more again; idle requests start anew", async () => {
  const sender = controlledSender();
  const request = coalescing(sender.send);
  const all = [request(), request()];
  sender.finishOne();
  await sender.startedCount(2);
  all.push(request());
  sender.finishOne();
  await sender.startedCount(3);
  sender.finishOne();
  await Promise.all(all);
  assert.equal(sender.started, 3);

  const later = request();
  assert.equal(sender.started, 4, "once idle, a request drains at once");
  sender.finishOne();
  await later;
});

Deno.test("a failing drain does not wedge the requester", async () => {
  let calls = 0;
  const request = coalescing(() => {
    calls++;
    return Promise.reject(new Error("boom"));
  });
  await assert.rejects(request(), /boom/);
  await assert.rejects(request(), /boom/);
  assert.equal(calls, 2);
});
