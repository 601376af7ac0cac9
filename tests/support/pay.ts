// Paying a booking in tests: ONE place that decides how money arrives, so every email test pays
// the way Midtrans does (today a signed settlement notification to the webhook).
import { env } from "./env.ts";
import { deliver, settlement } from "./midtrans.ts";
import { settleBackgroundWork } from "./http.ts";

/** Settles `orderId` (150000.00 IDR) through the webhook and waits for its background work. */
export async function pay(orderId: string, apiUrl = env.apiUrl): Promise<void> {
  const response = await deliver(settlement(orderId), { apiUrl });
  if (response.status !== 200) {
    throw new Error(
      `paying ${orderId}: HTTP ${response.status} ${response.text}`,
    );
  }
  await settleBackgroundWork(apiUrl);
}

/** Refunds the settlement `pay` made, through the webhook. */
export async function refund(
  orderId: string,
  apiUrl = env.apiUrl,
): Promise<void> {
  const response = await deliver(
    {
      ...settlement(orderId),
      transaction_status: "refund",
      status_code: "200",
    },
    { apiUrl },
  );
  if (response.status !== 200) {
    throw new Error(
      `refunding ${orderId}: HTTP ${response.status} ${response.text}`,
    );
  }
  await settleBackgroundWork(apiUrl);
}
