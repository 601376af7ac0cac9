// Request plumbing shared by the functions: JSON in and out, CORS, methods, size caps, and
// one structured log line per request.
import { z } from "zod";
import { errorResponse, HttpError, toHttpError } from "./errors.ts";

// As in Supabase's CORS examples; the functions are server-to-server, but browsers get a clear answer.
const CORS_HEADERS = {
  "Access-Control-Allow-Origin": "*",
  "Access-Control-Allow-Headers":
    "authorization, x-client-info, apikey, content-type",
  "Access-Control-Allow-Methods": "POST, OPTIONS",
};

export function json(body: unknown, status = 200): Response {
  return Response.json(body, { status, headers: CORS_HEADERS });
}

/** A failure answered by the handler itself, with extra headers (Retry-After). */
export function failWith(
  failure: HttpError,
  headers: Record<string, string>,
): Response {
  return errorResponse(failure, {
    ...CORS_HEADERS,
    "Access-Control-Expose-Headers": Object.keys(headers).join(", "),
    ...headers,
  });
}

/** Fields a handler adds to its request's log line. */
export type LogFields = Record<string, unknown>;

type Handler = (req: Request, log: LogFields) => Promise<Response>;

/** Wraps a POST handler: OPTIONS, 405, errors mapped to JSON, and a log line with its timing. */
export function postHandler(functionName: string, handle: Handler) {
  return handler(functionName, ["POST"], handle);
}

/** Wraps a handler of these methods: OPTIONS, 405 for others, errors mapped to JSON, a log line. */
export function handler(
  functionName: string,
  methods: string[],
  handle: Handler,
) {
  const allow = [...methods, "OPTIONS"].join(", ");
  return async (req: Request): Promise<Response> => {
    const started = performance.now();
    // Every line has these, so log queries need no special cases.
    const log: LogFields = { bookingId: null, outcome: null };
    let response: Response;
    if (req.method === "OPTIONS") {
      // As Supabase's CORS examples answer a preflight, but in JSON like every other answer.
      response = json({ ok: true });
      log.outcome = "preflight";
    } else if (!methods.includes(req.method)) {
      response = errorResponse(
        new HttpError("method_not_allowed", `Use ${methods.join(" or ")}.`),
        { ...CORS_HEADERS, Allow: allow },
      );
      log.outcome = "method_not_allowed";
    } else {
      try {
        response = await handle(req, log);
      } catch (error) {
        const failure = toHttpError(error);
        if (failure.status >= 500) {
          const { cause, stack } = (error ?? {}) as Error;
          log.cause = String(cause ?? stack ?? error);
        }
        log.outcome ??= failure.code;
        response = errorResponse(failure, CORS_HEADERS);
      }
    }
    const ms = performance.now() - started;
    const line = {
      function: functionName,
      method: req.method,
      status: response.status,
      ...log,
      ms: Math.round(ms),
    };
    response.headers.set("Server-Timing", serverTiming(log, ms));
    (response.status >= 500 ? console.error : console.log)(
      JSON.stringify(line),
    );
    return response;
  };
}

/**
 * The handler's time and its parts (log fields named `...Ms`), as a Server-Timing header:
 * `statusApi;dur=0.8, database;dur=1.2, total;dur=3.1`. Where a caller's wait goes, per request.
 */
export function serverTiming(log: LogFields, totalMs: number): string {
  const parts = Object.entries(log).filter(([name, value]) =>
    name.endsWith("Ms") && typeof value === "number"
  ).map(([name, value]) => `${name.slice(0, -2)};dur=${value}`);
  return [...parts, `total;dur=${totalMs.toFixed(2)}`].join(", ");
}

/** Reads a JSON body of at most maxBytes, refusing other content types. */
export async function readJson(
  req: Request,
  maxBytes: number,
): Promise<unknown> {
  const type = req.headers.get("content-type") ?? "";
  if (!/^application\/([\w.+-]+\+)?json\b/i.test(type)) {
    throw new HttpError(
      "unsupported_media_type",
      "Send Content-Type: application/json.",
    );
  }
  const tooLarge = new HttpError(
    "payload_too_large",
    `The body may be at most ${maxBytes} bytes.`,
  );
  if (Number(req.headers.get("content-length") ?? 0) > maxBytes) throw tooLarge;

  const bytes = await readAtMost(req.body, maxBytes);
  if (bytes === undefined) throw tooLarge;
  let body: unknown;
  try {
    body = JSON.parse(new TextDecoder().decode(bytes));
  } catch {
    throw new HttpError("invalid_request", "The body is not valid JSON.");
  }
  // JSON can escape half a surrogate pair ("\ud800"); no text column or jsonb can store it.
  if (hasLoneSurrogate(body)) {
    throw new HttpError(
      "invalid_request",
      "The body's text must be well-formed Unicode (no lone surrogates).",
    );
  }
  return body;
}

/** True when a JSON value holds half a surrogate pair, which no text column or jsonb can store. */
export function hasLoneSurrogate(value: unknown): boolean {
  if (typeof value === "string") return !value.isWellFormed();
  if (typeof value !== "object" || value === null) return false;
  return Object.entries(value).some(([key, item]) =>
    !key.isWellFormed() || hasLoneSurrogate(item)
  );
}

/** A body's bytes, or undefined as soon as it grows past maxBytes (the rest is not read). */
export async function readAtMost(
  body: ReadableStream<Uint8Array> | null,
  maxBytes: number,
): Promise<Uint8Array | undefined> {
  const chunks: Uint8Array[] = [];
  let size = 0;
  if (body) {
    for await (const chunk of body) {
      size += chunk.byteLength;
      if (size > maxBytes) return undefined;
      chunks.push(chunk);
    }
  }
  const bytes = new Uint8Array(size);
  let offset = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return bytes;
}

/** Validates with zod; the 400 names every field that is wrong. */
export function parseWith<T extends z.ZodType>(
  schema: T,
  value: unknown,
): z.infer<T> {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const problems = result.error.issues.map((issue) =>
    issue.path.length
      ? `${issue.path.join(".")}: ${issue.message}`
      : issue.message
  );
  throw new HttpError("invalid_request", problems.join("; "), {
    problems,
  });
}
