// Calling a function's handler in-process, as Supabase's unit-testing example does: a Request in,
// a Response out, no server. Its log lines are captured so the test output stays readable.
import { captureConsole } from "./console.ts";
import { freePort } from "./server.ts";
import type { JsonBody } from "./http.ts";

/** A Postgres URL nothing listens on: a database that is down. */
export function downDatabaseUrl(): string {
  return `postgresql://postgres:postgres@127.0.0.1:${freePort()}/postgres`;
}

/** The status and JSON body of `handler(new Request(.../functions/v1/<name>, init))`. */
export async function callInProcess(
  handler: (request: Request) => Promise<Response>,
  name: string,
  init: RequestInit,
): Promise<{ status: number; json: JsonBody; error: unknown }> {
  const request = new Request(
    `http://functions.test/functions/v1/${name}`,
    init,
  );
  const { result } = await captureConsole(() => handler(request));
  const json = await result.json();
  return { status: result.status, json, error: json.error };
}
