// What MailDev caught, read through its REST API (never through our own code), with the
// iCalendar part parsed by ical.js, a parser independent of the generator the function uses.
import ICAL from "ical.js";

export const maildevUrl =
  (Deno.env.get("MAILDEV_URL") ?? "http://127.0.0.1:54324")
    .replace(/\/+$/, "");

export type CaughtAddress = { address: string; name: string };
export type CaughtEmail = {
  id: string;
  subject: string;
  text: string;
  html: string;
  to: CaughtAddress[];
  from: CaughtAddress[];
  time: string;
  headers: Record<string, string>;
  attachments?: {
    contentType: string;
    generatedFileName: string;
    filename?: string;
  }[];
};

export type Invite = {
  method: string;
  uid: string;
  sequence: number;
  status: string;
  start: Date;
  end: Date;
  location: string | null;
  url: string | null;
  description: string | null;
  attendee: string | null;
};

export class Mailbox {
  constructor(readonly url = maildevUrl) {}

  async all(): Promise<CaughtEmail[]> {
    const response = await fetch(`${this.url}/api/email`, {
      signal: AbortSignal.timeout(10_000),
    });
    if (!response.ok) throw new Error(`MailDev: HTTP ${response.status}`);
    return await response.json();
  }

  /** Emails sent to `address`, oldest first. */
  async to(address: string): Promise<CaughtEmail[]> {
    return (await this.all()).filter((email) =>
      email.to.some((to) => to.address === address)
    );
  }

  async clear(): Promise<void> {
    const response = await fetch(`${this.url}/api/email/all`, {
      method: "DELETE",
    });
    await response.body?.cancel();
  }

  /** Polls until `count` emails went to `address` (or fewer are there after `withinMs`). */
  async waitFor(
    address: string,
    count: number,
    withinMs = 10_000,
  ): Promise<CaughtEmail[]> {
    const deadline = Date.now() + withinMs;
    while (true) {
      const emails = await this.to(address);
      if (emails.length >= count || Date.now() > deadline) return emails;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }

  /** The message as it went over SMTP: headers and every MIME part. */
  async source(email: CaughtEmail): Promise<string> {
    const response = await fetch(`${this.url}/api/email/${email.id}/source`);
    return await response.text();
  }

  /** The text/calendar part, parsed, or undefined when the email has none. */
  async invite(email: CaughtEmail): Promise<Invite | undefined> {
    const part = email.attachments?.find((a) =>
      a.contentType.startsWith("text/calendar")
    );
    if (!part) return undefined;
    const response = await fetch(
      `${this.url}/api/email/${email.id}/attachment/${part.generatedFileName}`,
    );
    return parseInvite(await response.text());
  }
}

export function parseInvite(text: string): Invite {
  const calendar = new ICAL.Component(ICAL.parse(text));
  const vevent = calendar.getFirstSubcomponent("vevent");
  if (!vevent) throw new Error(`no VEVENT in:\n${text}`);
  const event = new ICAL.Event(vevent);
  const text_ = (name: string) => {
    const value = vevent.getFirstPropertyValue(name);
    return value === null ? null : String(value);
  };
  return {
    method: String(calendar.getFirstPropertyValue("method")),
    uid: event.uid,
    sequence: event.sequence,
    status: String(vevent.getFirstPropertyValue("status")),
    start: event.startDate.toJSDate(),
    end: event.endDate.toJSDate(),
    location: event.location,
    url: text_("url"),
    description: event.description,
    attendee: text_("attendee"),
  };
}

const maildevBin =
  new URL("../../tools/node_modules/.bin/maildev", import.meta.url).pathname;

/** A MailDev of a test's own, which the test may stop and start again on the same ports. */
export class SpawnedMailDev {
  #child?: Deno.ChildProcess;
  readonly mailbox: Mailbox;
  readonly smtpUrl: string;

  /** `tls`: SMTP over implicit TLS (as on port 465) with this certificate and key. */
  constructor(
    readonly webPort: number,
    readonly smtpPort: number,
    readonly tls?: { certFile: string; keyFile: string },
  ) {
    this.mailbox = new Mailbox(`http://127.0.0.1:${webPort}`);
    // A self-signed certificate: the test trusts it, as a client trusts a real one.
    this.smtpUrl = tls
      ? `smtps://127.0.0.1:${smtpPort}/?tls.rejectUnauthorized=false`
      : `smtp://127.0.0.1:${smtpPort}`;
  }

  async start(): Promise<void> {
    this.#child = new Deno.Command(maildevBin, {
      args: [
        "--ip",
        "127.0.0.1",
        "--smtp",
        String(this.smtpPort),
        "--web-ip",
        "127.0.0.1",
        "--web",
        String(this.webPort),
        "--silent",
        ...(this.tls
          ? [
            "--incoming-secure",
            "--incoming-cert",
            this.tls.certFile,
            "--incoming-key",
            this.tls.keyFile,
          ]
          : []),
      ],
      stdin: "null",
      stdout: "null",
      stderr: "null",
    }).spawn();
    const deadline = Date.now() + 30_000;
    while (true) {
      try {
        const response = await fetch(`${this.mailbox.url}/api/healthz`);
        await response.body?.cancel();
        if (response.ok) return;
      } catch {
        // not listening yet
      }
      if (Date.now() > deadline) throw new Error("MailDev did not start");
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }

  async stop(): Promise<void> {
    if (!this.#child) return;
    try {
      this.#child.kill("SIGTERM");
    } catch {
      // already gone
    }
    await this.#child.status;
    this.#child = undefined;
  }
}
