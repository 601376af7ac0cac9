// A stand-in for Meta's WhatsApp Cloud API, for the local stack and the tests (no machine here
// reaches Meta). It answers the send-message endpoint as Meta documents it (success body with a
// wamid; Meta's error body `{"error": {message, type, code, error_data, fbtrace_id}}` with its
// codes), keeps what it "delivered", and posts signed status callbacks to the webhook.
//
//   POST /{version}/{phone_number_id}/messages   Authorization: Bearer WHATSAPP_ACCESS_TOKEN
//        200 {"messaging_product": "whatsapp", "contacts": [{input, wa_id}],
//             "messages": [{"id": "wamid.…", "message_status": "accepted"}]}
//        401 code 190 (token); 400 code 100 (body shape, `to` not 8-15 digits, a parameter with a
//        new line, tab or more than 4 spaces in a row, or empty); 400 code 131026 (a number marked
//        undeliverable); 404 code 132001 (a template it was not told exists, or another
//        language); 400 code 132000 (parameter count)
//   GET  /_sandbox/messages[?to=DIGITS][&min=N]   what it accepted, oldest first; with min, waits
//        (up to 10 s) until there are at least N
//   POST /_sandbox/messages/{wamid}/status        {"status": "sent" | "delivered" | "read" |
//        "failed", "code"?: 131026}: POSTs Meta's callback for it, signed with
//        WHATSAPP_APP_SECRET, to the webhook; answers {"status": <HTTP>, "body": <its JSON>}
//   PUT  /_sandbox/undeliverable/{digits}         that number answers 131026 from now on
//   PUT  /_sandbox/fault {"mode": "none" | "hang" | "error" | "rate_limit"}   sending answers
//        normally, never answers (until the mode changes), 500 code 131000, or 429 code 130429
//   GET  /_sandbox/health
//
// Env: WHATSAPP_SANDBOX_HOST (127.0.0.1), WHATSAPP_SANDBOX_PORT (54327), WHATSAPP_ACCESS_TOKEN,
// WHATSAPP_PHONE_NUMBER_ID, WHATSAPP_APP_SECRET (required), WHATSAPP_WEBHOOK_URL (default the dev
// stack's), WHATSAPP_SANDBOX_TEMPLATES ("name:parameters,…"; default the five of
// docs/operations.md, each in en and id). State lives in memory.
import { createHmac } from "node:crypto";

type FaultMode = "none" | "hang" | "error" | "rate_limit";
type Delivered = {
  wamid: string;
  to: string;
  template: string;
  language: string;
  parameters: string[];
  received_at: string;
  statuses: string[];
};

const hostname = Deno.env.get("WHATSAPP_SANDBOX_HOST") ?? "127.0.0.1";
const port = Number(Deno.env.get("WHATSAPP_SANDBOX_PORT") ?? "54327");
const accessToken = Deno.env.get("WHATSAPP_ACCESS_TOKEN") ?? "";
const phoneNumberId = Deno.env.get("WHATSAPP_PHONE_NUMBER_ID") ?? "";
const appSecret = Deno.env.get("WHATSAPP_APP_SECRET") ?? "";
const webhookUrl = Deno.env.get("WHATSAPP_WEBHOOK_URL") ??
  "http://127.0.0.1:54321/functions/v1/whatsapp-webhook";
const templates = new Map(
  (Deno.env.get("WHATSAPP_SANDBOX_TEMPLATES") ??
    "booking_invite:3,booking_link_changed:4,booking_link_pending:2,booking_cancellation:2,booking_reminder:3")
    .split(",").map((entry) => {
      const [name, count] = entry.split(":");
      return [name.trim(), Number(count)] as const;
    }),
);
const LANGUAGES = new Set(["en", "id"]);
const CALLBACK_TIMEOUT_MS = 15_000;

if (!accessToken || !phoneNumberId || !appSecret) {
  console.error(
    "whatsapp sandbox: WHATSAPP_ACCESS_TOKEN, WHATSAPP_PHONE_NUMBER_ID and WHATSAPP_APP_SECRET must be set",
  );
  Deno.exit(1);
}

const delivered = new Map<string, Delivered>();
const undeliverable = new Set<string>();
let fault: FaultMode = "none";
let releaseHung = () => {};
let hung = new Promise<void>((resolve) => releaseHung = resolve);

function setFault(mode: FaultMode): void {
  fault = mode;
  releaseHung();
  hung = new Promise<void>((resolve) => releaseHung = resolve);
}

/** Meta's Graph API error body. */
function metaError(
  status: number,
  code: number,
  message: string,
  details?: string,
): Response {
  return Response.json({
    error: {
      message: `(#${code}) ${message}`,
      type: "OAuthException",
      code,
      ...(details
        ? { error_data: { messaging_product: "whatsapp", details } }
        : {}),
      fbtrace_id: crypto.randomUUID().replaceAll("-", "").slice(0, 23),
    },
  }, { status });
}

const invalidParameter = (details: string) =>
  metaError(400, 100, "Invalid parameter", details);

function newWamid(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(24));
  return `wamid.${btoa(String.fromCharCode(...bytes)).replace(/=+$/, "")}`;
}

async function sendMessage(
  request: Request,
  numberId: string,
): Promise<Response> {
  if (request.headers.get("authorization") !== `Bearer ${accessToken}`) {
    return metaError(
      401,
      190,
      "Invalid OAuth access token - Cannot parse access token",
    );
  }
  if (numberId !== phoneNumberId) {
    return metaError(
      400,
      100,
      "Unsupported post request",
      `Object with ID '${numberId}' does not exist`,
    );
  }
  if (fault === "hang") await hung;
  if (fault === "error") {
    return metaError(500, 131000, "Something went wrong");
  }
  if (fault === "rate_limit") {
    return metaError(429, 130429, "Rate limit hit");
  }
  let body: Record<string, unknown>;
  try {
    body = await request.json();
  } catch {
    return invalidParameter("The request body is not valid JSON.");
  }
  if (body?.messaging_product !== "whatsapp") {
    return invalidParameter("messaging_product must be whatsapp.");
  }
  const to = body.to;
  if (typeof to !== "string" || !/^\d{8,15}$/.test(to)) {
    return invalidParameter(
      "to must be the recipient's number, 8 to 15 digits.",
    );
  }
  if (body.type !== "template") {
    return invalidParameter("type must be template.");
  }
  const template = body.template as {
    name?: unknown;
    language?: { code?: unknown };
    components?: { type?: unknown; parameters?: unknown }[];
  } | undefined;
  const name = template?.name;
  const language = template?.language?.code;
  if (typeof name !== "string" || typeof language !== "string") {
    return invalidParameter(
      "template.name and template.language.code are required.",
    );
  }
  if (!templates.has(name) || !LANGUAGES.has(language)) {
    return metaError(
      404,
      132001,
      "Template name does not exist in the translation",
      `template name (${name}) does not exist in ${language}`,
    );
  }
  const components = template?.components;
  const bodyPart = Array.isArray(components)
    ? components.find((c) => c?.type === "body")
    : undefined;
  const parameters = bodyPart?.parameters;
  if (!Array.isArray(parameters)) {
    return invalidParameter(
      "template.components needs a body with parameters.",
    );
  }
  const texts: string[] = [];
  for (const parameter of parameters) {
    if (parameter?.type !== "text" || typeof parameter.text !== "string") {
      return invalidParameter(
        'Each parameter must be {"type": "text", "text": …}.',
      );
    }
    if (
      parameter.text.trim() === "" || /[\n\t]| {5,}/.test(parameter.text)
    ) {
      return invalidParameter(
        "Param text cannot have new-line/tab characters or more than 4 consecutive spaces",
      );
    }
    texts.push(parameter.text);
  }
  if (texts.length !== templates.get(name)) {
    return metaError(
      400,
      132000,
      "Number of parameters does not match the expected number of params",
      `body: number of localizable_params (${texts.length}) does not match the expected number of params (${
        templates.get(name)
      })`,
    );
  }
  if (undeliverable.has(to)) {
    return metaError(400, 131026, "Message Undeliverable");
  }
  const wamid = newWamid();
  delivered.set(wamid, {
    wamid,
    to,
    template: name,
    language,
    parameters: texts,
    received_at: new Date().toISOString(),
    statuses: [],
  });
  return Response.json({
    messaging_product: "whatsapp",
    contacts: [{ input: to, wa_id: to }],
    messages: [{ id: wamid, message_status: "accepted" }],
  });
}

/** Meta's `messages` webhook with one status, signed as Meta signs it. */
async function postStatus(wamid: string, request: Request): Promise<Response> {
  const message = delivered.get(wamid);
  const given = await request.json().catch(() => ({}));
  const status = given?.status;
  if (!["sent", "delivered", "read", "failed"].includes(status)) {
    return Response.json({
      error: "invalid_request",
      message: 'status must be "sent", "delivered", "read" or "failed".',
    }, { status: 400 });
  }
  // An unknown wamid is posted all the same: tests send callbacks for messages never sent.
  const code = Number(given?.code ?? 131026);
  const callback = {
    object: "whatsapp_business_account",
    entry: [{
      id: "102290129340398",
      changes: [{
        field: "messages",
        value: {
          messaging_product: "whatsapp",
          metadata: {
            display_phone_number: "15550783881",
            phone_number_id: phoneNumberId,
          },
          statuses: [{
            id: wamid,
            status,
            timestamp: String(
              Math.floor(
                typeof given?.timestamp === "number"
                  ? given.timestamp
                  : Date.now() / 1000,
              ),
            ),
            recipient_id: message?.to ?? "0",
            ...(status === "failed"
              ? {
                errors: [{
                  code,
                  title: code === 131026
                    ? "Message undeliverable."
                    : "Message failed to send.",
                  message: code === 131026
                    ? "Message undeliverable."
                    : "Message failed to send.",
                  error_data: {
                    details: "Message Undeliverable.",
                  },
                }],
              }
              : {}),
          }],
        },
      }],
    }],
  };
  const raw = JSON.stringify(callback);
  const signature = `sha256=${
    createHmac("sha256", appSecret).update(raw).digest("hex")
  }`;
  message?.statuses.push(status);
  try {
    const response = await fetch(webhookUrl, {
      method: "POST",
      headers: {
        "content-type": "application/json",
        "x-hub-signature-256": signature,
      },
      body: raw,
      signal: AbortSignal.timeout(CALLBACK_TIMEOUT_MS),
    });
    const text = await response.text();
    let body: unknown = text;
    try {
      body = JSON.parse(text);
    } catch {
      // Not JSON: passed on as text.
    }
    return Response.json({ status: response.status, body });
  } catch (error) {
    return Response.json({
      error: "webhook_unreachable",
      message: `POST ${webhookUrl} failed: ${(error as Error).message}`,
    }, { status: 502 });
  }
}

async function route(request: Request): Promise<Response> {
  const url = new URL(request.url);
  const method = request.method;
  let match = /^\/v\d+\.\d+\/([^/]+)\/messages$/.exec(url.pathname);
  if (match && method === "POST") {
    return await sendMessage(request, decodeURIComponent(match[1]));
  }
  if (url.pathname === "/_sandbox/messages" && method === "GET") {
    const to = url.searchParams.get("to");
    const min = Number(url.searchParams.get("min") ?? 0);
    const deadline = Date.now() + 10_000;
    while (true) {
      const found = [...delivered.values()].filter((m) =>
        to === null || m.to === to
      );
      if (found.length >= min || Date.now() > deadline) {
        return Response.json(found);
      }
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
  match = /^\/_sandbox\/messages\/([^/]+)\/status$/.exec(url.pathname);
  if (match && method === "POST") {
    return await postStatus(decodeURIComponent(match[1]), request);
  }
  match = /^\/_sandbox\/undeliverable\/(\d+)$/.exec(url.pathname);
  if (match && method === "PUT") {
    undeliverable.add(match[1]);
    return Response.json({ undeliverable: [...undeliverable] });
  }
  if (url.pathname === "/_sandbox/fault" && method === "PUT") {
    const mode = (await request.json().catch(() => ({})))?.mode;
    if (!["none", "hang", "error", "rate_limit"].includes(mode)) {
      return Response.json({
        error: "invalid_request",
        message: 'mode must be "none", "hang", "error" or "rate_limit".',
      }, { status: 400 });
    }
    setFault(mode);
    return Response.json({ mode });
  }
  if (url.pathname === "/_sandbox/health" && method === "GET") {
    return Response.json({ status: "ok", fault, messages: delivered.size });
  }
  return metaError(
    400,
    100,
    "Unsupported request",
    `${method} ${url.pathname} is not an endpoint of this stand-in`,
  );
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
            `whatsapp sandbox on http://${hostname}:${port}, calling back ${webhookUrl}`,
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
