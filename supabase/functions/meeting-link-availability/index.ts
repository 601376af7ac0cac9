// POST {"slots": [{"startsAt", "endsAt"}, ...]} with the publishable (or secret) key: how many
// links could still take a booking for each slot. A booking page calls it from the browser, so
// it answers counts only, and each client (by address) is rate limited.
import { requirePublicKey } from "../_shared/auth.ts";
import type { Env } from "../_shared/env.ts";
import { HttpError } from "../_shared/errors.ts";
import {
  failWith,
  json,
  parseWith,
  postHandler,
  readJson,
} from "../_shared/http.ts";
import {
  AvailabilityRequest,
  meetingLinkAvailability,
} from "../_shared/meeting_links.ts";

/** The handler with its settings read from `env` (tests pass their own). */
export function fetchWith(env: Env = Deno.env) {
  const perMinute = Number(env.get("AVAILABILITY_RATE_PER_MINUTE") ?? 60);
  // Every public caller together: a cap on the load even if addresses are spoofed.
  const allPerMinute = Number(
    env.get("AVAILABILITY_ALL_CLIENTS_RATE_PER_MINUTE") ?? 6000,
  );
  const addressHeader = env.get("AVAILABILITY_CLIENT_HEADER") ??
    "x-forwarded-for";

  return postHandler("meeting-link-availability", async (req, log) => {
    const caller = await requirePublicKey(req, env);
    const { slots } = parseWith(
      AvailabilityRequest,
      await readJson(req, 128 * 1024),
    );
    // The client's address as the gateway reports it (the first hop of X-Forwarded-For unless
    // AVAILABILITY_CLIENT_HEADER names another); a server holding the secret key is not limited.
    const client = caller === "public"
      ? req.headers.get(addressHeader)?.split(",")[0].trim() || "unknown"
      : null;
    const answer = await meetingLinkAvailability(
      slots,
      client,
      { perMinute, allPerMinute },
      env,
    );
    if ("retryAfter" in answer) {
      const seconds = Math.max(1, Math.ceil(answer.retryAfter));
      log.outcome = "rate_limited";
      return failWith(
        new HttpError(
          "rate_limited",
          `Too many requests; retry in ${seconds} s.`,
          { retryAfter: seconds },
        ),
        { "Retry-After": String(seconds) },
      );
    }
    log.outcome = "answered";
    return json({
      slots: slots.map((slot, i) => ({ ...slot, free: answer.free[i] })),
    });
  });
}

export default { fetch: fetchWith() };
