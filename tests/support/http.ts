// Calling the functions over real HTTP, the way ops and Midtrans do.

import { env } from "./env.ts";
export { functionNames } from "../../scripts/functions.ts";

export interface FunctionResponse {
  status: number;
  headers: Headers;
  /** Raw body text (always read, so no connection is left open). */
  text: string;
  /** The body parsed as JSON, or undefined when it is not JSON. */
  json: unknown;
}

export interface CallOptions extends Omit<RequestInit, "body"> {
  /** Sent as the JSON body with Content-Type: application/json. */
  json?: unknown;
  /** Sent as is (a string or bytes); wins over `json`. */
  body?: BodyInit;
  /** Appended to the function's URL, e.g. "/extra?x=1". */
  path?: string;
}

/** `${env.functionsUrl}/${name}${path}` */
export function functionUrl(name: string, path = ""): string {
  return `${env.functionsUrl}/${name}${path}`;
}

/** Calls a function over HTTP (POST when there is a body, GET otherwise). */
export async function callFunction(
  name: string,
  options: CallOptions = {},
): Promise<FunctionResponse> {
  const { json, path, body, ...init } = options;
  const headers = new Headers(init.headers);
  let payload: BodyInit | undefined = body;
  if (payload === undefined && json !== undefined) {
    payload = JSON.stringify(json);
    if (!headers.has("content-type")) {
      headers.set("content-type", "application/json");
    }
  }
  const response = await fetch(functionUrl(name, path), {
    method: init.method ?? (payload === undefined ? "GET" : "POST"),
    ...init,
    headers,
    body: payload,
  });
  const text = await response.text();
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    parsed = undefined;
  }
  return {
    status: response.status,
    headers: response.headers,
    text,
    json: parsed,
  };
}

/**
 * Waits (at most 10 s, server side) until the functions server has no background work pending
 * (`EdgeRuntime.waitUntil`), and returns how many tasks are still pending.
 */
export async function settleBackgroundWork(
  apiUrl = env.apiUrl,
): Promise<number> {
  const response = await fetch(`${apiUrl}/_local/settle`, { method: "POST" });
  const body = await response.json() as { pendingBackgroundTasks: number };
  return body.pendingBackgroundTasks;
}
