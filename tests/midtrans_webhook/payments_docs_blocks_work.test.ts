// docs/payments.md claims its "Replay a notification locally" curl calls pay a booking and its SQL
// blocks run: both are run here, against the test stack (its ports instead of scripts/start's).
import assert from "node:assert/strict";
import {
  bookingState,
  createBooking,
  env,
  settleBackgroundWork,
  webhookTest,
} from "../support/mod.ts";

const DOC = Deno.readTextFileSync(
  new URL("../../docs/payments.md", import.meta.url),
);

/** The fenced blocks of one language, each with the heading it sits under. */
function blocks(language: string): { heading: string; code: string }[] {
  const found: { heading: string; code: string }[] = [];
  let heading = "";
  const fence = new RegExp("^```" + language + "\\n([\\s\\S]*?)^```", "gm");
  for (const part of DOC.split(/^(?=## )/m)) {
    heading = part.split("\n", 1)[0];
    for (const match of part.matchAll(fence)) {
      found.push({ heading, code: match[1] });
    }
  }
  return found;
}

webhookTest(
  "the replay in docs/payments.md pays seed-order-4 with its two curl calls, and its SQL blocks run",
  async (sql) => {
    const [replay] = blocks("sh").filter((b) =>
      b.heading === "## Replay a notification locally"
    );
    assert.ok(replay, "the replay section has a sh block");
    await createBooking(sql, "seed-order-4");
    const script = replay.code
      .replaceAll("http://127.0.0.1:54326", env.midtransApiUrl)
      .replaceAll("http://127.0.0.1:54321", env.apiUrl);
    const { code, stdout, stderr } = await new Deno.Command("bash", {
      args: ["-euo", "pipefail", "-c", script],
    }).output();
    const out = new TextDecoder().decode(stdout);
    assert.equal(code, 0, new TextDecoder().decode(stderr));
    assert.match(out, /"status":200,"body":\{"received":true,"outcome":"paid"/);
    await settleBackgroundWork();
    const state = await bookingState(sql, "seed-order-4");
    assert.equal(state.payment_status, "paid");
    assert.notEqual(state.meeting_link, null);

    const queries = blocks("sql");
    assert.ok(queries.length >= 2);
    for (const { heading, code: query } of queries) {
      await sql.unsafe(query).catch((error) => {
        throw new Error(`${heading}: ${error.message}`);
      });
    }
    const [history] = await sql`
      select transaction_status, payload ->> 'transaction_id' as sent, confirmed ->> 'status_code' as code
      from midtrans_notifications where order_id = 'seed-order-4'`;
    assert.deepEqual({ ...history }, {
      transaction_status: "settlement",
      sent: "replay-1",
      code: "200",
    });
  },
);
