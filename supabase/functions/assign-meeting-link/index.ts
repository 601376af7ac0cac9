// POST {"bookingId": "<uuid>"} with the service-role key: the booking's meeting link.
import { requireServiceRole } from "../_shared/auth.ts";
import { runInBackground } from "../_shared/background.ts";
import { emailDrainRequester } from "../_shared/email_drain.ts";
import type { Env } from "../_shared/env.ts";
import { json, parseWith, postHandler, readJson } from "../_shared/http.ts";
import {
  assignMeetingLink,
  AssignRequest,
  poolExhausted,
} from "../_shared/meeting_links.ts";

/** The handler with its settings read from `env` (tests pass their own). */
export function fetchWith(env: Env = Deno.env) {
  // A new link, or the pool_exhausted flag, may have queued a message (to the customer, or ops
  // for a manual link): when it did, send it now, after the answer (the every-minute schedule is
  // the safety net).
  const requestDrain = emailDrainRequester("assign-meeting-link", env);

  return postHandler("assign-meeting-link", async (req, log) => {
    await requireServiceRole(req, env);
    const { bookingId } = parseWith(
      AssignRequest,
      await readJson(req, 16 * 1024),
    );
    log.bookingId = bookingId;
    const { outcome, assignment, queuedMessages } = await assignMeetingLink(
      bookingId,
      env,
    );
    if (queuedMessages) runInBackground(requestDrain());
    if (!assignment) throw poolExhausted(bookingId);
    log.outcome = outcome;
    return json(assignment);
  });
}

export default { fetch: fetchWith() };
