// WhatsApp through Meta's Cloud API, with plain fetch (Meta archived its Node SDK): sending the
// outbox's template messages (the webhook's side is whatsapp_webhook.ts). Delivery is at least once, like the
// emails: a drainer that dies after Meta accepted a message and before recording it leaves a
// lease that runs out, and the message goes again.
import type postgres from "postgres";
import { db, withTimeout } from "./db.ts";
import type { Env } from "./env.ts";
import {
  type TemplateNames,
  type WhatsAppMessage,
  whatsappTemplate,
} from "./whatsapp_content.ts";

export type WhatsAppConfig = {
  /** `{apiUrl}/{version}/{phoneNumberId}/messages` */
  messagesUrl: string;
  accessToken: string;
  timeoutMs: number;
  drainBudgetMs: number;
};

/**
 * WHATSAPP_ACCESS_TOKEN and WHATSAPP_PHONE_NUMBER_ID, or undefined: WhatsApp is not set up, and
 * its messages wait in the outbox (booking_messages shows them pending).
 */
export function whatsappConfig(
  env: Env = Deno.env,
): WhatsAppConfig | undefined {
  const accessToken = env.get("WHATSAPP_ACCESS_TOKEN");
  const phoneNumberId = env.get("WHATSAPP_PHONE_NUMBER_ID");
  if (!accessToken || !phoneNumberId) return undefined;
  const apiUrl = (env.get("WHATSAPP_API_URL") || "https://graph.facebook.com")
    .replace(/\/+$/, "");
  const version = env.get("WHATSAPP_API_VERSION") || "v23.0";
  return {
    messagesUrl: `${apiUrl}/${version}/${
      encodeURIComponent(phoneNumberId)
    }/messages`,
    accessToken,
    timeoutMs: Number(env.get("WHATSAPP_TIMEOUT_MS") ?? 10_000),
    drainBudgetMs: Number(env.get("EMAIL_DRAIN_BUDGET_MS") ?? 30_000),
  };
}

// Meta's error codes that no retry can change for this message (docs: "WhatsApp error codes"):
// the recipient, the template or the parameters are wrong. Everything else (429, 5xx, throughput
// limits 130429/131056/80007/4, 131000 "something went wrong", timeouts, network errors, and
// the access token, which ops can fix) is retried with backoff.
const PERMANENT = new Set([
  100, // invalid parameter
  131008, // required parameter missing
  131009, // parameter value not valid
  131021, // recipient cannot be sender
  131026, // message undeliverable (not on WhatsApp, old app, blocked)
  131030, // recipient not in the allowed list (test numbers)
  131047, // re-engagement: outside the 24-hour window
  131051, // unsupported message type
  132000, // template parameter count mismatch
  132001, // template does not exist (in this language)
  132005, // hydrated text too long
  132007, // template format character policy violated
  132012, // template parameter format mismatch
  132015, // template paused
  132016, // template disabled
]);

export type SendOutcome =
  | { sent: true; wamid: string }
  | { sent: false; error: string; permanent: boolean };

type MetaError = {
  error?: {
    message?: string;
    code?: number;
    error_data?: { details?: string };
  };
};

/** POSTs one template message; never throws. */
export async function sendWhatsApp(
  message: WhatsAppMessage,
  names: TemplateNames,
  config: WhatsAppConfig,
): Promise<SendOutcome> {
  let response: Response;
  try {
    response = await fetch(config.messagesUrl, {
      method: "POST",
      headers: {
        authorization: `Bearer ${config.accessToken}`,
        "content-type": "application/json",
      },
      body: JSON.stringify({
        messaging_product: "whatsapp",
        recipient_type: "individual",
        to: message.recipient.replace(/^\+/, ""),
        type: "template",
        template: whatsappTemplate(message, names),
      }),
      signal: AbortSignal.timeout(config.timeoutMs),
    });
  } catch (error) {
    const reason = (error as Error).name === "TimeoutError"
      ? `no answer from WhatsApp in ${config.timeoutMs} ms`
      : `WhatsApp unreachable: ${(error as Error).message}`;
    return { sent: false, error: reason, permanent: false };
  }
  const body = await response.json().catch(() => undefined) as
    | (MetaError & { messages?: { id?: string }[] })
    | undefined;
  const wamid = body?.messages?.[0]?.id;
  if (response.ok && typeof wamid === "string") return { sent: true, wamid };
  const code = body?.error?.code;
  const details = body?.error?.error_data?.details;
  const error = `HTTP ${response.status}${
    code !== undefined ? ` code ${code}` : ""
  }: ${body?.error?.message ?? "no error in the answer"}${
    details ? ` (${details})` : ""
  }`;
  const permanent = response.status >= 400 && response.status < 500 &&
    response.status !== 429 && code !== undefined && PERMANENT.has(code);
  return { sent: false, error, permanent };
}

export type WhatsAppDrainResult = {
  sent: number;
  retrying: number;
  failed: number;
  skipped: number;
  lostLease: number;
};

const BATCH_SIZE = 20;
// Longer than one send can take (its timeout), so a live drainer never loses its lease.
const LEASE = "2 minutes";

type Claimed = WhatsAppMessage & { lease_token: string };

async function finish(
  sql: postgres.Sql,
  env: Env,
  message: Claimed,
  outcome: SendOutcome | "started",
): Promise<string | null> {
  const [wamid, error, permanent, skipped] = outcome === "started"
    ? [null, "the meeting started before it was sent", false, true]
    : outcome.sent
    ? [outcome.wamid, null, false, false]
    : [null, outcome.error, outcome.permanent, false];
  const [row] = await withTimeout<{ status: string | null }>(
    sql`select public.finish_whatsapp_message(${message.id}, ${message.lease_token},
      ${wamid}, ${error}, ${permanent}, ${skipped}) as status`,
    env,
  );
  return row.status;
}

/** Sends every due WhatsApp message (in batches, until none is due or the budget is spent). */
export async function drainWhatsApp(
  config: WhatsAppConfig,
  env: Env = Deno.env,
): Promise<WhatsAppDrainResult> {
  const sql = db(env);
  const result: WhatsAppDrainResult = {
    sent: 0,
    retrying: 0,
    failed: 0,
    skipped: 0,
    lostLease: 0,
  };
  const deadline = Date.now() + config.drainBudgetMs;
  let names: TemplateNames | undefined;
  while (Date.now() < deadline) {
    const batch = await withTimeout<Claimed>(
      sql`select * from public.claim_whatsapp_messages(${BATCH_SIZE}, ${LEASE}::interval)`,
      env,
    );
    if (batch.length === 0) break;
    names ??= (await withTimeout<TemplateNames>(
      sql`select * from public.booking_message_settings`,
      env,
    ))[0];
    await Promise.all(batch.map(async (message) => {
      // A reminder is never sent once its meeting has started.
      const outcome = message.kind === "reminder" &&
          message.starts_at.getTime() <= Date.now()
        ? "started"
        : await sendWhatsApp(message, names!, config);
      if (outcome !== "started" && !outcome.sent) {
        console.error(JSON.stringify({
          task: "send_whatsapp",
          messageId: message.id,
          bookingId: message.booking_id,
          error: outcome.error,
          permanent: outcome.permanent,
        }));
      }
      const status = await finish(sql, env, message, outcome);
      if (status === "sent") result.sent++;
      else if (status === "pending") result.retrying++;
      else if (status === "failed") result.failed++;
      else if (status === "skipped") result.skipped++;
      else result.lostLease++;
    }));
  }
  return result;
}
