// Why and when the session was last reset (docs/session.md, "Network changes, sleep and wake"):
// the network changed, the machine woke up, or an administrator sent SIGHUP.
import type { Logger } from "../util/index.ts";

export const RESET_CAUSES = ["network changed", "woke from sleep", "SIGHUP"] as const;
export type ResetCause = (typeof RESET_CAUSES)[number];

/** What status shows: the cause and the time (ISO 8601, UTC). */
export interface ResetRecord {
  cause: ResetCause;
  at: string;
}

/** What a reset needs from the session (PortalSession implements it). */
export interface Resettable {
  /** Returns false when there is nothing to reset (signed out, not configured). */
  reset(cause: ResetCause): boolean;
  /** The network is changing: set the WireGuard paths again now, ahead of the reset. */
  refreshPaths?(): void;
}

/**
 * The one path every trigger takes: a log line with the cause and what set it off, then the
 * session's reset. Never throws (it runs from signal handlers and netlink callbacks).
 */
export function resetSession(session: Resettable, cause: ResetCause, detail: string, logger: Logger): void {
  try {
    const done = session.reset(cause);
    if (done) logger.info("session reset", { cause, detail });
    else logger.debug("nothing to reset", { cause, detail });
  } catch (err) {
    logger.error("the session reset failed", { cause, detail, error: err });
  }
}
