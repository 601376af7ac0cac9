// Calling the functions over real HTTP, the way ops and Midtrans do: the one HTTP caller every
// test uses, and the local server's hooks for background work.
import assert from "node:assert/strict";
import { env } from "./env.ts";
export { functionNames } from "../../scripts/functions.ts";

/** A JSON answer's body: an object in every answer of this project's functions. */
export type JsonBody = Record<string, unknown>;

export interface FunctionResponse {
  status: number;
  headers: Headers;
  /** Raw body text (always read, so no connection is left open). */
  text: string;
  /** The body parsed as JSON, or undefined when it is not JSON. */
  json: JsonBody | undefined;
  /** Milliseconds from sending the request to reading the whole answer. */
  ms: number;
}

export interface CallOptions extends Omit<RequestInit, "body" | "signal"> {
  /** Sent as the JSON body with Content-Type: application/json. */
  json?: unknown;
  /** Sent as is (a string, bytes or a stream); wins over `json`. */
  body?: BodyInit;
  /** Appended to the function's URL, e.g. "/extra?x=1". */
  path?: string;
  /** Another functions server than the shared one, e.g. a spawned one. */
  apiUrl?: string;
  /** Abort the call after this long (default 30 s). */
  timeoutMs?: number;
  /** Fail the test unless the answer is declared and parses as JSON. */
  requireJson?: boolean;
}

/** `${apiUrl}/functions/v1/${name}${path}` */
function functionUrl(
  name: string,
  path = "",
  apiUrl = env.apiUrl,
): string {
  return `${apiUrl}/functions/v1/${name}${path}`;
}

/** Calls a function over HTTP (POST when there is a body, GET otherwise). */
export async function callFunction(
  name: string,
  options: CallOptions = {},
): Promise<FunctionResponse> {
  const { json, path, body, apiUrl, timeoutMs = 30_000, requireJson, ...init } =
    options;
  const headers = new Headers(init.headers);
  let payload: BodyInit | undefined = body;
  if (payload === undefined && json !== undefined) {
    payload = JSON.stringify(json);
    if (!headers.has("content-type")) {
      headers.set("content-type", "application/json");
    }
  }
  const started = performance.now();
  const response = await fetch(functionUrl(name, path, apiUrl), {
    method: init.method ?? (payload === undefined ? "GET" : "POST"),
    ...init,
    headers,
    body: payload,
    signal: AbortSignal.timeout(timeoutMs),
  });
  const text = await response.text();
  const ms = Math.round(performance.now() - started);
  if (requireJson) {
    assert.match(
      response.headers.get("content-type") ?? "",
      /^application\/json\b/,
      `${response.status} is not declared JSON: ${text}`,
    );
    return {
      status: response.status,
      headers: response.headers,
      text,
      json: JSON.parse(text),
      ms,
    };
  }
  let parsed: JsonBody | undefined;
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
    ms,
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

/** How many background tasks the functions server has pending right now, without waiting. */
export async function pendingBackgroundTasks(
  apiUrl = env.apiUrl,
): Promise<number> {
  const response = await fetch(`${apiUrl}/_local/health`);
  return (await response.json()).pendingBackgroundTasks;
}

/** Calls `attempt` until it returns something other than undefined, for at most `withinMs`. */
export async function pollUntil<T>(
  what: string,
  attempt: () => Promise<T | undefined>,
  withinMs = 10_000,
  everyMs = 50,
): Promise<T> {
  const deadline = Date.now() + withinMs;
  while (true) {
    const value = await attempt();
    if (value !== undefined) return value;
    if (Date.now() > deadline) {
      throw new Error(`${what}: not within ${withinMs} ms`);
    }
    await new Promise((resolve) => setTimeout(resolve, everyMs));
  }
}
