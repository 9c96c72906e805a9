// Turns the daemon link's failures into what the tray shows: a short title, the detail, and, for
// the common cases, the one command that fixes it (clicking it in the menu copies it). Titles and
// fixes come from the error's code and diagnosis, never from text the other end of the socket sent.
import { MembershipError, membershipAdvice } from "../ipc/index.ts";
import type { FzError } from "../types/index.ts";

export interface Problem {
  code: string;
  /** One line for the menu and the tooltip. */
  title: string;
  /** The full message from the IPC layer. */
  detail: string;
  /** A command the user can run to fix it, shown in the menu. */
  fix?: string;
  /** What happens after the fix, shown under it. */
  afterFix?: string;
}

export function problemFrom(err: FzError): Problem {
  switch (err.code) {
    case "daemon_unreachable":
      return {
        code: err.code,
        title: "Firezone daemon is not running",
        detail: err.message,
        fix: "sudo systemctl start firezoned",
        afterFix: "Firezone reconnects by itself once it runs",
      };
    case "permission_denied": {
      if (!(err instanceof MembershipError)) {
        return { code: err.code, title: "Firezone refused this user", detail: err.message };
      }
      const advice = membershipAdvice(err.membership);
      return {
        code: err.code,
        title: advice.title,
        detail: err.message,
        ...(advice.trayFix ? { fix: advice.trayFix } : {}),
        ...(advice.afterFix ? { afterFix: advice.afterFix } : {}),
      };
    }
    case "protocol_mismatch":
      return {
        code: err.code,
        title: "Firezone daemon and GUI versions differ",
        detail: err.message,
        fix: "sudo systemctl restart firezoned",
        afterFix: "after installing matching versions",
      };
    case "untrusted_daemon":
      return { code: err.code, title: "The Firezone socket is not held by root", detail: err.message };
    default:
      return { code: err.code, title: "Cannot talk to the Firezone daemon", detail: err.message };
  }
}
