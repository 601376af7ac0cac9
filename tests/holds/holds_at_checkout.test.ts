// Holds at checkout over HTTP: a pending booking reserves a link for its slot before it pays, the
// payment gets exactly that link, and the hold ends at heldUntil or at once when Midtrans
// confirms the checkout failed.
import assert from "node:assert/strict";
import {
  addLinks,
  asServiceRole,
  callFunction,
  env,
  type FunctionResponse,
  notifyFromSandbox,
  paidBookingsSharingALink,
  putTransaction,
  resetData,
  settleBackgroundWork,
  settlement,
  signed,
  type Sql,
  withSql,
} from "../support/mod.ts";

const SLOT = {
  startsAt: "2031-05-05T10:00:00+07:00",
  endsAt: "2031-05-05T11:00:00+07:00",
};

function hold(bookingId: string, holdMinutes?: number) {
  return callFunction("hold-meeting-link", {
    method: "POST",
    headers: asServiceRole,
    json: { bookingId, holdMinutes },
    requireJson: true,
  });
}

function availability(
  slots: { startsAt: string; endsAt: string }[],
  headers: Record<string, string> = { apikey: env.publishableKey },
) {
  return callFunction("meeting-link-availability", {
    method: "POST",
    headers,
    json: { slots },
    requireJson: true,
  });
}

async function freeInSlot(): Promise<number> {
  const response = await availability([SLOT]);
  assert.equal(response.status, 200, response.text);
  return (response.json as { slots: { free: number }[] }).slots[0].free;
}

/** `count` pending bookings of SLOT, order ids hold-<n>. */
async function pendingBookings(
  sql: Sql,
  count: number,
): Promise<{ id: string; order_id: string }[]> {
  return [
    ...await sql<{ id: string; order_id: string }[]>`
    insert into bookings (order_id, starts_at, ends_at, amount)
    select 'hold-' || i, ${SLOT.startsAt}, ${SLOT.endsAt}, 150000
    from generate_series(1, ${count}::int) i
    order by i
    returning id, order_id`,
  ];
}

/** Midtrans settles the order's payment and notifies the webhook (through the stand-in). */
async function payThroughMidtrans(orderId: string, status = "settlement") {
  await putTransaction(orderId, {
    transaction_id: `t-${orderId}`,
    transaction_status: status,
    gross_amount: "150000.00",
    payment_type: "gopay",
  });
  const notified = await notifyFromSandbox(orderId);
  assert.equal(notified.status, 200, JSON.stringify(notified.body));
  return notified.body as { outcome: string; paymentStatus: string };
}

const errorOf = (response: FunctionResponse) =>
  (response.json as { error?: string }).error;

Deno.test("200 concurrent holds for one hour with a pool of 10: exactly 10 held and 190 pool_exhausted; the 10 paid through Midtrans get their held links, none flagged, no link shared", async () => {
  await withSql(async (sql) => {
    await resetData(sql);
    await addLinks(sql, 10);
    const bookings = await pendingBookings(sql, 200);

    const responses = await Promise.all(bookings.map((b) => hold(b.id)));

    const held = responses.filter((r) => r.status === 200);
    const exhausted = responses.filter((r) =>
      r.status === 409 && errorOf(r) === "pool_exhausted"
    );
    assert.equal(held.length, 10, "ten hold a link");
    assert.equal(exhausted.length, 190, "a hundred and ninety are refused");
    assert.ok(held.every((r) => (r.json as { held: boolean }).held));
    assert.equal(await freeInSlot(), 0, "the hour shows no free link");
    const holds = await sql<{ booking_id: string; meeting_link_id: string }[]>`
      select booking_id, meeting_link_id from meeting_link_holds`;
    assert.equal(holds.length, 10);
    assert.equal(new Set(holds.map((h) => h.meeting_link_id)).size, 10);
    assert.equal(
      (await sql`select 1 from live_holds_sharing_a_link()`).length,
      0,
      "the health check finds no live hold sharing a link",
    );
    assert.equal(
      (await sql`select 1 from bookings where needs_manual_link`).length,
      0,
      "a refused hold flags nothing: the booking is not paid",
    );

    const orderOf = new Map(bookings.map((b) => [b.id, b.order_id]));
    for (const h of holds) {
      const answer = await payThroughMidtrans(orderOf.get(h.booking_id)!);
      assert.equal(answer.outcome, "paid");
    }
    await settleBackgroundWork();

    const paid = await sql<
      { id: string; meeting_link_id: string; needs_manual_link: boolean }[]
    >`
      select id, meeting_link_id, needs_manual_link from bookings
      where payment_status = 'paid' order by id`;
    assert.deepEqual(
      paid.map((b) => [b.id, b.meeting_link_id, b.needs_manual_link]),
      holds.map((h) => [h.booking_id, h.meeting_link_id, false])
        .sort(([a], [b]) => a < b ? -1 : 1),
      "each paid booking has exactly the link it held, and none is flagged",
    );
    assert.equal(
      (await sql`select 1 from meeting_link_holds`).length,
      0,
      "a settled hold is consumed",
    );
    assert.deepEqual(await paidBookingsSharingALink(sql), []);
    const [check] = await sql`select * from check_double_booking()`;
    assert.deepEqual(
      [
        check.bookings_sharing_a_link,
        check.bookings_missing_from_index,
        check.holds_sharing_a_link,
      ],
      [0, 0, 0],
    );
  });
});

Deno.test("holding again extends the hold and keeps its link; a paid booking cannot hold", async () => {
  await withSql(async (sql) => {
    await resetData(sql);
    await addLinks(sql, 3);
    const [a] = await pendingBookings(sql, 1);
    const first = await hold(a.id, 5);
    assert.equal(first.status, 200, first.text);
    const [before] = await sql`select meeting_link_id from meeting_link_holds`;
    const again = await hold(a.id, 30);
    assert.equal(again.status, 200);
    const body = again.json as { heldUntil: string; alreadyHeld: boolean };
    assert.equal(body.alreadyHeld, true);
    assert.ok(
      Date.parse(body.heldUntil) >
        Date.parse((first.json as { heldUntil: string }).heldUntil),
    );
    const [after] = await sql`select meeting_link_id from meeting_link_holds`;
    assert.equal(after.meeting_link_id, before.meeting_link_id);

    await payThroughMidtrans(a.order_id);
    const paidAgain = await hold(a.id);
    assert.equal(paidAgain.status, 409);
    assert.equal(errorOf(paidAgain), "booking_not_pending");
  });
});

Deno.test("a hold that expired (heldUntil set in the past by admin SQL) frees its capacity for another booking; its own late payment is served like any other", async () => {
  await withSql(async (sql) => {
    await resetData(sql);
    await addLinks(sql, 1);
    const [a, b] = await pendingBookings(sql, 2);
    assert.equal((await hold(a.id)).status, 200);
    const refused = await hold(b.id);
    assert.equal(errorOf(refused), "pool_exhausted");
    assert.equal(await freeInSlot(), 0);

    await sql`update meeting_link_holds set held_until = now() - interval '1 second'
      where booking_id = ${a.id}`;
    assert.equal(
      await freeInSlot(),
      1,
      "nothing had to run for the hold to end",
    );
    const taken = await hold(b.id);
    assert.equal(taken.status, 200, taken.text);
    assert.deepEqual(
      (await sql`select booking_id from meeting_link_holds`).map((h) =>
        h.booking_id
      ),
      [b.id],
      "the booking that took the link deleted the expired hold",
    );

    // a pays after its hold ended and b holds the only link: flagged, as any payment the pool
    // cannot serve; b's payment gets its held link.
    await payThroughMidtrans(a.order_id);
    await payThroughMidtrans(b.order_id);
    await settleBackgroundWork();
    const rows = await sql`
      select order_id, meeting_link_id is not null as linked, needs_manual_link from bookings
      order by order_id`;
    assert.deepEqual(
      rows.map((r) => [r.order_id, r.linked, r.needs_manual_link]),
      [
        [a.order_id, false, true],
        [b.order_id, true, false],
      ],
    );
  });
});

Deno.test("Midtrans confirming expire releases the hold at once; an expire it does not confirm releases nothing; an admin cancel releases too", async () => {
  await withSql(async (sql) => {
    await resetData(sql);
    await addLinks(sql, 1);
    const [a, b] = await pendingBookings(sql, 2);
    assert.equal((await hold(a.id)).status, 200);

    // Signed, but Midtrans says the transaction is still pending: nothing changes.
    await putTransaction(a.order_id, {
      transaction_id: `t-${a.order_id}`,
      transaction_status: "pending",
      gross_amount: "150000.00",
    });
    const forged = await callFunction("midtrans-webhook", {
      method: "POST",
      headers: { "content-type": "application/json" },
      json: signed({
        ...settlement(a.order_id),
        transaction_id: `t-${a.order_id}`,
        transaction_status: "expire",
        status_code: "407",
      }),
    });
    assert.equal(forged.status, 200, forged.text);
    assert.equal((await sql`select 1 from meeting_link_holds`).length, 1);
    assert.equal(await freeInSlot(), 0);

    const expired = await payThroughMidtrans(a.order_id, "expire");
    assert.equal(expired.paymentStatus, "expired");
    assert.equal((await sql`select 1 from meeting_link_holds`).length, 0);
    assert.equal(await freeInSlot(), 1);

    assert.equal((await hold(b.id)).status, 200);
    await sql`update bookings set payment_status = 'cancelled' where id = ${b.id}`;
    assert.equal(await freeInSlot(), 1, "an admin cancel releases the hold");
    assert.equal((await sql`select 1 from meeting_link_holds`).length, 0);
  });
});

Deno.test("a paid booking written by hand over another booking's live hold is refused (23P01); the sweep deletes expired holds", async () => {
  await withSql(async (sql) => {
    await resetData(sql);
    const [link] = await addLinks(sql, 1);
    const [a, b] = await pendingBookings(sql, 2);
    assert.equal((await hold(a.id)).status, 200);
    await assert.rejects(
      sql`update bookings set payment_status = 'paid', meeting_link_id = ${link}
        where id = ${b.id}`,
      (error: { code?: string }) => error.code === "23P01",
    );
    // Paid by hand without a link: the sweep cannot give it the held link, so flags it.
    await sql`update bookings set payment_status = 'paid' where id = ${b.id}`;
    await sql`select assign_pending_meeting_links()`;
    const [flagged] =
      await sql`select needs_manual_link from bookings where id = ${b.id}`;
    assert.equal(flagged.needs_manual_link, true);

    await sql`update meeting_link_holds set held_until = now() - interval '1 second'`;
    await sql`select assign_pending_meeting_links()`;
    assert.equal((await sql`select 1 from meeting_link_holds`).length, 0);
    const [served] =
      await sql`select meeting_link_id from bookings where id = ${b.id}`;
    assert.equal(
      served.meeting_link_id,
      link,
      "the sweep then serves the flagged booking",
    );
  });
});

Deno.test("availability: counts only, in order, with the publishable or anon key; anon can call nothing else; bad slots are 400 naming the slot", async () => {
  await withSql(async (sql) => {
    await resetData(sql);
    await addLinks(sql, 2);
    const [a] = await pendingBookings(sql, 1);
    assert.equal((await hold(a.id)).status, 200);
    const later = {
      startsAt: "2031-05-05T11:00:00+07:00",
      endsAt: "2031-05-05T12:00:00+07:00",
    };
    for (
      const headers of [
        { apikey: env.publishableKey },
        { authorization: `Bearer ${env.anonKey}`, apikey: env.anonKey },
        { apikey: env.secretKey },
      ] as Record<string, string>[]
    ) {
      const response = await availability([later, SLOT], headers);
      assert.equal(response.status, 200, response.text);
      assert.deepEqual(response.json, {
        slots: [{ ...later, free: 2 }, { ...SLOT, free: 1 }],
      });
    }

    for (
      const name of [
        "hold-meeting-link",
        "assign-meeting-link",
        "send-booking-emails",
      ]
    ) {
      for (
        const headers of [{ apikey: env.publishableKey }, {
          authorization: `Bearer ${env.anonKey}`,
        }] as Record<string, string>[]
      ) {
        const response = await callFunction(name, {
          method: "POST",
          headers,
          json: { bookingId: a.id },
          requireJson: true,
        });
        assert.equal(response.status, 403, `${name}: ${response.text}`);
      }
    }
    assert.equal((await availability([SLOT], {})).status, 401);

    const bad = await availability([SLOT, {
      startsAt: SLOT.startsAt,
      endsAt: SLOT.startsAt,
    }]);
    assert.equal(bad.status, 400);
    assert.equal(errorOf(bad), "invalid_request");
    assert.match(
      (bad.json as { message: string }).message,
      /^slots\.1\.endsAt: must be 1 minute to 24 hours after startsAt$/,
    );
    const february30 = await availability([{
      startsAt: "2031-02-30T10:00+07:00",
      endsAt: "2031-02-30T11:00+07:00",
    }]);
    assert.equal(errorOf(february30), "invalid_request", february30.text);
    const tooMany = await availability(Array(501).fill(SLOT));
    assert.equal(errorOf(tooMany), "invalid_request");
    assert.equal(errorOf(await availability([])), "invalid_request");
    const badHold = await hold(a.id, 1441);
    assert.equal(errorOf(badHold), "invalid_request");
    const unknown = await hold("00000000-0000-4000-8000-000000000000");
    assert.equal(unknown.status, 404);
  });
});
