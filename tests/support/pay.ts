// Paying a booking in tests: ONE place that decides how money arrives, so every email test pays
// the way Midtrans does (today a signed settlement notification to the webhook).
import { settleBackgroundWork } from "./http.ts";
import { deliver, followUp, settlement } from "./webhook.ts";

async function notify(
  what: string,
  orderId: string,
  transactionStatus: string,
  apiUrl?: string,
): Promise<void> {
  const notification = transactionStatus === "settlement"
    ? settlement(orderId)
    : followUp(settlement(orderId), transactionStatus);
  const response = await deliver(notification, { apiUrl });
  if (response.status !== 200) {
    throw new Error(
      `${what} ${orderId}: HTTP ${response.status} ${response.text}`,
    );
  }
  await settleBackgroundWork(apiUrl);
}

/** Settles `orderId` (150000.00 IDR) and waits for the background work it starts. */
export function pay(orderId: string, apiUrl?: string): Promise<void> {
  return notify("paying", orderId, "settlement", apiUrl);
}

/** Refunds the settlement `pay` made. */
export function refund(orderId: string, apiUrl?: string): Promise<void> {
  return notify("refunding", orderId, "refund", apiUrl);
}
