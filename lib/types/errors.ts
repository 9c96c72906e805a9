/** Stable error codes: they travel on the wire and map to firezonectl exit codes. Never rename one. */
export const ERROR_CODES = [
  "permission_denied",
  "service_mode",
  "invalid_request",
  "unknown_method",
  "frame_too_large",
  "protocol_mismatch",
  "daemon_unreachable",
  "busy",
  "timeout",
  "invalid_token",
  "untrusted_daemon",
  "not_configured",
  "internal",
] as const;

export type ErrorCode = (typeof ERROR_CODES)[number];

/** An error a person may read: `message` says what happened and what to do next. */
export class FzError extends Error {
  readonly code: ErrorCode;
  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.name = "FzError";
  }
}

export function isErrorCode(value: unknown): value is ErrorCode {
  return typeof value === "string" && (ERROR_CODES as readonly string[]).includes(value);
}
