// What a WhatsApp message says: which registered template, in which language, with which body
// parameters (docs/operations.md lists the template texts). Pure: the outbox row in, Meta's
// `template` object out.
import { describeSlot } from "./email_content.ts";

/** One row of public.booking_whatsapp_messages, as postgres.js returns it. */
export type WhatsAppMessage = {
  id: string;
  booking_id: string;
  kind: "invite" | "link_pending" | "cancellation" | "reminder";
  recipient: string;
  order_id: string;
  starts_at: Date;
  ends_at: Date;
  meeting_link: string | null;
  previous_meeting_link: string | null;
  customer_name: string | null;
  locale: "en" | "id";
  time_zone: string;
};

/** public.booking_message_settings: the template names registered in WhatsApp Manager. */
export type TemplateNames = {
  whatsapp_template_invite: string;
  whatsapp_template_link_changed: string;
  whatsapp_template_link_pending: string;
  whatsapp_template_cancellation: string;
  whatsapp_template_reminder: string;
};

export type Template = {
  name: string;
  language: { code: "en" | "id" };
  components: [{
    type: "body";
    parameters: { type: "text"; text: string }[];
  }];
};

// Meta refuses a parameter with a new line, a tab or more than four spaces in a row, and an
// empty one.
const MAX_PARAMETER = 200;

/** A template parameter Meta accepts: one line, runs of white space as one space, bounded. */
export function templateParameter(text: string): string {
  const flat = text.replace(/[\p{Cc}\p{Zl}\p{Zp}\s]+/gu, " ").trim();
  const bounded = [...flat].length > MAX_PARAMETER
    ? [...flat].slice(0, MAX_PARAMETER - 1).join("") + "…"
    : flat;
  return bounded || "-";
}

// Who the greeting names when the booking has no name.
const NOBODY = { en: "there", id: "Bapak/Ibu" } as const;

/** The template, language and parameters for one outbox row. */
export function whatsappTemplate(
  message: WhatsAppMessage,
  names: TemplateNames,
): Template {
  const when = describeSlot(
    message.starts_at,
    message.ends_at,
    message.time_zone,
    message.locale,
  );
  const name = message.customer_name ?? NOBODY[message.locale];
  const link = message.meeting_link ?? "";
  let template: string;
  let values: string[];
  switch (message.kind) {
    case "invite":
      if (message.previous_meeting_link) {
        template = names.whatsapp_template_link_changed;
        values = [name, when, link, message.previous_meeting_link];
      } else {
        template = names.whatsapp_template_invite;
        values = [name, when, link];
      }
      break;
    case "reminder":
      template = names.whatsapp_template_reminder;
      values = [name, when, link];
      break;
    case "link_pending":
      template = names.whatsapp_template_link_pending;
      values = [name, when];
      break;
    case "cancellation":
      template = names.whatsapp_template_cancellation;
      values = [name, when];
      break;
  }
  return {
    name: template,
    language: { code: message.locale },
    components: [{
      type: "body",
      parameters: values.map((text) => ({
        type: "text",
        text: templateParameter(text),
      })),
    }],
  };
}
