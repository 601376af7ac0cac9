// Draining the outbox (public.booking_emails): claim due emails, render and send them over SMTP,
// record each attempt. Delivery is at least once: a drainer that dies after sending and before
// recording leaves a lease that runs out, and the email goes again with the same Message-ID.
// @ts-types="@types/nodemailer"
import nodemailer from "nodemailer";
import type postgres from "postgres";
import { db, withTimeout } from "./db.ts";
import {
  type BookingEmail,
  type EmailContent,
  type Mailbox,
  renderCustomerEmail,
  renderOpsAlert,
} from "./email_content.ts";
import type { Env } from "./env.ts";
import { ConfigError } from "./errors.ts";

export type MailConfig = {
  smtpUrl: string;
  from: Mailbox;
  /** Where ops alerts go; without it they are marked skipped. */
  opsEmail?: string;
  /** A drain stops claiming after this long, well inside an edge function's wall-clock limit. */
  drainBudgetMs: number;
  /** How long to wait for the mail server to accept the connection and to greet. */
  smtpTimeoutMs: number;
};

const MAILBOX = /^\s*(?:(.*?)\s*<([^<>\s]+@[^<>\s]+)>|([^<>\s]+@[^<>\s]+))\s*$/;

/** SMTP_URL, EMAIL_FROM ("Name <address>" or an address) and OPS_EMAIL from the environment. */
export function mailConfig(env: Env = Deno.env): MailConfig {
  const smtpUrl = env.get("SMTP_URL");
  const from = env.get("EMAIL_FROM");
  if (!smtpUrl || !from) {
    throw new ConfigError(
      "SMTP_URL and EMAIL_FROM must be set to send booking emails",
    );
  }
  const match = MAILBOX.exec(from);
  if (!match) {
    throw new ConfigError(`EMAIL_FROM is not an address: ${from}`);
  }
  return {
    smtpUrl,
    from: { name: match[1] ?? "", address: match[2] ?? match[3] },
    opsEmail: env.get("OPS_EMAIL") || undefined,
    drainBudgetMs: Number(env.get("EMAIL_DRAIN_BUDGET_MS") ?? 30_000),
    smtpTimeoutMs: Number(env.get("SMTP_TIMEOUT_MS") ?? 10_000),
  };
}

const BATCH_SIZE = 20;
// Longer than one send can take (its timeouts below), so a live drainer never loses its lease.
const LEASE = "2 minutes";
const SEND_TIMEOUT_MS = 60_000;

let transport: { key: string; mailer: nodemailer.Transporter } | undefined;

// One pooled SMTP transport per isolate: connections are reused across messages and drains.
function mailer(config: MailConfig): nodemailer.Transporter {
  const key = `${config.smtpUrl} ${config.smtpTimeoutMs}`;
  if (transport?.key !== key) {
    transport?.mailer.close();
    transport = {
      key,
      mailer: nodemailer.createTransport({
        url: config.smtpUrl,
        pool: true,
        maxConnections: 5,
        connectionTimeout: config.smtpTimeoutMs,
        greetingTimeout: config.smtpTimeoutMs,
        socketTimeout: 30_000,
      } as nodemailer.TransportOptions),
    };
  }
  return transport.mailer;
}

type Claimed = BookingEmail & { lease_token: string; message_id: string };

export type DrainResult = {
  sent: number;
  retrying: number;
  failed: number;
  skipped: number;
  lostLease: number;
};

function content(email: Claimed, config: MailConfig): EmailContent {
  return email.kind === "ops_alert"
    ? renderOpsAlert(email)
    : renderCustomerEmail(email, config.from);
}

async function send(email: Claimed, config: MailConfig): Promise<void> {
  const parts = content(email, config);
  const to = email.kind === "ops_alert"
    ? config.opsEmail!
    : { name: email.customer_name ?? "", address: email.recipient! };
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () =>
        reject(
          new Error(`no answer from the mail server in ${SEND_TIMEOUT_MS} ms`),
        ),
      SEND_TIMEOUT_MS,
    );
  });
  try {
    await Promise.race([
      mailer(config).sendMail({
        from: config.from,
        to,
        subject: parts.subject,
        text: parts.text,
        html: parts.html,
        messageId: email.message_id,
        date: new Date(),
        headers: { "Auto-Submitted": "auto-generated" },
        ...(parts.calendar
          ? {
            icalEvent: {
              method: parts.calendar.method,
              filename: "invite.ics",
              content: parts.calendar.content,
            },
          }
          : {}),
      }),
      timeout,
    ]);
  } finally {
    clearTimeout(timer);
  }
}

async function finish(
  sql: postgres.Sql,
  env: Env,
  email: Claimed,
  error: string | null,
  skipped = false,
): Promise<string | null> {
  const [row] = await withTimeout<{ status: string | null }>(
    sql`select public.finish_booking_email(${email.id}, ${email.lease_token}, ${error}, ${skipped}) as status`,
    env,
  );
  return row.status;
}

/** Sends every due email (in batches, until none is due or the time budget is spent). */
export async function drainBookingEmails(
  config: MailConfig,
  env: Env = Deno.env,
): Promise<DrainResult> {
  const sql = db(env);
  const domain = config.from.address.split("@")[1];
  const result: DrainResult = {
    sent: 0,
    retrying: 0,
    failed: 0,
    skipped: 0,
    lostLease: 0,
  };
  const deadline = Date.now() + config.drainBudgetMs;
  while (Date.now() < deadline) {
    const batch = await withTimeout<Claimed>(
      sql`select * from public.claim_booking_emails(${BATCH_SIZE}, ${LEASE}::interval, ${domain})`,
      env,
    );
    if (batch.length === 0) break;
    await Promise.all(batch.map(async (email) => {
      let status: string | null;
      if (email.kind === "ops_alert" && !config.opsEmail) {
        status = await finish(sql, env, email, null, true);
      } else if (
        email.kind === "reminder" && email.starts_at.getTime() <= Date.now()
      ) {
        // A reminder is never sent once its meeting has started.
        status = await finish(
          sql,
          env,
          email,
          "the meeting started before it was sent",
          true,
        );
      } else {
        let error: string | null = null;
        try {
          await send(email, config);
        } catch (failure) {
          error = String((failure as Error)?.message ?? failure);
        }
        status = await finish(sql, env, email, error);
      }
      if (status === "sent") result.sent++;
      else if (status === "pending") result.retrying++;
      else if (status === "failed") result.failed++;
      else if (status === "skipped") result.skipped++;
      else result.lostLease++;
    }));
  }
  return result;
}
