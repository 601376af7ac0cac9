// Model check: a reference model of the payment state machine (record_midtrans_notification in
// supabase/migrations/20261126110000_midtrans_confirmed_status.sql, rewritten here from its rules)
// and of what Midtrans confirms, then thousands of payment events through the Midtrans sandbox
// stand-in and the real webhook, 16 orders in flight. An event moves a transaction at Midtrans
// (PUT in the stand-in) and sends its signed notification, one to three times, often late
// (after later events), sometimes with an unsigned field edited, sometimes with a transaction_id
// Midtrans never issued. Events and deliveries of one order go one after another while different
// orders run concurrently, so the model replays each order in the order things happened. Then
// the database must equal the model, no two paid bookings may share a link for overlapping slots
// (the health check paid_bookings_sharing_a_link() reads no index), and every paid upcoming
// booking has a link or is flagged for a manual one.
import assert from "node:assert/strict";
import {
  addLinks,
  connect,
  type Notification,
  paidBookingsSharingALink,
  postToWebhook,
  prng,
  putTransaction,
  resetData,
  type SandboxTransaction,
  settleBackgroundWork,
  signed,
  statusCodeFor,
  statusFieldsOf,
} from "../support/mod.ts";

const SEED = Number(Deno.env.get("RELIABILITY_SEED") ?? 20261125);
const BOOKINGS = 320;
const UNKNOWN_ORDERS = 10;
const LINKS = 3;
const IN_FLIGHT = 16;
const AMOUNT = "100000.00";

const random = prng(SEED);
const pick = <T>(items: readonly T[]): T =>
  items[Math.floor(random() * items.length)];

// ---- the reference model --------------------------------------------------------------------

type Status =
  | "pending"
  | "paid"
  | "failed"
  | "expired"
  | "cancelled"
  | "refunded";

function targetStatus(ts: string, fraud: string | undefined): Status | null {
  if (ts === "settlement") return "paid";
  if (ts === "capture") {
    const f = fraud ?? "accept";
    return f === "accept" ? "paid" : f === "challenge" ? "pending" : "failed";
  }
  if (ts === "pending" || ts === "authorize") return "pending";
  if (ts === "deny" || ts === "failure") return "failed";
  if (ts === "cancel") return "cancelled";
  if (ts === "expire") return "expired";
  if (
    ["refund", "partial_refund", "chargeback", "partial_chargeback"].includes(
      ts,
    )
  ) return "refunded";
  return null;
}

const reversesPayment = (ts: string) =>
  [
    "deny",
    "cancel",
    "refund",
    "partial_refund",
    "chargeback",
    "partial_chargeback",
  ]
    .includes(ts);

// The notification's fields the log compares with Midtrans's answer.
const COMPARED = [
  "transaction_status",
  "status_code",
  "fraud_status",
  "gross_amount",
  "currency",
];

interface BookingState {
  status: Status;
  paidTransactionId: string | null;
  reviewReason: string | null;
}

interface Row {
  order_id: string;
  transaction_id: string;
  transaction_status: string;
  status_code: string;
  fraud_status: string | null;
  outcome: string;
  deliveries: number;
  payment_status_before: string | null;
  payment_status_after: string | null;
  notified_differences: Record<string, unknown>;
}

/** What the webhook answers: a status and an outcome or error code. */
type Answer = { status: number; code: string };

class Model {
  readonly bookings = new Map<string, BookingState>();
  readonly rows = new Map<string, Row>();
  /** What the stand-in answers for each transaction_id (ids never equal an order_id here). */
  readonly midtrans = new Map<string, SandboxTransaction>();

  /** Applies one delivery as the webhook should, after asking Midtrans. */
  deliver(n: Notification): Answer {
    const c = this.midtrans.get(n.transaction_id);
    if (!c) return { status: 404, code: "transaction_not_found" };
    const fraud = c.fraud_status as string | undefined;
    const key = JSON.stringify([
      c.order_id,
      c.transaction_id,
      c.transaction_status,
      c.status_code,
      fraud ?? null,
    ]);
    const existing = this.rows.get(key);
    if (existing) {
      existing.deliveries++;
      return { status: 200, code: "duplicate" };
    }
    const booking = this.bookings.get(c.order_id);
    const target = targetStatus(c.transaction_status, fraud);
    const currency = (c.currency as string | undefined) ?? "IDR";
    let outcome: string;
    let after: Status | null = null;
    let review: string | null = null;
    if (!booking) {
      outcome = "unknown_order";
    } else if (
      target === "paid" &&
      [...this.rows.values()].some((r) =>
        r.order_id === c.order_id && r.transaction_id === c.transaction_id &&
        reversesPayment(r.transaction_status)
      )
    ) {
      outcome = "ignored";
    } else if (
      target === "paid" &&
      (booking.status === "paid" || booking.status === "refunded")
    ) {
      outcome = "ignored";
      if (c.transaction_id !== booking.paidTransactionId) {
        review =
          `transaction ${c.transaction_id} also settled for this ${booking.status} booking`;
      }
    } else if (target === "paid") {
      if (c.status_code !== "200") {
        review =
          `transaction ${c.transaction_id} reported ${c.transaction_status} with status_code ${c.status_code}, which is not a payment`;
      } else if (
        Number(c.gross_amount) !== Number(AMOUNT) || currency !== "IDR"
      ) {
        review =
          `transaction ${c.transaction_id} reported ${c.gross_amount} ${currency}; the booking costs ${AMOUNT} IDR`;
      }
      outcome = review ? "needs_review" : "paid";
      after = review ? null : "paid";
    } else if (
      (target === "failed" || target === "expired" || target === "cancelled") &&
      booking.status === "pending"
    ) {
      outcome = "status_changed";
      after = target;
    } else if (
      booking.status === "paid" && reversesPayment(c.transaction_status) &&
      c.transaction_id === booking.paidTransactionId
    ) {
      outcome = "status_changed";
      after = target;
    } else {
      outcome = "ignored";
    }
    const differences: Record<string, unknown> = {};
    for (const field of COMPARED) {
      if (field in n && n[field] !== c[field]) {
        differences[field] = {
          notified: n[field],
          confirmed: c[field] ?? null,
        };
      }
    }
    this.rows.set(key, {
      order_id: c.order_id,
      transaction_id: c.transaction_id,
      transaction_status: c.transaction_status,
      status_code: c.status_code,
      fraud_status: fraud ?? null,
      outcome,
      deliveries: 1,
      payment_status_before: booking?.status ?? null,
      payment_status_after: after ?? booking?.status ?? null,
      notified_differences: differences,
    });
    if (booking) {
      if (after) booking.status = after;
      if (after === "paid") booking.paidTransactionId = c.transaction_id;
      if (review) booking.reviewReason = review;
    }
    return outcome === "unknown_order"
      ? { status: 404, code: "order_not_found" }
      : { status: 200, code: outcome };
  }
}

// ---- the workload ---------------------------------------------------------------------------

const STATUSES: [string, string | undefined][] = [
  ["pending", undefined],
  ["settlement", undefined],
  ["settlement", undefined],
  ["settlement", undefined],
  ["settlement", undefined],
  ["settlement", undefined],
  ["capture", "accept"],
  ["capture", "challenge"],
  ["capture", "deny"],
  ["capture", undefined],
  ["authorize", undefined],
  ["deny", undefined],
  ["cancel", undefined],
  ["expire", undefined],
  ["failure", undefined],
  ["refund", undefined],
  ["partial_refund", undefined],
  ["chargeback", undefined],
  ["partial_chargeback", undefined],
  ["some_future_status", undefined],
];

/** Midtrans moves a transaction (PUT), or a notification of an earlier move arrives. */
type Step =
  | { put: Record<string, unknown>; event: number }
  | { deliverEvent: number; edit: "none" | "status" | "forged" };

/** About eleven moves of an order over 1 to 3 transactions, each notified 1 to 3 times, often late. */
function stepsFor(orderId: string): Step[] {
  const transactions = 1 + Math.floor(random() * 3);
  const events = 9 + Math.floor(random() * 5);
  const timed: { at: number; step: Step }[] = [];
  for (let event = 0; event < events; event++) {
    const [status, fraud] = pick(STATUSES);
    const fields: Record<string, unknown> = {
      transaction_id: `${orderId}-t${1 + Math.floor(random() * transactions)}`,
      transaction_status: status,
      status_code: random() < 0.05 ? "201" : statusCodeFor(status),
      gross_amount: pick([AMOUNT, AMOUNT, AMOUNT, "100000", "99999.00"]),
      payment_type: "bank_transfer",
    };
    if (fraud) fields.fraud_status = fraud;
    if (random() < 0.3) fields.currency = random() < 0.9 ? "IDR" : "USD";
    timed.push({ at: event, step: { put: fields, event } });
    const copies = 1 + (random() < 0.4 ? 1 : 0) + (random() < 0.15 ? 1 : 0);
    for (let c = 0; c < copies; c++) {
      const roll = random();
      timed.push({
        // Half arrive before the next move, the rest up to four moves late.
        at: event + (random() < 0.5 ? 0.5 : 0.5 + random() * 4),
        step: {
          deliverEvent: event,
          edit: roll < 0.1 ? "status" : roll < 0.13 ? "forged" : "none",
        },
      });
    }
  }
  return timed.sort((a, b) => a.at - b.at).map((t) => t.step);
}

Deno.test(`${BOOKINGS} bookings, thousands of payment events through the Midtrans stand-in, notified late, twice, edited or forged, ${IN_FLIGHT} in flight: the database equals the model, links never overlap, every paid booking has a link or a flag`, async () => {
  const sql = connect();
  try {
    await resetData(sql);
    await addLinks(sql, LINKS, "mdl");
    // Slots of 30 to 90 minutes at half hours over one day: they overlap, the pool is small.
    const slots = Array.from({ length: BOOKINGS }, (_, i) => ({
      order_id: `model-${i + 1}`,
      start: Math.floor(random() * 48) * 30,
      minutes: pick([30, 60, 90]),
    }));
    await sql`
      insert into bookings (order_id, starts_at, ends_at, amount)
      select s.order_id, timestamptz '2031-04-01 00:00Z' + s.start * interval '1 minute',
        timestamptz '2031-04-01 00:00Z' + (s.start + s.minutes) * interval '1 minute', ${AMOUNT}
      from jsonb_to_recordset(${
      sql.json(slots)
    }) as s(order_id text, start int, minutes int)`;

    const model = new Model();
    for (const s of slots) {
      model.bookings.set(s.order_id, {
        status: "pending",
        paidTransactionId: null,
        reviewReason: null,
      });
    }
    const orders = [
      ...slots.map((s) => s.order_id),
      ...Array.from(
        { length: UNKNOWN_ORDERS },
        (_, i) => `model-unknown-${i + 1}`,
      ),
    ];
    const plans = orders.map((order) => ({ order, steps: stepsFor(order) }));
    const counts = { moves: 0, deliveries: 0, edited: 0, forged: 0 };

    // Each order's steps in sequence; IN_FLIGHT orders at once.
    const mismatches: string[] = [];
    let nextPlan = 0;
    const started = performance.now();
    await Promise.all(Array.from({ length: IN_FLIGHT }, async () => {
      while (nextPlan < plans.length) {
        const { order, steps } = plans[nextPlan++];
        const moved: SandboxTransaction[] = [];
        for (const step of steps) {
          if ("put" in step) {
            const stored = await putTransaction(order, step.put);
            moved[step.event] = stored;
            model.midtrans.set(stored.transaction_id, stored);
            counts.moves++;
            continue;
          }
          const sent = statusFieldsOf(moved[step.deliverEvent]) as Notification;
          if (step.edit === "status") {
            sent.transaction_status = pick(STATUSES)[0];
            counts.edited++;
          } else if (step.edit === "forged") {
            sent.transaction_id = `${order}-forged`;
            counts.forged++;
          }
          const n = signed(sent);
          const answer = await postToWebhook(n);
          const expected = model.deliver(n);
          counts.deliveries++;
          const got = {
            status: answer.status,
            code: String(answer.json?.error ?? answer.json?.outcome),
          };
          if (got.status !== expected.status || got.code !== expected.code) {
            mismatches.push(
              `${JSON.stringify(n)}: expected ${
                JSON.stringify(expected)
              }, got ${JSON.stringify(got)}`,
            );
          }
        }
      }
    }));
    const seconds = (performance.now() - started) / 1000;
    assert.deepEqual(mismatches.slice(0, 5), [], "every answer is the model's");

    // Let the background assign calls finish, then run the sweep's function once.
    const deadline = Date.now() + 60_000;
    while (await settleBackgroundWork() > 0) {
      assert.ok(Date.now() < deadline, "background work settles within 60 s");
    }
    await sql`select assign_pending_meeting_links()`;

    const bookings = await sql<
      {
        order_id: string;
        payment_status: string;
        paid_transaction_id: string | null;
        review_reason: string | null;
      }[]
    >`select order_id, payment_status, paid_transaction_id, review_reason
      from bookings order by order_id`;
    assert.deepEqual(
      bookings.map((b) => ({ ...b })),
      [...model.bookings].sort(([a], [b]) => a < b ? -1 : a > b ? 1 : 0).map((
        [order_id, s],
      ) => ({
        order_id,
        payment_status: s.status,
        paid_transaction_id: s.paidTransactionId,
        review_reason: s.reviewReason,
      })),
      "every booking's payment status, paying transaction and review reason are the model's",
    );

    const rows = await sql<Row[]>`
      select order_id, transaction_id, transaction_status, status_code, fraud_status, outcome,
        deliveries, payment_status_before, payment_status_after, notified_differences
      from midtrans_notifications`;
    const byKey = (r: Row) =>
      JSON.stringify([
        r.order_id,
        r.transaction_id,
        r.transaction_status,
        r.status_code,
        r.fraud_status,
      ]);
    const sort = (list: Row[]) =>
      list.map((r) => ({ ...r })).sort((a, b) => byKey(a) < byKey(b) ? -1 : 1);
    assert.deepEqual(
      sort(rows),
      sort([...model.rows.values()]),
      "every confirmed state is stored once, with the model's outcome, delivery count and differences",
    );
    const recorded = rows.reduce((sum, r) => sum + r.deliveries, 0);
    assert.equal(
      recorded,
      counts.deliveries - counts.forged,
      "every delivery Midtrans confirmed is counted; forged ones wrote nothing",
    );

    // The exclusion invariant, by the health check that trusts neither the constraint nor any
    // index on it.
    assert.deepEqual(
      await paidBookingsSharingALink(sql),
      [],
      "no two paid bookings share a link for overlapping slots",
    );

    const [links] = await sql`
      select
        count(*) filter (where payment_status = 'paid')::int as paid,
        count(*) filter (where payment_status = 'paid' and meeting_link_id is not null)::int
          as with_link,
        count(*) filter (where payment_status = 'paid' and needs_manual_link)::int as flagged,
        count(*) filter (where payment_status = 'paid' and meeting_link_id is null
          and not needs_manual_link)::int as waiting_unflagged,
        count(*) filter (where payment_status <> 'paid'
          and (meeting_link_id is not null or needs_manual_link))::int as unpaid_holding,
        count(*) filter (where payment_status = 'paid' and meeting_link_id is null
          and exists (select 1 from find_available_meeting_link(starts_at, ends_at)))::int
          as waiting_with_free_link
      from bookings`;
    assert.equal(
      links.waiting_unflagged,
      0,
      "a paid booking without link is flagged",
    );
    assert.equal(
      links.unpaid_holding,
      0,
      "an unpaid booking holds no link or flag",
    );
    assert.equal(
      links.waiting_with_free_link,
      0,
      "no paid booking waits while a link is free for its slot",
    );
    console.log(
      `model check (seed ${SEED}): ${counts.moves} moves at Midtrans and ${counts.deliveries} deliveries (${counts.edited} with an edited transaction_status, ${counts.forged} with a forged transaction_id) for ${BOOKINGS} bookings and ${UNKNOWN_ORDERS} unknown orders in ${
        seconds.toFixed(1)
      } s, ${IN_FLIGHT} in flight; ${model.rows.size} confirmed states recorded; ${links.paid} paid (${links.with_link} with a link, ${links.flagged} flagged), 0 overlapping pairs, 0 mismatches`,
    );
  } finally {
    await sql.end({ timeout: 5 });
  }
});
