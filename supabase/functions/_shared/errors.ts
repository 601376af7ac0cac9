// Every error code a function answers with and its HTTP status, in one table, and the one
// place that turns a failure into that answer. docs/api.md lists the same table for callers
// (tests/unit/errors.test.ts holds the two together).

/** Every `error` code of this project's functions, with its HTTP status. */
export const ERRORS = {
  /** Body is not JSON, or not the shape the endpoint takes (a `problems` list says why). */
  invalid_request: 400,
  /** No credential at all (assign-meeting-link). */
  unauthorized: 401,
  /** Midtrans's signature_key, or WhatsApp's X-Hub-Signature-256, missing or wrong. */
  invalid_signature: 401,
  /** A real key that is not the service role's (anon, a user's JWT, publishable). */
  forbidden: 403,
  /** whatsapp-webhook's GET handshake without hub.mode=subscribe and the verify token. */
  verification_failed: 403,
  booking_not_found: 404,
  /** A signed notification for an order no booking has; it is stored, and applied on retry. */
  order_not_found: 404,
  /** Midtrans's Get Status API does not know the notification's transaction; nothing is stored. */
  transaction_not_found: 404,
  method_not_allowed: 405,
  booking_not_paid: 409,
  /** hold-meeting-link: the booking is paid, failed, expired, cancelled or refunded. */
  booking_not_pending: 409,
  /** Midtrans says the notification's transaction belongs to another order; nothing is stored. */
  transaction_order_mismatch: 409,
  /** No link is free for the slot: assign flags the booking for a manual link; a hold writes nothing. */
  pool_exhausted: 409,
  payload_too_large: 413,
  unsupported_media_type: 415,
  /** meeting-link-availability: this client asked too often; wait Retry-After seconds. */
  rate_limited: 429,
  /** A bug; its cause is logged, never sent. */
  internal_error: 500,
  /** The deployment lacks a setting (a secret); named in the log. */
  server_misconfigured: 500,
  /** Postgres cannot be reached or did not answer in time: retry later. */
  database_unavailable: 503,
  /** Midtrans's Get Status API cannot confirm a notification now (down, slow, 5xx, key refused). */
  midtrans_unavailable: 503,
} as const satisfies Record<string, number>;

export type ErrorCode = keyof typeof ERRORS;

/** A failure the caller can act on: a stable `error` code (its status comes from ERRORS). */
export class HttpError extends Error {
  readonly status: number;
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly details: Record<string, unknown> = {},
  ) {
    super(message);
    this.status = ERRORS[code];
  }
}

/** Configuration the deployment is missing: a 500 whose cause is logged, never a silent accept. */
export class ConfigError extends Error {}

// SQLSTATEs raised by our SQL functions (see docs/conventions.md), or by Postgres refusing input
// that passed validation, and what the caller should read.
const SQL_ERRORS: Record<string, { code: ErrorCode; message?: string }> = {
  ML404: { code: "booking_not_found" },
  ML409: { code: "booking_not_paid" },
  MLPND: { code: "booking_not_pending" },
  MLMIS: { code: "transaction_order_mismatch" },
  // A date the pattern admits but the calendar does not (2031-02-30).
  "22008": { code: "invalid_request", message: "A date-time is out of range." },
  // Postgres text and jsonb cannot hold U+0000.
  "22P05": { code: "invalid_request", message: "Text may not contain U+0000." },
};

// postgres.js codes and SQLSTATEs that mean "the database cannot be reached right now".
const UNAVAILABLE = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "ETIMEDOUT",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "EAI_AGAIN", // DNS lookup failed for now
  "CONNECT_TIMEOUT",
  "CONNECTION_CLOSED",
  "CONNECTION_ENDED",
  "CONNECTION_DESTROYED",
  "DATABASE_TIMEOUT",
  "57P01", // admin_shutdown
  "57P02", // crash_shutdown
  "57P03", // cannot_connect_now
  "53300", // too_many_connections
]);

function errorCodeOf(error: unknown): string | undefined {
  if (typeof error !== "object" || error === null) return undefined;
  const code = (error as { code?: unknown }).code;
  return typeof code === "string" ? code : undefined;
}

export function toHttpError(error: unknown): HttpError {
  if (error instanceof HttpError) return error;
  const code = errorCodeOf(error);
  if (code && SQL_ERRORS[code]) {
    const { code: name, message } = SQL_ERRORS[code];
    return new HttpError(name, message ?? (error as Error).message);
  }
  if (code && (UNAVAILABLE.has(code) || code.startsWith("08"))) {
    return new HttpError(
      "database_unavailable",
      "The database cannot be reached; retry later.",
    );
  }
  if (error instanceof ConfigError) {
    return new HttpError(
      "server_misconfigured",
      "The function is not configured.",
    );
  }
  return new HttpError("internal_error", "Something went wrong.");
}

/** The JSON answer for a failure: `{error, message, ...details}` with the code's status. */
export function errorResponse(
  failure: HttpError,
  headers: HeadersInit = {},
): Response {
  return Response.json(
    { error: failure.code, message: failure.message, ...failure.details },
    { status: failure.status, headers },
  );
}
