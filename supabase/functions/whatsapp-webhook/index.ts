// Meta's WhatsApp webhook. GET: the verification handshake when the callback URL is set up in
// the App Dashboard. POST: a signed callback; each delivery status is recorded on its message
// by wamid. Unknown wamids and customers' own messages are answered 200 and logged: a non-2xx
// makes Meta retry and, in time, disable the subscription.
import { db, withTimeout } from "../_shared/db.ts";
import type { Env } from "../_shared/env.ts";
import { ConfigError, HttpError } from "../_shared/errors.ts";
import {
  handler,
  hasLoneSurrogate,
  json,
  parseWith,
  readAtMost,
} from "../_shared/http.ts";
import {
  statusesOf,
  verifyWhatsAppSignature,
  WhatsAppCallback,
} from "../_shared/whatsapp_webhook.ts";

const MAX_BODY = 512 * 1024;

function setting(env: Env, name: string): string {
  const value = env.get(name);
  if (!value) throw new ConfigError(`${name} is not set`);
  return value;
}

/** The handler with its settings read from `env` (tests pass their own). */
export function fetchWith(env: Env = Deno.env) {
  return handler("whatsapp-webhook", ["GET", "POST"], async (req, log) => {
    if (req.method === "GET") {
      const query = new URL(req.url).searchParams;
      const token = setting(env, "WHATSAPP_VERIFY_TOKEN");
      if (
        query.get("hub.mode") !== "subscribe" ||
        query.get("hub.verify_token") !== token
      ) {
        throw new HttpError(
          "verification_failed",
          "hub.mode must be subscribe and hub.verify_token WHATSAPP_VERIFY_TOKEN.",
        );
      }
      log.outcome = "verified";
      // Meta expects the challenge back as the whole body.
      return new Response(query.get("hub.challenge") ?? "", {
        headers: { "content-type": "text/plain" },
      });
    }
    const secret = setting(env, "WHATSAPP_APP_SECRET");
    const body = await readAtMost(req.body, MAX_BODY);
    if (body === undefined) {
      throw new HttpError(
        "payload_too_large",
        `The body may be at most ${MAX_BODY} bytes.`,
      );
    }
    if (
      !verifyWhatsAppSignature(
        body,
        req.headers.get("x-hub-signature-256"),
        secret,
      )
    ) {
      throw new HttpError(
        "invalid_signature",
        "X-Hub-Signature-256 is missing or not the app secret's HMAC-SHA256 of the body.",
      );
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(new TextDecoder().decode(body));
    } catch {
      throw new HttpError("invalid_request", "The body is not valid JSON.");
    }
    if (hasLoneSurrogate(parsed)) {
      throw new HttpError(
        "invalid_request",
        "The body's text must be well-formed Unicode (no lone surrogates).",
      );
    }
    const { statuses, inbound } = statusesOf(
      parseWith(WhatsAppCallback, parsed),
    );
    log.statuses = statuses.length;
    if (inbound > 0) log.inboundMessages = inbound;
    let recorded = 0, unchanged = 0, unknown: string[] = [];
    if (statuses.length > 0) {
      const sql = db(env);
      const [row] = await withTimeout<
        { recorded: number; unchanged: number; unknown_wamids: string[] }
      >(
        sql`select * from public.record_whatsapp_statuses(${
          sql.json(statuses)
        })`,
        env,
      );
      ({ recorded, unchanged, unknown_wamids: unknown } = row);
    }
    if (unknown.length > 0) log.unknownWamids = unknown;
    log.outcome = "received";
    return json({
      received: true,
      recorded,
      unchanged,
      unknown: unknown.length,
    });
  });
}

export default { fetch: fetchWith() };
