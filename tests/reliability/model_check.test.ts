// Model check: a reference model of the payment state machine (record_midtrans_notification in
// supabase/migrations/20261125170000_midtrans_notifications.sql, rewritten here from its rules),
// then thousands of signed notifications with duplicates and reordering sent through the real
// webhook, 16 in flight. Notifications of one booking go one after another (in a shuffled
// order) while different bookings run concurrently, so the model can replay each booking in the
// order its notifications were sent. Then the database must equal the model, no two paid
// bookings may share a link for overlapping slots (checked by the health check paid_bookings_sharing_a_link(), which reads no index),
// and every paid upcoming booking has a link or is flagged for a manual one.
import assert from "node:assert/strict";
import {
  addLinks,
  connect,
  type Notification,
  paidBookingsSharingALink,
  postToWebhook,
  prng,
  resetData,
  settleBackgroundWork,
  signed,
  statusCodeFor,
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
function shuffle<T>(items: T[]): T[] {
  for (let i = items.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [items[i], items[j]] = [items[j], items[i]];
  }
  return items;
}

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
}

class Model {
  readonly bookings = new Map<string, BookingState>();
  readonly rows = new Map<string, Row>();

  /** Applies one delivery; returns the outcome the webhook answers with. */
  deliver(n: Notification): string {
    const key = JSON.stringify([
      n.transaction_id,
      n.transaction_status,
      n.status_code,
      n.fraud_status ?? null,
    ]);
    const existing = this.rows.get(key);
    if (existing) {
      existing.deliveries++;
      return "duplicate";
    }
    const booking = this.bookings.get(n.order_id);
    const target = targetStatus(n.transaction_status, n.fraud_status);
    const currency = n.currency ?? "IDR";
    let outcome: string;
    let after: Status | null = null;
    let review: string | null = null;
    if (!booking) {
      outcome = "unknown_order";
    } else if (
      target === "paid" &&
      [...this.rows.values()].some((r) =>
        r.order_id === n.order_id && r.transaction_id === n.transaction_id &&
        reversesPayment(r.transaction_status)
      )
    ) {
      outcome = "ignored";
    } else if (
      target === "paid" &&
      (booking.status === "paid" || booking.status === "refunded")
    ) {
      outcome = "ignored";
      if (
        n.transaction_id !== (booking.paidTransactionId ?? n.transaction_id)
      ) {
        review =
          `transaction ${n.transaction_id} also settled for this ${booking.status} booking`;
      }
    } else if (target === "paid") {
      if (n.status_code !== "200") {
        review =
          `transaction ${n.transaction_id} reported ${n.transaction_status} with status_code ${n.status_code}, which is not a payment`;
      } else if (
        Number(n.gross_amount) !== Number(AMOUNT) || currency !== "IDR"
      ) {
        review =
          `transaction ${n.transaction_id} reported ${n.gross_amount} ${currency}; the booking costs ${AMOUNT} IDR`;
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
      booking.status === "paid" && reversesPayment(n.transaction_status) &&
      n.transaction_id === (booking.paidTransactionId ?? n.transaction_id)
    ) {
      outcome = "status_changed";
      after = target;
    } else {
      outcome = "ignored";
    }
    this.rows.set(key, {
      order_id: n.order_id,
      transaction_id: n.transaction_id,
      transaction_status: n.transaction_status,
      status_code: n.status_code,
      fraud_status: n.fraud_status ?? null,
      outcome,
      deliveries: 1,
      payment_status_before: booking?.status ?? null,
      payment_status_after: after ?? booking?.status ?? null,
    });
    if (booking) {
      if (after) booking.status = after;
      if (after === "paid") booking.paidTransactionId = n.transaction_id;
      if (review) booking.reviewReason = review;
    }
    return outcome;
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

/** About eleven distinct notifications for an order over 1 to 3 transactions, some repeated. */
function notificationsFor(orderId: string): Notification[] {
  const transactions = 1 + Math.floor(random() * 3);
  const distinct = 9 + Math.floor(random() * 5);
  const deliveries: Notification[] = [];
  for (let i = 0; i < distinct; i++) {
    const [status, fraud] = pick(STATUSES);
    const n: Notification = {
      order_id: orderId,
      transaction_id: `${orderId}-t${1 + Math.floor(random() * transactions)}`,
      transaction_status: status,
      status_code: random() < 0.05 ? "201" : statusCodeFor(status),
      gross_amount: pick([AMOUNT, AMOUNT, AMOUNT, "100000", "99999.00"]),
      payment_type: "bank_transfer",
    };
    if (fraud) n.fraud_status = fraud;
    if (random() < 0.3) n.currency = random() < 0.9 ? "IDR" : "USD";
    const copies = 1 + (random() < 0.4 ? 1 : 0) + (random() < 0.15 ? 1 : 0);
    for (let c = 0; c < copies; c++) deliveries.push(n);
  }
  return shuffle(deliveries);
}

Deno.test(`${BOOKINGS} bookings, thousands of signed notifications with duplicates and reordering, ${IN_FLIGHT} in flight: the database equals the model, links never overlap, every paid booking has a link or a flag`, async () => {
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
    const queues = orders.map((order) =>
      notificationsFor(order).map((n) => signed(n))
    );
    const total = queues.reduce((sum, q) => sum + q.length, 0);

    // Each booking's notifications in sequence; IN_FLIGHT bookings at once.
    const mismatches: string[] = [];
    let nextQueue = 0;
    const started = performance.now();
    await Promise.all(Array.from({ length: IN_FLIGHT }, async () => {
      while (nextQueue < queues.length) {
        for (const n of queues[nextQueue++]) {
          const answer = await postToWebhook(n);
          const expected = model.deliver(n);
          const expectedStatus = expected === "unknown_order" ? 404 : 200;
          const outcome = answer.status === 404
            ? "unknown_order"
            : answer.json?.outcome;
          if (answer.status !== expectedStatus || outcome !== expected) {
            mismatches.push(
              `${
                JSON.stringify(n)
              }: expected ${expectedStatus} ${expected}, got ${answer.status} ${
                JSON.stringify(answer.json)
              }`,
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
        deliveries, payment_status_before, payment_status_after
      from midtrans_notifications`;
    const byKey = (r: Row) =>
      JSON.stringify([
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
      "every notification is stored once, with the model's outcome and delivery count",
    );
    const deliveries = rows.reduce((sum, r) => sum + r.deliveries, 0);
    assert.equal(deliveries, total, "every delivery is counted");

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
      `model check (seed ${SEED}): ${total} deliveries (${model.rows.size} distinct notifications) for ${BOOKINGS} bookings and ${UNKNOWN_ORDERS} unknown orders in ${
        seconds.toFixed(1)
      } s, ${IN_FLIGHT} in flight; ${links.paid} paid (${links.with_link} with a link, ${links.flagged} flagged), 0 overlapping pairs, 0 mismatches`,
    );
  } finally {
    await sql.end({ timeout: 5 });
  }
});
