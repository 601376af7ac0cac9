// A stand-in for Midtrans's sandbox, for the local stack and the tests (no machine here reaches
// Midtrans). It answers the Get Status API as Midtrans documents it
// (https://docs.midtrans.com/docs/get-status-api-requests), and has a control API to make a
// transaction what its status says and to send its notification, signed, to the webhook.
//
//   GET  /v2/{order_id or transaction_id}/status   HTTP Basic with the server key as user name
//        200 the transaction (all fields strings, status_code "200" / "201" / "202"); an order_id
//        answers the order's latest transaction, a transaction_id that transaction (also an
//        earlier attempt). 404 {"status_code": "404", ...} unknown; 401 without the right key.
//   PUT  /_sandbox/transactions/{order_id}         JSON object of status fields (transaction_id,
//        transaction_status, gross_amount, status_code, fraud_status, payment_type, currency...).
//        It becomes what the status API answers. Left out: status_code follows transaction_status,
//        transaction_id stays that of the order's transaction (or a new one), currency is IDR.
//        signature_key is added with the server key. Answers 200 with the stored object; with
//        ?notify, notifies the webhook at once and answers as POST .../notify does.
//   POST /_sandbox/transactions/{order_id}/notify  POSTs the current status, signed, to the webhook
//        as Midtrans does; answers {"status": <webhook's HTTP status>, "body": <its JSON>}.
//   PUT  /_sandbox/fault {"mode": "none" | "hang" | "error"}   the status API answers normally,
//        never answers (until the mode changes), or answers 500: for fault tests.
//   GET  /_sandbox/health
//
// Env: MIDTRANS_SANDBOX_HOST (127.0.0.1), MIDTRANS_SANDBOX_PORT (54326), MIDTRANS_SERVER_KEY (the
// stack's key; required), MIDTRANS_NOTIFICATION_URL (the webhook; default the dev stack's).
// State lives in memory: a restart forgets every transaction.

import { statusCodeFor } from "./midtrans_status_codes.ts";

type Transaction = Record<string, unknown> & {
  order_id: string;
  transaction_id: string;
  transaction_status: string;
};
type FaultMode = "none" | "hang" | "error";

const hostname = Deno.env.get("MIDTRANS_SANDBOX_HOST") ?? "127.0.0.1";
const port = Number(Deno.env.get("MIDTRANS_SANDBOX_PORT") ?? "54326");
const serverKey = Deno.env.get("MIDTRANS_SERVER_KEY") ?? "";
const notificationUrl = Deno.env.get("MIDTRANS_NOTIFICATION_URL") ??
  "http://127.0.0.1:54321/functions/v1/midtrans-webhook";
// As long as Midtrans waits for a notification's answer.
const NOTIFY_TIMEOUT_MS = 15_000;

if (!serverKey) {
  console.error("midtrans sandbox: MIDTRANS_SERVER_KEY is not set");
  Deno.exit(1);
}

/** The latest transaction of each order, and the latest status of every transaction. */
const orders = new Map<string, Transaction>();
const transactions = new Map<string, Transaction>();

let fault: FaultMode = "none";
let releaseHung = () => {};
let hung = new Promise<void>((resolve) => releaseHung = resolve);

function setFault(mode: FaultMode): void {
  fault = mode;
  releaseHung();
  hung = new Promise<void>((resolve) => releaseHung = resolve);
}

/** "YYYY-MM-DD HH:MM:SS" in GMT+7, as Midtrans writes times. */
function jakartaTime(at = new Date()): string {
  return new Date(at.getTime() + 7 * 3_600_000).toISOString().slice(0, 19)
    .replace("T", " ");
}

async function sha512Hex(text: string): Promise<string> {
  const digest = await crypto.subtle.digest(
    "SHA-512",
    new TextEncoder().encode(text),
  );
  return Array.from(
    new Uint8Array(digest),
    (b) => b.toString(16).padStart(2, "0"),
  ).join("");
}

function json(status: number, body: unknown): Response {
  return Response.json(body, { status });
}

// Midtrans's own error bodies: a string status_code, a message, and a request id.
function midtransError(
  status: number,
  message: string,
): Response {
  return json(status, {
    status_code: String(status),
    status_message: message,
    id: crypto.randomUUID(),
  });
}

const invalid = (message: string) =>
  json(400, { error: "invalid_request", message });

// Fields the status API documents as strings; a PUT may not make them anything else.
const STRING_FIELDS = [
  "transaction_id",
  "transaction_status",
  "status_code",
  "gross_amount",
  "fraud_status",
  "payment_type",
  "currency",
  "transaction_time",
  "settlement_time",
  "merchant_id",
  "status_message",
];

async function putTransaction(
  orderId: string,
  request: Request,
): Promise<Response> {
  let fields: unknown;
  try {
    fields = await request.json();
  } catch {
    return invalid("The body is not valid JSON.");
  }
  if (typeof fields !== "object" || fields === null || Array.isArray(fields)) {
    return invalid("The body must be a JSON object of status fields.");
  }
  const given = fields as Record<string, unknown>;
  if (given.order_id !== undefined && given.order_id !== orderId) {
    return invalid("order_id in the body differs from the one in the path.");
  }
  const wrong = STRING_FIELDS.filter((f) =>
    given[f] !== undefined && typeof given[f] !== "string"
  );
  if (wrong.length > 0) {
    return invalid(`These fields must be strings: ${wrong.join(", ")}.`);
  }
  // Same transaction (no transaction_id, or the current one): its other fields carry over.
  const current = orders.get(orderId);
  const sameTransaction = current !== undefined &&
    (given.transaction_id === undefined ||
      given.transaction_id === current.transaction_id);
  const merged: Record<string, unknown> = {
    currency: "IDR",
    payment_type: "gopay",
    merchant_id: "G141532850",
    transaction_time: jakartaTime(),
    ...(sameTransaction ? current : {}),
    ...given,
  };
  if (typeof merged.transaction_status !== "string") {
    return invalid("transaction_status is required.");
  }
  if (typeof merged.gross_amount !== "string") {
    return invalid(
      'gross_amount is required, as a string such as "150000.00".',
    );
  }
  const transaction = {
    ...merged,
    order_id: orderId,
    transaction_id: typeof merged.transaction_id === "string"
      ? merged.transaction_id
      : crypto.randomUUID(),
    transaction_status: merged.transaction_status,
    status_code: typeof given.status_code === "string"
      ? given.status_code
      : statusCodeFor(
        merged.transaction_status,
        merged.fraud_status as string | undefined,
      ),
    status_message: "Success, transaction is found",
  } as Transaction;
  if (
    transaction.transaction_status === "settlement" &&
    transaction.settlement_time === undefined
  ) {
    transaction.settlement_time = jakartaTime();
  }
  transaction.signature_key = await sha512Hex(
    `${orderId}${transaction.status_code}${transaction.gross_amount}${serverKey}`,
  );
  orders.set(orderId, transaction);
  transactions.set(transaction.transaction_id, transaction);
  return json(200, transaction);
}

async function getStatus(id: string, request: Request): Promise<Response> {
  const expected = `Basic ${btoa(`${serverKey}:`)}`;
  if (request.headers.get("authorization") !== expected) {
    return midtransError(
      401,
      "Access denied due to unauthorized transaction, please check client or server key",
    );
  }
  if (fault === "hang") await hung;
  if (fault === "error") {
    return midtransError(
      500,
      "Sorry. Our system is recovering from unexpected issues. Please retry.",
    );
  }
  const transaction = orders.get(id) ?? transactions.get(id);
  if (!transaction) {
    return midtransError(404, "The requested resource is not found");
  }
  return json(200, transaction);
}

async function notify(orderId: string): Promise<Response> {
  const transaction = orders.get(orderId);
  if (!transaction) {
    return json(404, {
      error: "transaction_not_found",
      message: `No transaction for order ${orderId}: PUT it first.`,
    });
  }
  const notification = {
    ...transaction,
    status_message: "midtrans payment notification",
  };
  try {
    const response = await fetch(notificationUrl, {
      method: "POST",
      headers: {
        "content-type": "application/json",
        accept: "application/json",
        "user-agent": "Veritrans",
      },
      body: JSON.stringify(notification),
      signal: AbortSignal.timeout(NOTIFY_TIMEOUT_MS),
    });
    const text = await response.text();
    let body: unknown = text;
    try {
      body = JSON.parse(text);
    } catch {
      // Not JSON: passed on as text.
    }
    return json(200, { status: response.status, body });
  } catch (error) {
    return json(502, {
      error: "webhook_unreachable",
      message: `POST ${notificationUrl} failed: ${(error as Error).message}`,
    });
  }
}

async function route(request: Request): Promise<Response> {
  const { pathname, searchParams } = new URL(request.url);
  const method = request.method;
  let match = /^\/v2\/([^/]+)\/status$/.exec(pathname);
  if (match && method === "GET") {
    return await getStatus(decodeURIComponent(match[1]), request);
  }
  match = /^\/_sandbox\/transactions\/([^/]+)$/.exec(pathname);
  if (match && method === "PUT") {
    const stored = await putTransaction(decodeURIComponent(match[1]), request);
    // ?notify: the customer pays and Midtrans notifies, in one call.
    if (!searchParams.has("notify") || !stored.ok) return stored;
    return await notify(decodeURIComponent(match[1]));
  }
  match = /^\/_sandbox\/transactions\/([^/]+)\/notify$/.exec(pathname);
  if (match && method === "POST") {
    return await notify(decodeURIComponent(match[1]));
  }
  if (pathname === "/_sandbox/fault" && method === "PUT") {
    const mode = (await request.json().catch(() => ({})))?.mode;
    if (!["none", "hang", "error"].includes(mode)) {
      return invalid('mode must be "none", "hang" or "error".');
    }
    setFault(mode);
    return json(200, { mode });
  }
  if (pathname === "/_sandbox/health" && method === "GET") {
    return json(200, { status: "ok", fault, orders: orders.size });
  }
  return midtransError(404, "The requested resource is not found");
}

/** Listens, retrying for a few seconds: a port in this range can be briefly held as a client port. */
async function serve(): Promise<Deno.HttpServer> {
  for (let attempt = 1;; attempt++) {
    try {
      return Deno.serve({
        hostname,
        port,
        onListen: () =>
          console.log(
            `midtrans sandbox on http://${hostname}:${port}, notifying ${notificationUrl}`,
          ),
      }, route);
    } catch (error) {
      if (!(error instanceof Deno.errors.AddrInUse) || attempt === 20) {
        throw error;
      }
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
  }
}

const server = await serve();

for (const signal of ["SIGINT", "SIGTERM"] as const) {
  Deno.addSignalListener(signal, () => {
    // Hung requests are let go, so shutting down never waits for them.
    setFault("none");
    server.shutdown().then(() => Deno.exit(0));
  });
}
