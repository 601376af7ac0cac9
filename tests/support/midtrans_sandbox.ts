// The Midtrans sandbox stand-in (scripts/midtrans_sandbox.ts): Midtrans's side of a payment. A
// test makes a transaction what Midtrans will confirm (PUT), has it notify the webhook, switches
// its Get Status API to a fault, or starts an instance of its own (to stop it, or on a port a
// functions server will only find later).
import { env } from "./env.ts";
import { type RunningServer, spawnDenoServer } from "./server.ts";

/** What the stand-in's Get Status API answers for a transaction (all of Midtrans's fields). */
export type SandboxTransaction = Record<string, unknown> & {
  order_id: string;
  transaction_id: string;
  transaction_status: string;
  status_code: string;
  gross_amount: string;
  signature_key: string;
};

async function call(
  method: string,
  path: string,
  body: unknown,
  sandboxUrl: string,
): Promise<{ status: number; json: Record<string, unknown> }> {
  const response = await fetch(`${sandboxUrl}${path}`, {
    method,
    headers: { "content-type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
    signal: AbortSignal.timeout(20_000),
  });
  return { status: response.status, json: await response.json() };
}

/**
 * Makes `fields` (transaction_id, transaction_status, gross_amount, ...) the order's transaction
 * as the Get Status API will answer it, and returns the stored transaction.
 */
export async function putTransaction(
  orderId: string,
  fields: Record<string, unknown>,
  sandboxUrl = env.midtransApiUrl,
): Promise<SandboxTransaction> {
  const { status, json } = await call(
    "PUT",
    `/_sandbox/transactions/${encodeURIComponent(orderId)}`,
    fields,
    sandboxUrl,
  );
  if (status !== 200) {
    throw new Error(
      `PUT transaction ${orderId}: ${status} ${JSON.stringify(json)}`,
    );
  }
  return json as SandboxTransaction;
}

/** The stand-in POSTs the order's current status, signed, to the webhook; its answer. */
export async function notifyFromSandbox(
  orderId: string,
  sandboxUrl = env.midtransApiUrl,
): Promise<{ status: number; body: Record<string, unknown> }> {
  const { json } = await call(
    "POST",
    `/_sandbox/transactions/${encodeURIComponent(orderId)}/notify`,
    undefined,
    sandboxUrl,
  );
  return json as { status: number; body: Record<string, unknown> };
}

/** The Get Status API answers normally, never answers, or answers 500. */
export async function setSandboxFault(
  mode: "none" | "hang" | "error",
  sandboxUrl = env.midtransApiUrl,
): Promise<void> {
  const { status } = await call("PUT", "/_sandbox/fault", { mode }, sandboxUrl);
  if (status !== 200) throw new Error(`PUT /_sandbox/fault ${mode}: ${status}`);
}

/** Midtrans's fields of a notification: what the stand-in must hold for it to be confirmed. */
export function statusFieldsOf(
  notification: Record<string, unknown>,
): Record<string, unknown> {
  const { signature_key: _, status_message: __, ...fields } = notification;
  return fields;
}

/**
 * A stand-in of its own on `port`, with the test server key (or `serverKey`), notifying the
 * webhook of `apiUrl`. Stop it to make Midtrans unreachable.
 */
export function spawnMidtransSandbox(
  port: number,
  { serverKey = env.midtransServerKey, apiUrl = env.apiUrl } = {},
): Promise<RunningServer> {
  return spawnDenoServer(
    "scripts/midtrans_sandbox.ts",
    port,
    "/_sandbox/health",
    {
      MIDTRANS_SANDBOX_HOST: "127.0.0.1",
      MIDTRANS_SANDBOX_PORT: String(port),
      MIDTRANS_SERVER_KEY: serverKey,
      MIDTRANS_NOTIFICATION_URL: `${apiUrl}/functions/v1/midtrans-webhook`,
    },
  );
}
