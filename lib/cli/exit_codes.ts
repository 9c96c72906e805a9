// sysexits-style exit codes, documented in firezonectl --help and the README.
import { type ErrorCode, FzError } from "../types/index.ts";

export const EXIT = {
  ok: 0,
  other: 1,
  usage: 64,
  dataError: 65,
  unavailable: 69,
  /** `wait`: the state was not reached in time (EX_TEMPFAIL). */
  tempFail: 75,
  noPermission: 77,
  config: 78,
} as const;

const BY_CODE: Partial<Record<ErrorCode, number>> = {
  daemon_unreachable: EXIT.unavailable,
  timeout: EXIT.unavailable,
  protocol_mismatch: EXIT.unavailable,
  permission_denied: EXIT.noPermission,
  service_mode: EXIT.noPermission,
  invalid_request: EXIT.usage,
  unknown_method: EXIT.unavailable,
  // The socket is served by something other than root's firezoned: the real daemon is not reachable.
  untrusted_daemon: EXIT.unavailable,
  not_configured: EXIT.config,
};

export function exitCodeFor(err: unknown): number {
  if (err instanceof FzError) return BY_CODE[err.code] ?? EXIT.other;
  return EXIT.other;
}

/** A usage mistake on the command line (exit 64). */
export class UsageError extends Error {}

/** Input that is not what it should be, e.g. a token file that is binary or too large (exit 65). */
export class DataError extends Error {}

/** Ends the command with `code` after it has already printed what it had to say. */
export class SilentExit extends Error {
  constructor(readonly code: number) {
    super(`exit ${code}`);
  }
}
