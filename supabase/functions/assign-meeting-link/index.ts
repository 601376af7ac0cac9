// POST {"bookingId": "<uuid>"} with the service-role key: the booking's meeting link.
import { requireServiceRole } from "../_shared/auth.ts";
import { runInBackground } from "../_shared/background.ts";
import { drainIfQueued, emailDrainRequester } from "../_shared/email_drain.ts";
import type { Env } from "../_shared/env.ts";
import { HttpError } from "../_shared/errors.ts";
import { json, parseWith, postHandler, readJson } from "../_shared/http.ts";
import { assignMeetingLink, AssignRequest } from "../_shared/meeting_links.ts";

/** The handler with its settings read from `env` (tests pass their own). */
export function fetchWith(env: Env = Deno.env) {
  // A new link, or the pool_exhausted flag, may have queued an email (a customer address, or
  // ops for a manual link): when it did, send it now, after the answer (the every-minute schedule
  // is the safety net). The emails are written at commit, so they are looked up after it.
  const requestDrain = emailDrainRequester("assign-meeting-link", env);
  const sendQueuedEmails = (bookingId: string) =>
    runInBackground(
      drainIfQueued(bookingId, requestDrain, "assign-meeting-link", env),
    );

  return postHandler("assign-meeting-link", async (req, log) => {
    await requireServiceRole(req, env);
    const { bookingId } = parseWith(
      AssignRequest,
      await readJson(req, 16 * 1024),
    );
    log.bookingId = bookingId;
    try {
      const assignment = await assignMeetingLink(bookingId, env);
      if (!assignment.alreadyAssigned) sendQueuedEmails(bookingId);
      log.outcome = assignment.alreadyAssigned
        ? "already_assigned"
        : "assigned";
      return json(assignment);
    } catch (error) {
      if (error instanceof HttpError && error.code === "pool_exhausted") {
        sendQueuedEmails(bookingId);
      }
      throw error;
    }
  });
}

export default { fetch: fetchWith() };
