// The WhatsApp Cloud API stand-in (scripts/whatsapp_sandbox.ts), read and steered through its
// control API, and Meta's webhook signature, computed here with node:crypto (independently of
// the function's code).
import { createHmac } from "node:crypto";
import { env } from "./env.ts";
import { callFunction, type FunctionResponse } from "./http.ts";

export type SandboxMessage = {
  wamid: string;
  to: string;
  template: string;
  language: string;
  parameters: string[];
  received_at: string;
  statuses: string[];
};

export class WhatsAppSandbox {
  constructor(readonly url = env.whatsappApiUrl) {}

  /** What the stand-in accepted (for `to`, digits only), oldest first. */
  async messages(to?: string): Promise<SandboxMessage[]> {
    const query = to ? `?to=${to.replace(/^\+/, "")}` : "";
    const response = await fetch(`${this.url}/_sandbox/messages${query}`, {
      signal: AbortSignal.timeout(10_000),
    });
    if (!response.ok) throw new Error(`stand-in: HTTP ${response.status}`);
    return await response.json();
  }

  /** Polls until `count` messages went to `to` (or fewer are there after `withinMs`). */
  async waitFor(
    to: string,
    count: number,
    withinMs = 10_000,
  ): Promise<SandboxMessage[]> {
    const deadline = Date.now() + withinMs;
    while (true) {
      const messages = await this.messages(to);
      if (messages.length >= count || Date.now() > deadline) return messages;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }

  async setFault(mode: "none" | "hang" | "error" | "rate_limit") {
    await this.put("/_sandbox/fault", { mode });
  }

  /** From now on, sending to this number answers Meta's 131026. */
  async undeliverable(phone: string) {
    await this.put(`/_sandbox/undeliverable/${phone.replace(/^\+/, "")}`, {});
  }

  /** Has the stand-in post Meta's signed status callback for `wamid` to the webhook. */
  async postStatus(
    wamid: string,
    status: "sent" | "delivered" | "read" | "failed",
    extra: { code?: number; timestamp?: number } = {},
  ): Promise<{ status: number; body: Record<string, unknown> }> {
    const response = await fetch(
      `${this.url}/_sandbox/messages/${encodeURIComponent(wamid)}/status`,
      {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ status, ...extra }),
        signal: AbortSignal.timeout(20_000),
      },
    );
    if (!response.ok) {
      throw new Error(
        `stand-in: HTTP ${response.status} ${await response.text()}`,
      );
    }
    return await response.json();
  }

  private async put(path: string, body: unknown) {
    const response = await fetch(`${this.url}${path}`, {
      method: "PUT",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(body),
      signal: AbortSignal.timeout(10_000),
    });
    if (!response.ok) throw new Error(`stand-in: HTTP ${response.status}`);
    await response.body?.cancel();
  }
}

/** `sha256=<hex>`: Meta's X-Hub-Signature-256 of a raw body. */
export function signWhatsApp(
  raw: string,
  secret = env.whatsappAppSecret,
): string {
  return `sha256=${createHmac("sha256", secret).update(raw).digest("hex")}`;
}

/** POSTs a raw callback body to whatsapp-webhook with this signature (null: none). */
export function postToWhatsAppWebhook(
  raw: string,
  signature: string | null = signWhatsApp(raw),
  apiUrl?: string,
): Promise<FunctionResponse> {
  return callFunction("whatsapp-webhook", {
    method: "POST",
    body: raw,
    headers: {
      "content-type": "application/json",
      ...(signature === null ? {} : { "x-hub-signature-256": signature }),
    },
    apiUrl,
  });
}

/** Meta's `messages` callback carrying these statuses. */
export function statusCallback(
  statuses: Record<string, unknown>[],
  messages: Record<string, unknown>[] = [],
): string {
  return JSON.stringify({
    object: "whatsapp_business_account",
    entry: [{
      id: "102290129340398",
      changes: [{
        field: "messages",
        value: {
          messaging_product: "whatsapp",
          metadata: {
            display_phone_number: "15550783881",
            phone_number_id: "100000000000001",
          },
          ...(statuses.length ? { statuses } : {}),
          ...(messages.length ? { messages } : {}),
        },
      }],
    }],
  });
}
