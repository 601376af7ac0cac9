// Assigning a meeting link: one call to the SQL function that does it atomically.
import { z } from "zod";
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
  outcome: string;
};

/** The booking's link: already held, or claimed now. 404/409 when it cannot have one. */
export async function assignMeetingLink(
  bookingId: string,
  env: Env = Deno.env,
): Promise<Assignment> {
  const sql = db(env);
  const [row] = await withTimeout<Row>(
    sql`select booking_id, meeting_link_id, meeting_link, outcome from public.assign_meeting_link(${bookingId})`,
    env,
  );
  if (row.outcome === "pool_exhausted") {
    throw new HttpError(
      "pool_exhausted",
      "No meeting link is free for this slot; the booking is flagged for a manual link.",
      { bookingId },
    );
  }
  return {
    bookingId: row.booking_id,
    meetingLinkId: row.meeting_link_id!,
    meetingLink: row.meeting_link!,
    alreadyAssigned: row.outcome === "already_assigned",
  };
}
