// Reminders over real HTTP, SMTP and Postgres: queued with the link for 24 h and 1 h before the
// start, sent by the drain when due (time is driven through SQL: a reminder's due_at is set to
// now), on both channels, with the link and the local time and no calendar part; moved by a
// reschedule, dropped by a refund, never sent once the meeting started.
import assert from "node:assert/strict";
import {
  createCustomerBooking,
  drain,
  Mailbox,
  meetLink,
  pay,
  refund,
  type Sql,
  webhookTest,
  WhatsAppSandbox,
} from "../support/mod.ts";

const mailbox = new Mailbox();
const sandbox = new WhatsAppSandbox();

/** A slot three days ahead, on the hour, in Jakarta. */
async function slotInThreeDays(sql: Sql) {
  const [row] = await sql<{ starts_at: Date; ends_at: Date }[]>`
    select date_trunc('hour', now()) + interval '3 days' as starts_at,
      date_trunc('hour', now()) + interval '3 days 1 hour' as ends_at`;
  return {
    startsAt: row.starts_at.toISOString(),
    endsAt: row.ends_at.toISOString(),
  };
}

type Reminder = {
  channel: string;
  status: string;
  before: number;
  starts_at: Date;
};

async function reminders(sql: Sql, orderId: string): Promise<Reminder[]> {
  return (await sql<Reminder[]>`
    select channel, status,
      (extract(epoch from b.starts_at - m.due_at) / 3600)::int as before, m.starts_at
    from (select booking_id, 'email' as channel, status, due_at, starts_at, id
          from booking_emails where kind = 'reminder'
          union all
          select booking_id, 'whatsapp', status, due_at, starts_at, id
          from booking_whatsapp_messages where kind = 'reminder') m
    join bookings b on b.id = m.booking_id
    where b.order_id = ${orderId} and m.status = 'pending'
    order by channel, m.due_at`).map((r) => ({ ...r }));
}

/** Time passes until the reminder `offset` before the start: it is due now. */
async function reminderDue(sql: Sql, orderId: string, offset: string) {
  for (const table of ["booking_emails", "booking_whatsapp_messages"]) {
    await sql`update ${sql(table)} set due_at = now()
      where order_id = ${orderId} and kind = 'reminder' and status = 'pending'
        and reminder_offset = ${offset}::interval`;
  }
}

webhookTest(
  "reminders go at their times on both channels, with the link and no invite",
  async (sql) => {
    const phone = `+628${String(Date.now() % 1e8).padStart(8, "0")}1`;
    await mailbox.clear();
    const slot = await slotInThreeDays(sql);
    await createCustomerBooking(sql, "rem-1", {
      email: "rem-1@example.com",
      name: "Claire",
      locale: "en",
      timeZone: "Asia/Singapore",
      phone,
      whatsapp: true,
    }, slot);
    await pay("rem-1");
    assert.deepEqual(
      (await reminders(sql, "rem-1")).map((r) => [r.channel, r.before]),
      [
        ["email", 24],
        ["email", 1],
        ["whatsapp", 24],
        ["whatsapp", 1],
      ],
      "queued with the link: 24 h and 1 h before, per channel",
    );
    assert.equal(
      (await mailbox.waitFor("rem-1@example.com", 1)).length,
      1,
      "the invite",
    );
    assert.equal((await sandbox.waitFor(phone, 1)).length, 1);

    // Not due yet: a drain sends nothing more.
    await drain();
    assert.equal((await mailbox.to("rem-1@example.com")).length, 1);

    await reminderDue(sql, "rem-1", "24 hours");
    const answer = await drain();
    assert.equal(answer.body.sent, 1);
    assert.equal(answer.body.whatsapp?.sent, 1);
    const emails = await mailbox.waitFor("rem-1@example.com", 2);
    const reminder = emails[1];
    assert.match(reminder.subject, /^Reminder: your meeting on /);
    assert.ok(
      reminder.text.includes(meetLink(1)),
      "the email carries the link",
    );
    const hour = new Intl.DateTimeFormat("en-GB", {
      timeZone: "Asia/Singapore",
      hour: "2-digit",
      hourCycle: "h23",
    }).format(new Date(slot.startsAt));
    assert.ok(reminder.text.includes(`${hour}:00–`), "in the customer's zone");
    const source = await mailbox.source(reminder);
    assert.doesNotMatch(source, /text\/calendar/i, "no calendar REQUEST");
    const messages = await sandbox.waitFor(phone, 2);
    assert.equal(messages[1].template, "booking_reminder");
    assert.equal(messages[1].language, "en");
    assert.equal(messages[1].parameters[2], meetLink(1));

    await drain();
    assert.equal(
      (await mailbox.to("rem-1@example.com")).length,
      2,
      "sent once",
    );
    assert.equal((await sandbox.messages(phone)).length, 2);
  },
);

webhookTest(
  "a reschedule moves the reminders; a refund drops them",
  async (sql) => {
    const slot = await slotInThreeDays(sql);
    const bookingId = await createCustomerBooking(sql, "rem-2", {
      email: "rem-2@example.com",
      phone: `+628${String(Date.now() % 1e8).padStart(8, "0")}2`,
      whatsapp: true,
    }, slot);
    await pay("rem-2");
    const before = await reminders(sql, "rem-2");
    assert.equal(before.length, 4);

    const [moved] =
      await sql`select outcome from reschedule_booking(${bookingId},
    ${slot.startsAt}::timestamptz + interval '1 day', ${slot.endsAt}::timestamptz + interval '1 day')`;
    assert.equal(moved.outcome, "kept_link");
    const after = await reminders(sql, "rem-2");
    assert.equal(after.length, 4, "as many as before: the old ones are gone");
    for (const reminder of after) {
      assert.equal(
        reminder.starts_at.getTime(),
        new Date(slot.startsAt).getTime() + 86_400_000,
        "each for the new start",
      );
    }

    await refund("rem-2");
    assert.deepEqual(await reminders(sql, "rem-2"), [], "a refund drops them");
  },
);

webhookTest(
  "a reminder the drains reach after the start is skipped, never sent",
  async (sql) => {
    const phone = `+628${String(Date.now() % 1e8).padStart(8, "0")}3`;
    await mailbox.clear();
    const slot = await slotInThreeDays(sql);
    await createCustomerBooking(sql, "rem-3", {
      email: "rem-3@example.com",
      phone,
      whatsapp: true,
    }, slot);
    await pay("rem-3");
    await mailbox.waitFor("rem-3@example.com", 1);
    // The drains were down until a minute after the start: the reminders' snapshot says so.
    for (const table of ["booking_emails", "booking_whatsapp_messages"]) {
      await sql`update ${
        sql(table)
      } set starts_at = now() - interval '1 minute',
        due_at = now() - interval '61 minutes'
      where order_id = 'rem-3' and kind = 'reminder'`;
    }
    const answer = await drain();
    assert.equal(answer.body.sent, 0);
    assert.equal(answer.body.whatsapp?.sent, 0);
    assert.equal(
      (await mailbox.to("rem-3@example.com")).length,
      1,
      "the invite only",
    );
    assert.equal((await sandbox.messages(phone)).length, 1);
    const statuses =
      await sql`select status, count(*)::int as n from booking_messages
    where order_id = 'rem-3' and kind = 'reminder' group by status`;
    assert.deepEqual(statuses.map((r) => ({ ...r })), [{
      status: "skipped",
      n: 4,
    }]);
  },
);
