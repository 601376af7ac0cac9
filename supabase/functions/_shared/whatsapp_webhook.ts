// Meta's WhatsApp webhook: the X-Hub-Signature-256 signature and the statuses in a callback.
import { createHmac } from "node:crypto";
import { z } from "zod";
import { constantTimeEqual } from "./constant_time.ts";

/** `sha256=<hex>` of the raw body with the app secret, as Meta signs X-Hub-Signature-256. */
export function whatsappSignature(body: Uint8Array, appSecret: string): string {
  return `sha256=${createHmac("sha256", appSecret).update(body).digest("hex")}`;
}

export function verifyWhatsAppSignature(
  body: Uint8Array,
  header: string | null,
  appSecret: string,
): boolean {
  return header !== null &&
    constantTimeEqual(header.toLowerCase(), whatsappSignature(body, appSecret));
}

// Meta's webhook body (the `messages` field), as far as it is read; other fields pass.
const MetaStatus = z.looseObject({
  id: z.string().min(1).max(256),
  status: z.string().max(64),
  timestamp: z.string().regex(/^\d{1,12}$/).optional(),
  errors: z.array(z.looseObject({
    code: z.number().optional(),
    title: z.string().optional(),
    message: z.string().optional(),
    error_data: z.looseObject({ details: z.string().optional() }).optional(),
  })).optional(),
});

export const WhatsAppCallback = z.looseObject({
  object: z.string().optional(),
  entry: z.array(z.looseObject({
    changes: z.array(z.looseObject({
      field: z.string().optional(),
      value: z.looseObject({
        statuses: z.array(MetaStatus).optional(),
        messages: z.array(z.unknown()).optional(),
      }).optional(),
    })).optional(),
  })).optional(),
});

/** What record_whatsapp_statuses() takes. */
export type RecordedStatus = {
  wamid: string;
  status: string;
  at: string;
  error: string | null;
};

/** Every status in a callback, and how many inbound customer messages it carried. */
export function statusesOf(
  callback: z.infer<typeof WhatsAppCallback>,
): { statuses: RecordedStatus[]; inbound: number } {
  const statuses: RecordedStatus[] = [];
  let inbound = 0;
  for (const entry of callback.entry ?? []) {
    for (const change of entry.changes ?? []) {
      inbound += change.value?.messages?.length ?? 0;
      for (const status of change.value?.statuses ?? []) {
        const error = status.errors?.[0];
        statuses.push({
          wamid: status.id,
          status: status.status,
          at: new Date(
            status.timestamp ? Number(status.timestamp) * 1000 : Date.now(),
          ).toISOString(),
          error: error
            ? `${error.code ?? ""} ${error.title ?? error.message ?? ""}${
              error.error_data?.details ? `: ${error.error_data.details}` : ""
            }`.trim()
            : null,
        });
      }
    }
  }
  return { statuses, inbound };
}
