// What a booking email says: subject, plain text, HTML and the iCalendar part, in the
// customer's language and time zone. Pure: the outbox row in, the message parts out.
import ical, {
  ICalAttendeeRole,
  ICalAttendeeStatus,
  ICalCalendarMethod,
  ICalEventStatus,
} from "ical-generator";

/** One row of public.booking_emails, as postgres.js returns it. */
export type BookingEmail = {
  id: string;
  booking_id: string;
  kind: "invite" | "link_pending" | "cancellation" | "reminder" | "ops_alert";
  recipient: string | null;
  order_id: string;
  starts_at: Date;
  ends_at: Date;
  meeting_link: string | null;
  previous_meeting_link: string | null;
  previous_starts_at: Date | null;
  previous_ends_at: Date | null;
  customer_name: string | null;
  locale: "en" | "id";
  time_zone: string;
  calendar_method: "REQUEST" | "CANCEL" | null;
  calendar_sequence: number | null;
  created_at: Date;
};

export type Mailbox = { name: string; address: string };

export type EmailContent = {
  subject: string;
  text: string;
  html: string;
  calendar?: { method: "REQUEST" | "CANCEL"; content: string };
};

const LANGUAGE_TAGS = { en: "en-GB", id: "id-ID" } as const;

// Building an Intl formatter costs far more than using one: keep one per language, zone and style.
const formatters = new Map<string, Intl.DateTimeFormat>();
function formatter(
  tag: string,
  options: Intl.DateTimeFormatOptions,
): Intl.DateTimeFormat {
  const key = `${tag} ${JSON.stringify(options)}`;
  let format = formatters.get(key);
  if (!format) {
    format = new Intl.DateTimeFormat(tag, options);
    formatters.set(key, format);
  }
  return format;
}

/** The zone's abbreviation: WIB, WITA, WIT, EST... falling back to GMT+7 where none is known. */
export function zoneAbbreviation(
  at: Date,
  timeZone: string,
  locale: "en" | "id",
): string {
  const name = (tag: string) =>
    formatter(tag, { timeZone, timeZoneName: "short" })
      .formatToParts(at).find((part) => part.type === "timeZoneName")
      ?.value ?? "";
  // ICU knows Indonesia's WIB/WITA/WIT only in Indonesian, the US zones only in English.
  const names = [LANGUAGE_TAGS[locale], "id-ID", "en-US"].map(name);
  return names.find((abbreviation) => !/^(GMT|UTC)[+-]/.test(abbreviation)) ??
    names[0];
}

/** "Tuesday, 1 December 2026, 10:00–11:00 WIB" in the customer's language and zone. */
export function describeSlot(
  start: Date,
  end: Date,
  timeZone: string,
  locale: "en" | "id",
): string {
  const tag = LANGUAGE_TAGS[locale];
  const date = formatter(tag, { timeZone, dateStyle: "full" });
  const time = formatter(tag, {
    timeZone,
    hour: "2-digit",
    minute: "2-digit",
    hourCycle: "h23",
  });
  const zone = zoneAbbreviation(start, timeZone, locale);
  const endPart = date.format(end) === date.format(start)
    ? time.format(end)
    : `${date.format(end)}, ${time.format(end)}`;
  return `${date.format(start)}, ${time.format(start)}–${endPart} ${zone}`;
}

function shortDate(at: Date, timeZone: string, locale: "en" | "id"): string {
  return formatter(LANGUAGE_TAGS[locale], { timeZone, dateStyle: "long" })
    .format(at);
}

const HTML_ESCAPES: Record<string, string> = {
  "&": "&amp;",
  "<": "&lt;",
  ">": "&gt;",
  '"': "&quot;",
  "'": "&#39;",
};

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (char) => HTML_ESCAPES[char]);
}

// A paragraph is plain text with at most one link in it: the text is escaped for HTML, the link
// becomes an anchor.
type Paragraph = { text: string; link?: string };

function toText(paragraphs: Paragraph[]): string {
  return paragraphs.map((p) => p.text).join("\n\n") + "\n";
}

function toHtml(paragraphs: Paragraph[], lang: string): string {
  const body = paragraphs.map(({ text, link }) => {
    let html = escapeHtml(text);
    if (link) {
      const escaped = escapeHtml(link);
      html = html.replace(escaped, `<a href="${escaped}">${escaped}</a>`);
    }
    return `<p>${html}</p>`;
  }).join("\n");
  return `<!doctype html>\n<html lang="${lang}">\n<body>\n${body}\n</body>\n</html>\n`;
}

/** Everything a customer email says, per language; the structure is the same for both. */
type Words = {
  greeting: (name: string | null) => string;
  subjects: {
    invite: (date: string) => string;
    moved: (date: string) => string;
    newLink: (date: string) => string;
    linkPending: string;
    cancellation: (date: string) => string;
    reminder: (date: string) => string;
  };
  paid: (when: string) => string;
  moved: (when: string, previous: string) => string;
  linkChanged: (oldLink: string) => string;
  join: (link: string) => string;
  inviteAttached: string;
  inviteUpdated: string;
  linkPending: (when: string) => string;
  linkPendingMoved: (when: string, previous: string) => string;
  cancelled: (when: string) => string;
  linkVoid: (link: string) => string;
  reminder: (when: string) => string;
  summary: string;
};

const WORDS: Record<"en" | "id", Words> = {
  en: {
    greeting: (name) => name ? `Hi ${name},` : "Hello,",
    subjects: {
      invite: (date) => `Your meeting on ${date}: Google Meet link`,
      moved: (date) => `Moved: your meeting is now on ${date}`,
      newLink: (date) => `New meeting link for your meeting on ${date}`,
      linkPending: "Payment received: your meeting link will follow",
      cancellation: (date) => `Cancelled: your meeting on ${date}`,
      reminder: (date) => `Reminder: your meeting on ${date}`,
    },
    paid: (when) => `Your payment is confirmed. Your meeting is on ${when}.`,
    moved: (when, previous) =>
      `Your meeting has moved to ${when} (it was ${previous}).`,
    linkChanged: (oldLink) =>
      `Your meeting link has changed. The old link ${oldLink} no longer works for this meeting.`,
    join: (link) => `Join with Google Meet: ${link}`,
    inviteAttached: "The calendar invite is attached.",
    inviteUpdated:
      "The attached calendar invite updates the one you already have.",
    linkPending: (when) =>
      `We received your payment for the meeting on ${when}. Your Google Meet link will follow in a separate email.`,
    linkPendingMoved: (when, previous) =>
      `Your meeting has moved to ${when} (it was ${previous}). Its Google Meet link will follow in a separate email.`,
    cancelled: (when) =>
      `Your booking for ${when} is no longer paid (it was refunded or cancelled), so this meeting is cancelled.`,
    linkVoid: (link) => `The link ${link} no longer works for it.`,
    reminder: (when) => `A reminder: your meeting is on ${when}.`,
    summary: "Meeting (Google Meet)",
  },
  id: {
    greeting: (name) => name ? `Halo ${name},` : "Halo,",
    subjects: {
      invite: (date) => `Rapat Anda pada ${date}: tautan Google Meet`,
      moved: (date) => `Dipindahkan: rapat Anda kini pada ${date}`,
      newLink: (date) => `Tautan baru untuk rapat Anda pada ${date}`,
      linkPending: "Pembayaran diterima: tautan rapat akan menyusul",
      cancellation: (date) => `Dibatalkan: rapat Anda pada ${date}`,
      reminder: (date) => `Pengingat: rapat Anda pada ${date}`,
    },
    paid: (when) =>
      `Pembayaran Anda sudah kami terima. Rapat Anda pada ${when}.`,
    moved: (when, previous) =>
      `Rapat Anda dipindahkan ke ${when} (sebelumnya ${previous}).`,
    linkChanged: (oldLink) =>
      `Tautan rapat Anda berubah. Tautan lama ${oldLink} tidak berlaku lagi untuk rapat ini.`,
    join: (link) => `Bergabung lewat Google Meet: ${link}`,
    inviteAttached: "Undangan kalender terlampir.",
    inviteUpdated:
      "Undangan kalender terlampir memperbarui undangan yang sudah Anda terima.",
    linkPending: (when) =>
      `Pembayaran Anda untuk rapat pada ${when} sudah kami terima. Tautan Google Meet akan kami kirim dalam email terpisah.`,
    linkPendingMoved: (when, previous) =>
      `Rapat Anda dipindahkan ke ${when} (sebelumnya ${previous}). Tautan Google Meet-nya akan kami kirim dalam email terpisah.`,
    cancelled: (when) =>
      `Pemesanan Anda untuk ${when} tidak lagi lunas (dana dikembalikan atau dibatalkan), jadi rapat ini dibatalkan.`,
    linkVoid: (link) => `Tautan ${link} tidak berlaku lagi untuk rapat ini.`,
    reminder: (when) => `Pengingat: rapat Anda pada ${when}.`,
    summary: "Rapat (Google Meet)",
  },
};

function subject(email: BookingEmail, words: Words, date: string): string {
  switch (email.kind) {
    case "link_pending":
      return words.subjects.linkPending;
    case "cancellation":
      return words.subjects.cancellation(date);
    case "reminder":
      return words.subjects.reminder(date);
    default:
      return email.previous_meeting_link
        ? words.subjects.newLink(date)
        : email.previous_starts_at
        ? words.subjects.moved(date)
        : words.subjects.invite(date);
  }
}

function body(
  email: BookingEmail,
  words: Words,
  when: string,
  previous?: string,
): Paragraph[] {
  const link = email.meeting_link;
  switch (email.kind) {
    case "link_pending":
      return [{
        text: previous
          ? words.linkPendingMoved(when, previous)
          : words.linkPending(when),
      }];
    case "cancellation":
      return [
        { text: words.cancelled(when) },
        ...(link ? [{ text: words.linkVoid(link), link }] : []),
      ];
    case "reminder":
      return [
        { text: words.reminder(when) },
        { text: words.join(link ?? ""), link: link ?? undefined },
      ];
    default:
      return [
        { text: previous ? words.moved(when, previous) : words.paid(when) },
        ...(email.previous_meeting_link
          ? [{ text: words.linkChanged(email.previous_meeting_link) }]
          : []),
        { text: words.join(link ?? ""), link: link ?? undefined },
        {
          text: email.calendar_sequence
            ? words.inviteUpdated
            : words.inviteAttached,
        },
      ];
  }
}

/** The same UID for every calendar message of one booking, so calendars update one event. */
export function calendarUid(bookingId: string, domain: string): string {
  return `booking-${bookingId}@${domain}`;
}

function calendarPart(
  email: BookingEmail,
  organizer: Mailbox,
  words: Words,
): EmailContent["calendar"] {
  if (!email.calendar_method || email.calendar_sequence === null) {
    return undefined;
  }
  const method = email.calendar_method;
  const calendar = ical({
    prodId: {
      company: "meeting-links",
      product: "booking-emails",
      language: email.locale.toUpperCase(),
    },
    method: method === "CANCEL"
      ? ICalCalendarMethod.CANCEL
      : ICalCalendarMethod.REQUEST,
  });
  const link = email.meeting_link ?? undefined;
  calendar.createEvent({
    id: calendarUid(email.booking_id, organizer.address.split("@")[1]),
    sequence: email.calendar_sequence,
    stamp: email.created_at,
    start: email.starts_at,
    end: email.ends_at,
    summary: words.summary,
    description: link ? words.join(link) : undefined,
    location: link,
    url: link,
    status: method === "CANCEL"
      ? ICalEventStatus.CANCELLED
      : ICalEventStatus.CONFIRMED,
    organizer: { name: organizer.name, email: organizer.address },
    attendees: [{
      email: email.recipient!,
      name: email.customer_name ?? undefined,
      role: ICalAttendeeRole.REQ,
      status: ICalAttendeeStatus.ACCEPTED,
      rsvp: false,
    }],
  });
  return { method, content: calendar.toString() };
}

/** A customer email: greeting, what happened, the link; the invite when the row calls for one. */
export function renderCustomerEmail(
  email: BookingEmail,
  organizer: Mailbox,
): EmailContent {
  const words = WORDS[email.locale];
  const when = describeSlot(
    email.starts_at,
    email.ends_at,
    email.time_zone,
    email.locale,
  );
  const previous = email.previous_starts_at && email.previous_ends_at
    ? describeSlot(
      email.previous_starts_at,
      email.previous_ends_at,
      email.time_zone,
      email.locale,
    )
    : undefined;
  const paragraphs = [
    { text: words.greeting(email.customer_name) },
    ...body(email, words, when, previous),
  ];
  return {
    subject: subject(
      email,
      words,
      shortDate(email.starts_at, email.time_zone, email.locale),
    ),
    text: toText(paragraphs),
    html: toHtml(paragraphs, email.locale),
    calendar: calendarPart(email, organizer, words),
  };
}

/** The alert ops get when a paid booking waits for a manual link. */
export function renderOpsAlert(email: BookingEmail): EmailContent {
  const when =
    `${email.starts_at.toISOString()} – ${email.ends_at.toISOString()} (${
      describeSlot(email.starts_at, email.ends_at, email.time_zone, "en")
    })`;
  const paragraphs: Paragraph[] = [
    {
      text:
        `Booking ${email.order_id} (${email.booking_id}) is paid for ${when}, but no meeting link is free for that slot. The customer was told the link will follow.`,
    },
    {
      text:
        "Add a link to the pool and it is assigned at once: insert into public.meeting_links_pool (meeting_link) values ('https://meet.google.com/xxx-xxxx-xxx');",
    },
    {
      text:
        "Waiting bookings: select * from public.paid_bookings_without_link;",
    },
  ];
  return {
    subject:
      `Action needed: paid booking ${email.order_id} has no meeting link`,
    text: toText(paragraphs),
    html: toHtml(paragraphs, "en"),
  };
}
