// A stand-in for the Supabase edge runtime's `EdgeRuntime.waitUntil`, for code run outside it: the
// local functions server (scripts/serve.ts) and tests that call a function's `fetch(request)`
// in-process. Background work handed to `waitUntil` is tracked so that it can be awaited
// (`settleBackgroundWork`) before a response is checked or the server stops.

/** The part of the edge runtime's global that functions use. */
export interface EdgeRuntimeLike {
  waitUntil<T>(promise: Promise<T>): Promise<T>;
}

const pending = new Set<Promise<unknown>>();

/**
 * Defines `globalThis.EdgeRuntime` unless something already did (the real runtime, or an earlier
 * call). Rejections of background work are logged to stderr, never thrown.
 */
export function installEdgeRuntime(): void {
  const global = globalThis as { EdgeRuntime?: EdgeRuntimeLike };
  if (global.EdgeRuntime !== undefined) return;
  global.EdgeRuntime = {
    waitUntil<T>(promise: Promise<T>): Promise<T> {
      const tracked: Promise<void> = Promise.resolve(promise).then(
        () => {},
        (error: unknown) => {
          console.error(
            "EdgeRuntime.waitUntil: background work failed:",
            error,
          );
        },
      ).finally(() => pending.delete(tracked));
      pending.add(tracked);
      return promise;
    },
  };
}

/** Background tasks still running. */
export function pendingBackgroundWork(): number {
  return pending.size;
}

/**
 * Waits until no background work is pending (work started meanwhile included), or until
 * `timeoutMs` passed. Returns how many tasks are still pending (0 when all finished).
 */
export async function settleBackgroundWork(
  timeoutMs = 10_000,
): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  while (pending.size > 0) {
    const left = deadline - Date.now();
    if (left <= 0) break;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, left);
    });
    await Promise.race([Promise.allSettled([...pending]), timeout]);
    clearTimeout(timer);
  }
  return pending.size;
}
