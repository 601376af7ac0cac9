// Midtrans notifications for the webhook tests: the published samples in tests/fixtures/midtrans,
// signed with an implementation of the algorithm of our own (node:crypto, not the function's code,
// so a bug there cannot hide itself), and POSTed over real HTTP as Midtrans does.

import { createHash } from "node:crypto";
import { addLinks, resetData } from "./data.ts";
import { connect, type Sql } from "./db.ts";
import { env } from "./env.ts";
import { putTransaction, statusFieldsOf } from "./midtrans_sandbox.ts";
import { statusCodeFor } from "../../scripts/midtrans_status_codes.ts";
import {
  callFunction,
  type FunctionResponse,
  settleBackgroundWork,
} from "./http.ts";

export { statusCodeFor };

/** A notification as Midtrans sends it: a JSON object of strings, with these fields at least. */
export type Notification = {
  order_id: string;
  transaction_id: string;
  transaction_status: string;
  status_code: string;
  gross_amount: string;
  fraud_status?: string;
  currency?: string;
  signature_key?: string;
  [field: string]: unknown;
};

export type Sample =
  | "card_capture_accept"
  | "gopay_settlement"
  | "bca_va_settlement"
  | "permata_va_expire"
  | "signature_vector";

/** A published Midtrans sample, parsed afresh (callers may change it). */
export function sample(name: Sample): Notification {
  const url = new URL(`../fixtures/midtrans/${name}.json`, import.meta.url);
  return JSON.parse(Deno.readTextFileSync(url));
}

type Signed = Pick<Notification, "order_id" | "status_code" | "gross_amount">;

/** hex SHA-512 of order_id + status_code + gross_amount + server key, strings as they are. */
function midtransSignatureOf(
  n: Signed,
  serverKey = env.midtransServerKey,
): string {
  return createHash("sha512")
    .update(`${n.order_id}${n.status_code}${n.gross_amount}${serverKey}`)
    .digest("hex");
}

/** A copy of `n` with the signature_key Midtrans would send for it under `serverKey`. */
export function signed<T extends Signed>(
  n: T,
  serverKey = env.midtransServerKey,
): T & { signature_key: string } {
  return { ...n, signature_key: midtransSignatureOf(n, serverKey) };
}

/** A settlement for `orderId` in the shape of the GoPay sample. */
export function settlement(
  orderId: string,
  fields: Partial<Notification> = {},
): Notification {
  return {
    ...sample("gopay_settlement"),
    order_id: orderId,
    transaction_id: `tx-${orderId}`,
    gross_amount: "150000.00",
    ...fields,
  };
}

/** The same transaction reported with another status (and its status_code). */
export function followUp(
  n: Notification,
  transactionStatus: string,
  statusCode = statusCodeFor(transactionStatus),
): Notification {
  return {
    ...n,
    transaction_status: transactionStatus,
    status_code: statusCode,
  };
}

export interface PostOptions {
  /** Another functions server than the shared one. */
  apiUrl?: string;
  timeoutMs?: number;
  /** Another Midtrans sandbox stand-in than the shared one (deliver only). */
  sandboxUrl?: string;
}

/** POSTs a body (text as is, anything else as JSON) to midtrans-webhook as Midtrans does: no credentials. */
export function postToWebhook(
  body: unknown,
  { apiUrl, timeoutMs = 15_000 }: PostOptions = {},
): Promise<FunctionResponse> {
  return callFunction("midtrans-webhook", {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: typeof body === "string" ? body : JSON.stringify(body),
    apiUrl,
    timeoutMs,
  });
}

/**
 * Midtrans sends `n`: its transaction becomes `n` in the sandbox stand-in (what the webhook's
 * status call will confirm), then `n` is signed with the test server key and POSTed. A late,
 * copied or edited notification is `postToWebhook(signed(n))` alone.
 */
export async function deliver(
  n: Notification,
  options: PostOptions = {},
): Promise<FunctionResponse> {
  await putTransaction(n.order_id, statusFieldsOf(n), options.sandboxUrl);
  return await postToWebhook(signed(n), options);
}

/** The `error` code, or the `outcome`, of a webhook answer. */
export function answer(
  response: FunctionResponse,
): { status: number; error?: string; outcome?: string } {
  const body = (response.json ?? {}) as { error?: string; outcome?: string };
  return {
    status: response.status,
    ...(body.error === undefined ? {} : { error: body.error }),
    ...(body.outcome === undefined ? {} : { outcome: body.outcome }),
  };
}

/**
 * A webhook test: an empty database with `links` pool links, a connection, and afterwards the
 * background work it started settled, so nothing spills into the next test.
 */
export function webhookTest(
  name: string,
  fn: (sql: Sql) => Promise<void>,
  { links = 1 } = {},
): void {
  Deno.test(name, async () => {
    const sql = connect();
    try {
      await resetData(sql);
      if (links > 0) await addLinks(sql, links);
      await fn(sql);
    } finally {
      await settleBackgroundWork();
      await sql.end({ timeout: 5 });
    }
  });
}
