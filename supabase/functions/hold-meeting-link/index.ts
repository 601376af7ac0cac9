// POST {"bookingId": "<uuid>", "holdMinutes": 15} with the secret key: reserves a link for a
// pending booking's slot at checkout, until heldUntil. The customer is not shown the link.
import { requireServiceRole } from "../_shared/auth.ts";
import type { Env } from "../_shared/env.ts";
import { json, parseWith, postHandler, readJson } from "../_shared/http.ts";
import { holdMeetingLink, HoldRequest } from "../_shared/meeting_links.ts";

/** The handler with its settings read from `env` (tests pass their own). */
export function fetchWith(env: Env = Deno.env) {
  return postHandler("hold-meeting-link", async (req, log) => {
    await requireServiceRole(req, env);
    const { bookingId, holdMinutes } = parseWith(
      HoldRequest,
      await readJson(req, 16 * 1024),
    );
    log.bookingId = bookingId;
    const hold = await holdMeetingLink(bookingId, holdMinutes, env);
    log.outcome = hold.alreadyHeld ? "already_held" : "held";
    return json(hold);
  });
}

export default { fetch: fetchWith() };
