// The firezonectl(1) man page in roff, generated from the command table (commands.ts) like --help
// and the completions. `bun run build` writes it to dist/man/firezonectl.1.
import { VERSION } from "../types/index.ts";
import { roff } from "../util/index.ts";
import { COMMANDS, optionsOf } from "./commands.ts";
import { EXIT_CODE_TEXT } from "./help.ts";

export function firezonectlManPage(date = new Date()): string {
  const lines = [
    `.TH FIREZONECTL 1 "${date.toISOString().slice(0, 10)}" "firezonectl ${roff(VERSION)}" "User Commands"`,
    ".SH NAME",
    "firezonectl \\- control the Firezone tunnel run by firezoned",
    ".SH SYNOPSIS",
    ".B firezonectl",
    "[\\fB\\-\\-socket\\fR \\fIPATH\\fR] \\fICOMMAND\\fR [\\fIOPTIONS\\fR]",
    ".SH DESCRIPTION",
    "firezonectl talks to firezoned, the Firezone client daemon, over its Unix socket: one command, one",
    "answer, then exit. Root and members of group \\fBfirezone\\fR may use it; changing the daemon's",
    "configuration (\\fBsettings set\\fR) needs root. Every \\fB\\-\\-json\\fR output is an object with a",
    "\\fBschemaVersion\\fR field; the shapes are documented in docs/cli.md.",
    ".SH COMMANDS",
  ];
  for (const [name, entry] of Object.entries(COMMANDS)) {
    for (const [form, what] of entry.usage) {
      lines.push(".TP", `.B ${roff(form ? `${name} ${form}` : name)}`, roff(what));
    }
    const meta = entry.command.meta as { description?: string } | undefined;
    if (meta?.description) lines.push(".br", roff(`${meta.description}.`));
    for (const o of optionsOf(entry)) {
      lines.push(
        ".RS",
        ".TP",
        `.B \\-\\-${roff(o.name)}${o.value ? ` \\fI${roff(o.value)}\\fR` : ""}`,
        roff(o.description),
        ".RE",
      );
    }
  }
  lines.push(
    ".SH OPTIONS",
    ".TP",
    ".B \\-\\-socket \\fIPATH\\fR",
    "firezoned's socket (default: \\fB$FIREZONE_SOCKET\\fR, else /run/firezoned/ipc.sock).",
    ".TP",
    ".B \\-h, \\-\\-help",
    "Help for firezonectl or, after a command, for that command.",
    ".TP",
    ".B \\-\\-version",
    "The version of firezonectl.",
    ".SH EXIT STATUS",
  );
  for (const [code, meaning] of EXIT_CODE_TEXT) lines.push(".TP", `.B ${code}`, roff(meaning));
  lines.push(
    ".SH ENVIRONMENT",
    ".TP",
    ".B FIREZONE_SOCKET",
    "The socket of firezoned, when \\fB\\-\\-socket\\fR is not given.",
    ".SH FILES",
    ".TP",
    ".B /run/firezoned/ipc.sock",
    "firezoned's socket (root and group firezone).",
    ".TP",
    ".B /etc/firezoned/firezoned.conf",
    "firezoned's configuration, read and written through \\fBfirezonectl settings\\fR.",
    ".SH EXAMPLES",
    ".nf",
    "firezonectl status",
    "firezonectl sign\\-in \\-\\-token\\-stdin < token.txt",
    "firezonectl wait \\-\\-connected \\-\\-timeout 1m && curl http://app.internal/",
    "firezonectl watch \\-\\-json | jq \\-c .status.state",
    "sudo firezonectl settings set log_level debug",
    ".fi",
    ".SH SEE ALSO",
    ".BR firezoned (8)",
  );
  return `${lines.join("\n")}\n`;
}
