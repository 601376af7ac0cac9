// Midtrans notifications as Midtrans sends them: signed with the real algorithm (SHA-512 of
// order_id + status_code + gross_amount + server key) and POSTed to the webhook over HTTP.

import { env } from "./env.ts";
import { midtransSignatureOf, postToWebhook } from "./midtrans.ts";

export type Notification = Record<string, unknown> & {
  order_id: string;
  transaction_id: string;
  transaction_status: string;
  status_code: string;
  gross_amount: string;
  fraud_status?: string;
  currency?: string;
};

/** The notification with the signature_key Midtrans would send for it. */
export function signed<T extends Notification>(
  notification: T,
  serverKey = env.midtransServerKey,
): T & { signature_key: string } {
  return {
    ...notification,
    signature_key: midtransSignatureOf(notification, serverKey),
  };
}

/** The status_code Midtrans sends with a transaction_status. */
export function statusCodeFor(transactionStatus: string): string {
  switch (transactionStatus) {
    case "settlement":
    case "capture":
    case "refund":
    case "partial_refund":
    case "chargeback":
    case "partial_chargeback":
      return "200";
    case "pending":
    case "authorize":
      return "201";
    default:
      return "202";
  }
}

export interface WebhookAnswer {
  status: number;
  /** The parsed JSON body, or undefined when the body was not JSON. */
  body: Record<string, unknown> | undefined;
  ms: number;
}

/** POSTs one notification (an object, or raw text) to the webhook of the server at `apiUrl`. */
export async function postNotification(
  notification: unknown,
  apiUrl = env.apiUrl,
  timeoutMs = 15_000,
): Promise<WebhookAnswer> {
  const started = performance.now();
  const response = await postToWebhook(
    typeof notification === "string"
      ? notification
      : JSON.stringify(notification),
    apiUrl,
    timeoutMs,
  );
  return {
    status: response.status,
    body: response.json as Record<string, unknown> | undefined,
    ms: Math.round(performance.now() - started),
  };
}
