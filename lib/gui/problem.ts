// Turns the daemon link's failures into what the tray shows: a short title, the detail, and, for
// the common cases, the one command that fixes it (clicking it in the menu copies it).
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

/** The group named in a permission error ("... members of group 'firezone' ..."), else firezone. */
function groupFrom(message: string): string {
  return /group '([^']+)'/.exec(message)?.[1] ?? "firezone";
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
      const group = groupFrom(err.message);
      return {
        code: err.code,
        title: `You are not in group '${group}'`,
        detail: err.message,
        fix: `sudo usermod -aG ${group} $USER`,
        afterFix: "then log out and back in",
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
