// The firezoned(8) man page in roff, from the same sources as `firezoned --help` and
// docs/configuration.md: the configuration key table and the daemon's help text.
import { VERSION } from "../types/index.ts";
import { roff } from "../util/index.ts";
import { CONFIG_KEYS } from "./config_keys.ts";
import { DAEMON_HELP } from "./run.ts";

const APPLIES = {
  live: "applies at once",
  reconnect: "applies at once; the portal connection is made again",
  restart: "applies at the next start",
} as const;

export function firezonedManPage(date = new Date()): string {
  const environment = DAEMON_HELP.slice(DAEMON_HELP.indexOf("  FIREZONE_"));
  const lines = [
    `.TH FIREZONED 8 "${date.toISOString().slice(0, 10)}" "firezoned ${roff(VERSION)}" "System Administration"`,
    ".SH NAME",
    "firezoned \\- the Firezone client daemon",
    ".SH SYNOPSIS",
    ".B firezoned",
    "[\\fB\\-\\-help\\fR] [\\fB\\-\\-version\\fR]",
    ".SH DESCRIPTION",
    "firezoned runs as root, under systemd (Type=notify) or as a container's main process. It owns",
    "the tunnel (TUN device, WireGuard, routes, DNS) and the session with the portal, and serves",
    "/run/firezoned/ipc.sock to root and group \\fBfirezone\\fR; \\fBfirezonectl\\fR(1) and the tray talk to it there.",
    ".SH CONFIGURATION",
    "/etc/firezoned/firezoned.conf holds \\fIkey\\fR = \\fIvalue\\fR lines and # comments; it must be",
    "root's and not writable by group or others. \\fBfirezonectl settings set\\fR \\fIKEY VALUE\\fR (as root)",
    "checks and writes a key and applies it; SIGHUP re\\-reads the file. The keys:",
  ];
  for (const [key, row] of Object.entries(CONFIG_KEYS)) {
    const env = "env" in row ? ` Environment: ${row.env}.` : "";
    lines.push(
      ".TP",
      `.B ${roff(key)}`,
      roff(
        `${row.what}. Default: ${row.fallback ?? "none"}. A change ${APPLIES[row.applies]}: ${row.note}.${env}`,
      ),
    );
  }
  lines.push(
    ".SH SIGNALS",
    ".TP",
    ".B SIGTERM, SIGINT",
    "Take the tunnel down, restore DNS and routes, and exit.",
    ".TP",
    ".B SIGHUP",
    "Reload the configuration file (systemctl reload firezoned). A file that cannot be used is not applied; the error is logged.",
    ".SH ENVIRONMENT",
    ".nf",
    roff(environment.trimEnd()),
    ".fi",
    ".SH EXIT STATUS",
    "0 after a clean stop; 64 a usage error; 77 not run as root; 78 a configuration that cannot be used.",
    ".SH FILES",
    ".nf",
    "/etc/firezoned/firezoned.conf   configuration",
    "/etc/firezoned/token            service\\-account token (root's, mode 0600)",
    "/var/lib/firezoned/             state (device id, settings)",
    "/var/log/firezoned/             firezoned.log and audit.log",
    "/run/firezoned/ipc.sock         the IPC socket",
    ".fi",
    ".SH SEE ALSO",
    ".BR firezonectl (1),",
    ".BR systemctl (1)",
  );
  return `${lines.join("\n")}\n`;
}
