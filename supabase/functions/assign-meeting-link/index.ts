// POST {"bookingId": "<uuid>"} with the service-role key: the booking's meeting link.
import { requireServiceRole } from "../_shared/auth.ts";
import { runInBackground } from "../_shared/background.ts";
import { requestEmailDrain } from "../_shared/email_drain.ts";
import { json, parseWith, postHandler, readJson } from "../_shared/http.ts";
import { assignMeetingLink, AssignRequest } from "../_shared/meeting_links.ts";

export default {
  fetch: postHandler("assign-meeting-link", async (req, log) => {
    await requireServiceRole(req);
    const { bookingId } = parseWith(
      AssignRequest,
      await readJson(req, 16 * 1024),
    );
    log.bookingId = bookingId;
    // The assignment (or the pool_exhausted flag) queued the customer's email: send it now,
    // after the answer, whatever the outcome.
    const assignment = await assignMeetingLink(bookingId).finally(() =>
      runInBackground(requestEmailDrain("assign-meeting-link"))
    );
    log.outcome = assignment.alreadyAssigned ? "already_assigned" : "assigned";
    return json(assignment);
  }),
};
