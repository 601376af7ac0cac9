// Every failure a function can answer with, and the one place that turns it into HTTP.

/** A failure the caller can act on: an HTTP status and a stable `error` code. */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details: Record<string, unknown> = {},
  ) {
    super(message);
  }
}

/** Configuration the deployment is missing: a 500 whose cause is logged, never a silent accept. */
export class ConfigError extends Error {}

// SQLSTATEs raised by our SQL functions (see the migrations), or by Postgres refusing input
// that passed validation, and what the caller should read.
const SQL_ERRORS: Record<
  string,
  { status: number; code: string; message?: string }
> = {
  ML404: { status: 404, code: "booking_not_found" },
  ML409: { status: 409, code: "booking_not_paid" },
  MT409: { status: 409, code: "transaction_order_mismatch" },
  // Postgres text and jsonb cannot hold U+0000.
  "22P05": {
    status: 400,
    code: "invalid_request",
    message: "Text may not contain U+0000.",
  },
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
    const { status, code: name, message } = SQL_ERRORS[code];
    return new HttpError(status, name, message ?? (error as Error).message);
  }
  if (code && (UNAVAILABLE.has(code) || code.startsWith("08"))) {
    return new HttpError(
      503,
      "database_unavailable",
      "The database cannot be reached; retry later.",
    );
  }
  if (error instanceof ConfigError) {
    return new HttpError(
      500,
      "server_misconfigured",
      "The function is not configured.",
    );
  }
  return new HttpError(500, "internal_error", "Something went wrong.");
}
