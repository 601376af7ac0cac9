// What a booking email says, rendered in-process from an outbox row: the slot in the customer's
// language and zone, the link, escaping, and the iCalendar part read back by ical.js.
import assert from "node:assert/strict";
import {
  type BookingEmail,
  describeSlot,
  escapeHtml,
  renderCustomerEmail,
  renderOpsAlert,
  zoneAbbreviation,
} from "../../supabase/functions/_shared/email_content.ts";
import { parseInvite } from "../support/mod.ts";

const FROM = { name: "Meeting links", address: "bookings@example.com" };
const LINK = "https://meet.google.com/abc-defg-hij";

function row(fields: Partial<BookingEmail> = {}): BookingEmail {
  return {
    id: "1",
    booking_id: "5a7c1a52-8d0c-4d4e-9a57-0f1e7b1c2d3e",
    kind: "invite",
    recipient: "ayu@example.com",
    order_id: "order-1",
    starts_at: new Date("2031-03-03T03:00:00Z"),
    ends_at: new Date("2031-03-03T04:00:00Z"),
    meeting_link: LINK,
    previous_meeting_link: null,
    previous_starts_at: null,
    previous_ends_at: null,
    customer_name: "Ayu",
    locale: "id",
    time_zone: "Asia/Jakarta",
    calendar_method: "REQUEST",
    calendar_sequence: 0,
    created_at: new Date("2031-03-01T00:00:00Z"),
    ...fields,
  };
}

Deno.test("Indonesia's zones show WIB, WITA and WIT in both languages; others their usual name", () => {
  const at = new Date("2031-03-03T03:00:00Z");
  for (const locale of ["en", "id"] as const) {
    assert.equal(zoneAbbreviation(at, "Asia/Jakarta", locale), "WIB");
    assert.equal(zoneAbbreviation(at, "Asia/Makassar", locale), "WITA");
    assert.equal(zoneAbbreviation(at, "Asia/Jayapura", locale), "WIT");
    assert.equal(zoneAbbreviation(at, "America/New_York", locale), "EST");
  }
  assert.equal(zoneAbbreviation(at, "Asia/Singapore", "en"), "GMT+8");
});

Deno.test("the slot is spelled out in the customer's zone, across midnight too", () => {
  const start = new Date("2031-03-03T16:30:00Z");
  const end = new Date("2031-03-03T18:00:00Z");
  assert.equal(
    describeSlot(start, end, "Asia/Jakarta", "id"),
    "Senin, 03 Maret 2031, 23.30–Selasa, 04 Maret 2031, 01.00 WIB",
  );
  assert.equal(
    describeSlot(start, end, "Europe/London", "en"),
    "Monday, 3 March 2031, 16:30–18:00 GMT",
  );
});

Deno.test("escapeHtml leaves no markup", () => {
  assert.equal(
    escapeHtml(`<a href="x" onclick='y'>&</a>`),
    "&lt;a href=&quot;x&quot; onclick=&#39;y&#39;&gt;&amp;&lt;/a&gt;",
  );
});

Deno.test("an invite: subject, text and HTML in the customer's language, and a REQUEST for the slot", () => {
  const email = renderCustomerEmail(row(), FROM);
  assert.equal(
    email.subject,
    "Rapat Anda pada 3 Maret 2031: tautan Google Meet",
  );
  assert.match(
    email.text,
    /^Halo Ayu,\n\nPembayaran Anda sudah kami terima\. Rapat Anda pada Senin, 03 Maret 2031, 10\.00–11\.00 WIB\./,
  );
  assert.ok(email.html.includes(`<a href="${LINK}">${LINK}</a>`));
  assert.ok(email.html.startsWith('<!doctype html>\n<html lang="id">'));
  assert.equal(email.calendar?.method, "REQUEST");
  const invite = parseInvite(email.calendar!.content);
  assert.deepEqual(
    { ...invite, attendee: invite.attendee?.toLowerCase() },
    {
      method: "REQUEST",
      uid: "booking-5a7c1a52-8d0c-4d4e-9a57-0f1e7b1c2d3e@example.com",
      sequence: 0,
      status: "CONFIRMED",
      start: new Date("2031-03-03T03:00:00Z"),
      end: new Date("2031-03-03T04:00:00Z"),
      location: LINK,
      url: LINK,
      description: `Bergabung lewat Google Meet: ${LINK}`,
      attendee: "mailto:ayu@example.com",
    },
  );
  assert.match(email.calendar!.content, /^DTSTART:20310303T030000Z\r$/m);
});

Deno.test("a changed link is said plainly; a cancellation is a CANCEL with the next SEQUENCE", () => {
  const changed = renderCustomerEmail(
    row({
      locale: "en",
      previous_meeting_link: "https://meet.google.com/old-link-xyz",
      calendar_sequence: 3,
    }),
    FROM,
  );
  assert.equal(
    changed.subject,
    "New meeting link for your meeting on 3 March 2031",
  );
  assert.ok(changed.text.includes(
    "Your meeting link has changed. The old link https://meet.google.com/old-link-xyz no longer works for this meeting.",
  ));
  assert.equal(parseInvite(changed.calendar!.content).sequence, 3);

  const cancel = renderCustomerEmail(
    row({
      kind: "cancellation",
      calendar_method: "CANCEL",
      calendar_sequence: 4,
    }),
    FROM,
  );
  const invite = parseInvite(cancel.calendar!.content);
  assert.deepEqual([invite.method, invite.status, invite.sequence], [
    "CANCEL",
    "CANCELLED",
    4,
  ]);
  assert.equal(cancel.subject, "Dibatalkan: rapat Anda pada 3 Maret 2031");
});

Deno.test("'your link will follow' has no invite; the ops alert names the booking and the fix", () => {
  const pending = renderCustomerEmail(
    row({
      kind: "link_pending",
      meeting_link: null,
      calendar_method: null,
      calendar_sequence: null,
      locale: "en",
    }),
    FROM,
  );
  assert.equal(pending.calendar, undefined);
  assert.equal(
    pending.subject,
    "Payment received: your meeting link will follow",
  );
  const alert = renderOpsAlert(row({ kind: "ops_alert", recipient: null }));
  assert.equal(
    alert.subject,
    "Action needed: paid booking order-1 has no meeting link",
  );
  assert.match(alert.text, /insert into public\.meeting_links_pool/);
});

Deno.test("a hostile name is text: escaped in HTML, quoted in the invite", () => {
  const name = `Eve <script>alert(1)</script> "x"`;
  const email = renderCustomerEmail(
    row({ customer_name: name, locale: "en" }),
    FROM,
  );
  assert.ok(!email.html.includes("<script>"));
  assert.ok(
    email.html.includes(
      "Hi Eve &lt;script&gt;alert(1)&lt;/script&gt; &quot;x&quot;,",
    ),
  );
  assert.equal(
    parseInvite(email.calendar!.content).uid.endsWith("@example.com"),
    true,
  );
});
