// POST {"bookingId": "<uuid>"} with the service-role key: the booking's meeting link.
import { requireServiceRole } from "../_shared/auth.ts";
import type { Env } from "../_shared/env.ts";
import { json, parseWith, postHandler, readJson } from "../_shared/http.ts";
import { assignMeetingLink, AssignRequest } from "../_shared/meeting_links.ts";

/** The handler with its settings read from `env` (tests pass their own). */
export function fetchWith(env: Env = Deno.env) {
  return postHandler("assign-meeting-link", async (req, log) => {
    await requireServiceRole(req, env);
    const { bookingId } = parseWith(
      AssignRequest,
      await readJson(req, 16 * 1024),
    );
    log.bookingId = bookingId;
    const assignment = await assignMeetingLink(bookingId, env);
    log.outcome = assignment.alreadyAssigned ? "already_assigned" : "assigned";
    return json(assignment);
  });
}

export default { fetch: fetchWith() };
