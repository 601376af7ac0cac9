// Work that must finish after the response is sent. The edge runtime keeps the worker alive
// for promises handed to EdgeRuntime.waitUntil; the local functions server provides the same.

declare const EdgeRuntime:
  | { waitUntil(promise: Promise<unknown>): void }
  | undefined;

export function runInBackground(work: Promise<unknown>): void {
  if (typeof EdgeRuntime !== "undefined") {
    EdgeRuntime.waitUntil(work);
  } else {
    // Without a runtime to wait for it, the work still runs; failures are already logged by it.
    work.catch(() => {});
  }
}

/** A background task's log line: `outcome` "failed: ..." goes to stderr, any other to stdout. */
export function logTask(
  line:
    & { function: string; task: string; outcome: string }
    & Record<string, unknown>,
): void {
  (line.outcome.startsWith("failed") ? console.error : console.log)(
    JSON.stringify(line),
  );
}
