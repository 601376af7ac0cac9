// The customer hears about their booking by email, over real SMTP into MailDev: the link with a
// calendar invite when it is paid, a CANCEL when the money goes back, an update when it moves,
// and "your link will follow" when the pool is empty.
import assert from "node:assert/strict";
import {
  addLinks,
  createCustomerBooking,
  drain,
  Mailbox,
  meetLink,
  outbox,
  pay,
  refund,
  type Sql,
  webhookTest,
} from "../support/mod.ts";

const mailbox = new Mailbox();
const SLOT = { startsAt: "2031-03-03 10:00+07", endsAt: "2031-03-03 11:00+07" };

/** A webhook test (empty tables, `links` links) that also starts from an empty inbox. */
function emailTest(
  name: string,
  fn: (sql: Sql) => Promise<void>,
  options: { links?: number } = {},
): void {
  webhookTest(name, async (sql) => {
    await mailbox.clear();
    await fn(sql);
  }, options);
}

emailTest(
  "a settled booking's customer gets one email with the link and a REQUEST invite for the slot",
  async (sql) => {
    const bookingId = await createCustomerBooking(sql, "mail-settle-1", {
      email: "ayu@example.com",
      name: "Ayu Lestari",
      locale: "id",
    }, SLOT);
    await pay("mail-settle-1");

    const [email, ...more] = await mailbox.waitFor("ayu@example.com", 1);
    assert.ok(email, "an email arrived");
    const link = meetLink(1);
    assert.equal(email.to[0].name, "Ayu Lestari");
    assert.match(
      email.subject,
      /^Rapat Anda pada 3 Maret 2031: tautan Google Meet$/,
    );
    assert.match(email.text, /Halo Ayu Lestari,/);
    assert.match(email.text, /Senin, 03 Maret 2031, 10\.00–11\.00 WIB/);
    assert.ok(email.text.includes(link), "the plain text has the link");
    assert.ok(
      email.html.includes(`<a href="${link}">${link}</a>`),
      "the HTML links it",
    );

    const invite = await mailbox.invite(email);
    assert.ok(invite, "a text/calendar part");
    assert.equal(invite.method, "REQUEST");
    assert.equal(invite.uid, `booking-${bookingId}@example.com`);
    assert.equal(invite.sequence, 0);
    assert.equal(invite.status, "CONFIRMED");
    assert.equal(invite.start.toISOString(), "2031-03-03T03:00:00.000Z");
    assert.equal(invite.end.toISOString(), "2031-03-03T04:00:00.000Z");
    assert.equal(invite.location, link);
    assert.equal(invite.url, link);
    assert.ok(invite.description?.includes(link));
    assert.equal(invite.attendee?.toLowerCase(), "mailto:ayu@example.com");

    const source = await mailbox.source(email);
    assert.match(
      source,
      /Content-Type: text\/calendar; charset=utf-8; method=REQUEST/i,
    );
    assert.match(source, /DTSTART:20310303T030000Z/);
    const [row] = await outbox(sql, "mail-settle-1");
    assert.equal(row.status, "sent");
    assert.equal(email.headers["message-id"], row.message_id);

    // Draining again (the schedule, a retried request) sends nothing more.
    assert.equal((await drain()).status, 200);
    assert.deepEqual(more, []);
    assert.equal((await mailbox.to("ayu@example.com")).length, 1);
  },
);

emailTest(
  "a refund sends a CANCEL for the same UID with a higher SEQUENCE",
  async (sql) => {
    await createCustomerBooking(sql, "mail-refund-1", {
      email: "budi@example.com",
      locale: "en",
    }, SLOT);
    await pay("mail-refund-1");
    const [request] = await mailbox.waitFor("budi@example.com", 1);
    // The webhook asks for the cancellation to be sent right after its answer.
    await refund("mail-refund-1");

    const emails = await mailbox.waitFor("budi@example.com", 2);
    assert.equal(emails.length, 2);
    const cancel = emails.find((e) => e.id !== request.id)!;
    assert.match(cancel.subject, /^Cancelled: your meeting on 3 March 2031$/);
    assert.match(cancel.text, /Monday, 3 March 2031, 10:00–11:00 WIB/);
    const [first, second] = [
      await mailbox.invite(request),
      await mailbox.invite(cancel),
    ];
    assert.equal(second?.method, "CANCEL");
    assert.equal(second?.status, "CANCELLED");
    assert.equal(second?.uid, first?.uid);
    assert.equal(second?.sequence, first!.sequence + 1);
    assert.match(
      await mailbox.source(cancel),
      /text\/calendar; charset=utf-8; method=CANCEL/i,
    );
  },
);

emailTest(
  "a reschedule sends the updated invite (SEQUENCE + 1) and says plainly when the link changed",
  async (sql) => {
    const bookingId = await createCustomerBooking(sql, "mail-move-1", {
      email: "citra@example.com",
      locale: "en",
    }, SLOT);
    await pay("mail-move-1");
    const [original] = await mailbox.waitFor("citra@example.com", 1);

    // Free in the new slot: same link.
    const [kept] =
      await sql`select outcome from reschedule_booking(${bookingId},
    '2031-03-04 14:00+07', '2031-03-04 15:00+07')`;
    assert.equal(kept.outcome, "kept_link");
    await drain();
    let emails = await mailbox.waitFor("citra@example.com", 2);
    const moved = emails.at(-1)!;
    assert.match(moved.subject, /^Moved: your meeting is now on 4 March 2031$/);
    assert.match(
      moved.text,
      /moved to Tuesday, 4 March 2031, 14:00–15:00 WIB \(it was Monday, 3 March 2031, 10:00–11:00 WIB\)/,
    );
    assert.doesNotMatch(moved.text, /link has changed/);
    const [first, second] = [
      await mailbox.invite(original),
      await mailbox.invite(moved),
    ];
    assert.equal(second?.uid, first?.uid);
    assert.equal(second?.sequence, 1);
    assert.equal(second?.method, "REQUEST");
    assert.equal(second?.start.toISOString(), "2031-03-04T07:00:00.000Z");

    // Its link is taken in the next slot: another link, and the email says so.
    await addLinks(sql, 1, "two");
    await sql`insert into bookings (order_id, amount, starts_at, ends_at, payment_status, meeting_link_id)
    select 'mail-move-blocker', 1, '2031-03-05 14:00+07', '2031-03-05 15:00+07', 'paid', id
    from meeting_links_pool where meeting_link = ${meetLink(1)}`;
    const [changed] =
      await sql`select outcome, meeting_link from reschedule_booking(${bookingId},
    '2031-03-05 14:00+07', '2031-03-05 15:00+07')`;
    assert.equal(changed.outcome, "new_link");
    await drain();
    emails = await mailbox.waitFor("citra@example.com", 3);
    const relinked = emails.at(-1)!;
    assert.match(
      relinked.subject,
      /^New meeting link for your meeting on 5 March 2031$/,
    );
    assert.ok(
      relinked.text.includes(
        `Your meeting link has changed. The old link ${
          meetLink(1)
        } no longer works`,
      ),
    );
    assert.ok(
      relinked.text.includes(`Join with Google Meet: ${changed.meeting_link}`),
    );
    const third = await mailbox.invite(relinked);
    assert.equal(third?.uid, first?.uid);
    assert.equal(third?.sequence, 2);
    assert.equal(third?.location, changed.meeting_link);
  },
);

emailTest(
  "pool exhausted: 'your link will follow', then the invite once a link is added",
  async (sql) => {
    await createCustomerBooking(sql, "mail-wait-1", {
      email: "dewi@example.com",
      locale: "en",
    }, SLOT);
    await pay("mail-wait-1");
    const [waiting] = await mailbox.waitFor("dewi@example.com", 1);
    assert.equal(
      waiting.subject,
      "Payment received: your meeting link will follow",
    );
    assert.match(
      waiting.text,
      /We received your payment for the meeting on Monday, 3 March 2031, 10:00–11:00 WIB/,
    );
    assert.equal(
      await mailbox.invite(waiting),
      undefined,
      "no invite without a link",
    );
    // Ops were alerted too; this stack has no OPS_EMAIL, so the alert is recorded as skipped.
    assert.deepEqual(
      (await outbox(sql, "mail-wait-1")).map((row) => [row.kind, row.status]),
      [["ops_alert", "skipped"], ["link_pending", "sent"]],
    );

    await addLinks(sql, 1);
    await drain();
    const emails = await mailbox.waitFor("dewi@example.com", 2);
    const invite = await mailbox.invite(emails[1]);
    assert.equal(invite?.method, "REQUEST");
    assert.equal(invite?.sequence, 0);
    assert.equal(invite?.location, meetLink(1));
  },
  { links: 0 },
);

emailTest(
  "hostile names are escaped in HTML and headers; hostile addresses are refused and nothing is written",
  async (sql) => {
    const name =
      `Eve <img src=x onerror=alert(1)> "Bcc: victim@example.com" & 'co'`;
    await createCustomerBooking(sql, "mail-hostile-1", {
      email: "eve@example.com",
      name,
      locale: "en",
    }, SLOT);
    await pay("mail-hostile-1");
    const [email] = await mailbox.waitFor("eve@example.com", 1);
    assert.equal(email.to.length, 1, "one recipient");
    assert.equal(email.to[0].name, name, "the name arrives whole, as a name");
    assert.ok(!email.html.includes("<img"), "no markup from the name");
    assert.ok(
      email.html.includes(
        "Hi Eve &lt;img src=x onerror=alert(1)&gt; &quot;Bcc: victim@example.com&quot; &amp; &#39;co&#39;,",
      ),
    );
    const source = await mailbox.source(email);
    assert.doesNotMatch(source, /^Bcc:/mi, "no header line from the name");
    assert.equal((await mailbox.to("victim@example.com")).length, 0);

    for (
      const bad of [
        "victim@example.com\r\nBcc: other@example.com",
        "Eve <eve@example.com>",
        "eve@example.com, victim@example.com",
        "<script>@example.com",
      ]
    ) {
      await assert.rejects(
        createCustomerBooking(sql, "mail-hostile-2", { email: bad }, SLOT),
        (error: { code?: string; constraint_name?: string }) =>
          error.code === "23514" &&
          error.constraint_name === "bookings_customer_email_is_an_address",
        `refused: ${JSON.stringify(bad)}`,
      );
    }
    await assert.rejects(
      createCustomerBooking(sql, "mail-hostile-3", {
        email: "x@example.com",
        name: "Eve\r\nBcc: y@example.com",
      }, SLOT),
      (error: { constraint_name?: string }) =>
        error.constraint_name === "bookings_customer_name_is_one_line",
    );
    const [{ count }] =
      await sql`select count(*)::int from bookings where order_id like 'mail-hostile-_' and order_id <> 'mail-hostile-1'`;
    assert.equal(count, 0, "no booking half-written");
  },
);

emailTest(
  "a logged-in customer reads their own link and no one else's",
  async (sql) => {
    const [ayu, budi] = [crypto.randomUUID(), crypto.randomUUID()];
    await sql`insert into auth.users (id, email) values (${ayu}, 'ayu@example.com'), (${budi}, 'budi@example.com')`;
    const mine = await createCustomerBooking(sql, "mail-own-1", {
      email: "ayu@example.com",
    }, SLOT);
    const theirs = await createCustomerBooking(sql, "mail-own-2", {
      email: "budi@example.com",
    }, SLOT);
    await sql`update bookings set customer_user_id = ${ayu} where id = ${mine}`;
    await sql`update bookings set customer_user_id = ${budi} where id = ${theirs}`;
    await addLinks(sql, 1, "own");
    await pay("mail-own-1");
    await pay("mail-own-2");

    const asCustomer = (uid: string) =>
      sql.begin(async (tx) => {
        await tx`select set_config('role', 'authenticated', true),
        set_config('request.jwt.claims', ${
          JSON.stringify({ sub: uid, role: "authenticated" })
        }, true)`;
        return await tx`select b.id, b.payment_status, l.meeting_link
        from bookings b left join meeting_links_pool l on l.id = b.meeting_link_id`;
      });
    const [links] =
      await sql`select array_agg(l.meeting_link order by b.order_id) as all
    from bookings b join meeting_links_pool l on l.id = b.meeting_link_id`;
    assert.deepEqual(
      (await asCustomer(ayu)).map((r) => ({ ...r })),
      [{ id: mine, payment_status: "paid", meeting_link: links.all[0] }],
    );
    assert.deepEqual(
      (await asCustomer(budi)).map((r) => ({ ...r })),
      [{ id: theirs, payment_status: "paid", meeting_link: links.all[1] }],
    );
  },
  { links: 1 },
);
