// Assigning a meeting link: one call to the SQL function that does it atomically.
import { z } from "zod";
import { logTask } from "./background.ts";
import { db, withTimeout } from "./db.ts";
import type { Env } from "./env.ts";
import { HttpError } from "./errors.ts";

// Extra fields are ignored. Postgres takes any 8-4-4-4-12 hex id, so z.guid, not RFC-strict z.uuid.
export const AssignRequest = z.object({
  bookingId: z.guid({
    error: (issue) =>
      issue.input === undefined ? "is required" : "must be a UUID",
  }),
}, { error: 'The body must be a JSON object: {"bookingId": "<uuid>"}.' });

export type Assignment = {
  bookingId: string;
  meetingLinkId: string;
  meetingLink: string;
  alreadyAssigned: boolean;
};

type Row = {
  booking_id: string;
  meeting_link_id: string | null;
  meeting_link: string | null;
  outcome: "assigned" | "already_assigned" | "pool_exhausted";
  queued_messages: boolean;
};

export type AssignResult = {
  outcome: Row["outcome"];
  /** The booking's link; null when the pool had none free (pool_exhausted: flagged). */
  assignment: Assignment | null;
  /** Its commit queued a message to send now: ask for a drain. */
  queuedMessages: boolean;
};

/**
 * The booking's link: already held, claimed now, or none free (the booking flagged). 404/409 when
 * it cannot have one.
 */
export async function assignMeetingLink(
  bookingId: string,
  env: Env = Deno.env,
): Promise<AssignResult> {
  const sql = db(env);
  // The messages are written at commit (bookings_write_emails, deferred), after this statement:
  // whether it queues any is read from what that trigger's WHEN clause reads, as the booking was
  // (its contacts; the flag newly set queues ops' alert), so no query has to look afterwards.
  // A subquery by primary key, not a join: the planner expects a function to return 1,000 rows
  // and would hash all of bookings.
  const [row] = await withTimeout<Row>(
    sql`select a.booking_id, a.meeting_link_id, a.meeting_link, a.outcome,
        coalesce((select case a.outcome
            when 'assigned' then b.customer_email is not null
              or (b.customer_whatsapp_opt_in and b.customer_phone is not null)
            when 'pool_exhausted' then not b.needs_manual_link
            else false end
          from public.bookings b where b.id = a.booking_id), false) as queued_messages
      from public.assign_meeting_link(${bookingId}) a`,
    env,
  );
  return {
    outcome: row.outcome,
    assignment: row.outcome === "pool_exhausted" ? null : {
      bookingId: row.booking_id,
      meetingLinkId: row.meeting_link_id!,
      meetingLink: row.meeting_link!,
      alreadyAssigned: row.outcome === "already_assigned",
    },
    queuedMessages: row.queued_messages,
  };
}

/** The answer to a booking the pool cannot serve now. */
export function poolExhausted(bookingId: string): HttpError {
  return new HttpError(
    "pool_exhausted",
    "No meeting link is free for this slot; the booking is flagged for a manual link.",
    { bookingId },
  );
}

/**
 * Gives a booking that just became paid its link, after `caller` answered: assignMeetingLink on
 * this instance's pool (no HTTP hop), then a drain when the assignment queued a message. Failures
 * are logged, never thrown: the every-minute sweep retries.
 */
export async function assignPaidBooking(
  bookingId: string,
  requestDrain: () => Promise<void>,
  caller: string,
  env: Env = Deno.env,
): Promise<void> {
  const started = performance.now();
  let outcome: string;
  let queuedMessages = false;
  try {
    ({ outcome, queuedMessages } = await assignMeetingLink(bookingId, env));
  } catch (error) {
    outcome = `failed: ${(error as Error).message}`;
  }
  logTask({
    function: caller,
    task: "assign_meeting_link",
    bookingId,
    outcome,
    ms: Math.round(performance.now() - started),
  });
  // A new link queues the customer's invite; the flag, the ops alert.
  if (queuedMessages) await requestDrain();
}

// ---------------------------------------------------------------------------
// Holds at checkout
// ---------------------------------------------------------------------------

export const HoldRequest = z.object({
  bookingId: AssignRequest.shape.bookingId,
  holdMinutes: z.int({ error: "must be a whole number of minutes" }).min(1, {
    error: "must be at least 1",
  }).max(1440, { error: "must be at most 1440 (a day)" }).default(15),
}, {
  error:
    'The body must be a JSON object: {"bookingId": "<uuid>", "holdMinutes": 15}.',
});

export type Hold = {
  bookingId: string;
  held: true;
  heldUntil: string;
  alreadyHeld: boolean;
};

/** Reserves a link for a pending booking's slot; 409 pool_exhausted when none is free. */
export async function holdMeetingLink(
  bookingId: string,
  holdMinutes: number,
  env: Env = Deno.env,
): Promise<Hold> {
  const [row] = await withTimeout<
    { held: boolean; held_until: Date | null; already_held: boolean }
  >(
    db(env)`select held, held_until, already_held
      from public.hold_meeting_link(${bookingId}, ${holdMinutes})`,
    env,
  );
  if (!row.held) {
    throw new HttpError(
      "pool_exhausted",
      "No meeting link is free for this booking's slot; offer another slot.",
      { bookingId },
    );
  }
  return {
    bookingId,
    held: true,
    heldUntil: row.held_until!.toISOString(),
    alreadyHeld: row.already_held,
  };
}

// ---------------------------------------------------------------------------
// Availability
// ---------------------------------------------------------------------------

const MINUTE = 60_000;
// ISO-8601 with a time zone, seconds optional (2031-05-05T10:00+07:00, ...T10:00:00.000Z).
const instant = z.string({
  error: (issue) =>
    issue.input === undefined ? "is required" : "must be a string",
}).regex(
  /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?(Z|[+-]\d{2}:\d{2})$/,
  { error: "must be an ISO-8601 date-time with a time zone" },
).refine((value) => !Number.isNaN(Date.parse(value)), {
  error: "must be an ISO-8601 date-time with a time zone",
});

export const AvailabilityRequest = z.object({
  slots: z.array(
    z.object({ startsAt: instant, endsAt: instant }).check((ctx) => {
      const length = Date.parse(ctx.value.endsAt) -
        Date.parse(ctx.value.startsAt);
      if (length < MINUTE || length > 24 * 60 * MINUTE) {
        ctx.issues.push({
          code: "custom",
          input: ctx.value,
          path: ["endsAt"],
          message: "must be 1 minute to 24 hours after startsAt",
        });
      }
    }),
    { error: "must be a list of {startsAt, endsAt}" },
  ).min(1, { error: "must hold 1 to 500 slots" }).max(500, {
    error: "must hold 1 to 500 slots",
  }),
}, {
  error:
    'The body must be a JSON object: {"slots": [{"startsAt": "...", "endsAt": "..."}]}.',
});

export type Slot = { startsAt: string; endsAt: string };

/**
 * Free links per slot, after taking a token from `client`'s bucket and then from the bucket of
 * all clients (client null: not limited). Answers the seconds to wait instead when one is empty.
 */
export async function meetingLinkAvailability(
  slots: Slot[],
  client: string | null,
  rates: { perMinute: number; allPerMinute: number },
  env: Env = Deno.env,
): Promise<{ retryAfter: number } | { free: number[] }> {
  const slotsJson = JSON.stringify(slots);
  // One round trip: the token, then (only if there was one) the counts.
  const rows = await withTimeout<
    { retry_after: number; slot_index: number | null; free: number | null }
  >(
    db(env)`
      with token as (
        select case when ${client}::text is null then 0
          else coalesce(
            nullif(public.take_rate_limit_token(${client}::text, ${rates.perMinute}::integer), 0),
            public.take_rate_limit_token('*', ${rates.allPerMinute}::integer)) end as retry_after
      )
      select t.retry_after, a.slot_index, a.free
      from token t
      left join lateral public.meeting_link_availability(array(
        select tstzrange((s ->> 'startsAt')::timestamptz, (s ->> 'endsAt')::timestamptz, '[)')
        from jsonb_array_elements(${slotsJson}::text::jsonb) with ordinality as e(s, i)
        order by e.i)) a on t.retry_after = 0
      order by a.slot_index`,
    env,
  );
  if (rows[0].retry_after > 0) return { retryAfter: rows[0].retry_after };
  return { free: rows.map((row) => row.free!) };
}
