// Midtrans Payment Notification URL. Verifies the signature, asks Midtrans for the transaction's
// status, records the notification once with what Midtrans confirmed, moves the booking's payment
// status, and gives a paid booking its meeting link after answering.
import { runInBackground } from "../_shared/background.ts";
import { drainIfQueued, emailDrainRequester } from "../_shared/email_drain.ts";
import type { Env } from "../_shared/env.ts";
import { HttpError } from "../_shared/errors.ts";
import { json, parseWith, postHandler, readJson } from "../_shared/http.ts";
import { assignPaidBooking } from "../_shared/meeting_links.ts";
import {
  confirmWithMidtrans,
  MidtransNotification,
  midtransServerKey,
  recordNotification,
  verifyMidtransSignature,
} from "../_shared/midtrans.ts";

const tenths = (ms: number) => Math.round(ms * 10) / 10;

/** The handler with its settings read from `env` (tests pass their own). */
export function fetchWith(env: Env = Deno.env) {
  const requestDrain = emailDrainRequester("midtrans-webhook", env);
  return postHandler("midtrans-webhook", async (req, log) => {
    const serverKey = midtransServerKey(env);
    const body = await readJson(req, 64 * 1024);
    const notification = parseWith(MidtransNotification, body);
    log.orderId = notification.order_id;
    log.transactionStatus = notification.transaction_status;
    // The signature is a cheap filter: it does not cover transaction_status or transaction_id.
    await verifyMidtransSignature(notification, serverKey);

    const started = performance.now();
    const confirmed = await confirmWithMidtrans(notification, serverKey, env);
    log.statusApiMs = tenths(performance.now() - started);
    log.confirmedStatus = confirmed.transaction_status;

    const recording = performance.now();
    const recorded = await recordNotification(body, confirmed, env);
    log.databaseMs = tenths(performance.now() - recording);
    log.bookingId = recorded.booking_id;
    log.outcome = recorded.outcome;
    if (Object.keys(recorded.notified_differences).length > 0) {
      log.notifiedDifferences = recorded.notified_differences;
    }
    if (recorded.needs_link && recorded.booking_id) {
      runInBackground(
        assignPaidBooking(
          recorded.booking_id,
          requestDrain,
          "midtrans-webhook",
          env,
        ),
      );
    } else if (
      (recorded.outcome === "status_changed" || recorded.outcome === "paid") &&
      recorded.booking_id
    ) {
      // A booking that stops being paid may have queued its customer's cancellation, and one
      // paid with the link it held at checkout its invite: send it now.
      runInBackground(
        drainIfQueued(
          recorded.booking_id,
          requestDrain,
          "midtrans-webhook",
          env,
        ),
      );
    }
    if (recorded.outcome === "unknown_order") {
      // Stored all the same: applied when Midtrans retries after the booking exists.
      throw new HttpError(
        "order_not_found",
        `No booking has order_id ${notification.order_id}.`,
      );
    }
    return json({
      received: true,
      outcome: recorded.outcome,
      confirmedStatus: confirmed.transaction_status,
      bookingId: recorded.booking_id,
      paymentStatus: recorded.payment_status,
    });
  });
}

export default { fetch: fetchWith() };
