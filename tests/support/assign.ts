// Calling assign-meeting-link as ops do: the service-role key, a JSON body, a JSON answer.
import { env } from "./env.ts";
import {
  callFunction,
  type CallOptions,
  type FunctionResponse,
} from "./http.ts";

/** The legacy service-role key as a bearer token, as the webhook and the reference send it. */
export const asServiceRole = { authorization: `Bearer ${env.serviceRoleKey}` };

/**
 * Calls assign-meeting-link: POST with the service-role bearer unless `headers` or `method` say
 * otherwise (pass `headers: {}` for no credentials). Fails the test unless the answer is JSON,
 * which the contract promises for every status.
 */
export function callAssign(call: CallOptions = {}): Promise<FunctionResponse> {
  return callFunction("assign-meeting-link", {
    method: "POST",
    ...call,
    headers: call.headers ?? asServiceRole,
    requireJson: true,
  });
}

/** POSTs {"bookingId": id} as the service role (or with `headers`). */
export function assignLink(
  bookingId: string,
  headers?: Record<string, string>,
): Promise<FunctionResponse> {
  return callAssign({ json: { bookingId }, headers });
}
