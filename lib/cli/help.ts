// `firezonectl --help`, generated from the command table (commands.ts) like the completions and
// the man page, so the three say the same.
import { VERSION } from "../types/index.ts";
import { COMMANDS, jsonCommands } from "./commands.ts";

/** Exit codes as --help, the man page and docs/cli.md state them. */
export const EXIT_CODE_TEXT: Array<[code: number, meaning: string]> = [
  [0, "ok"],
  [1, "any other error"],
  [64, "usage error"],
  [65, "bad input (a token that is binary or over 8 KiB)"],
  [69, "firezoned unreachable (not running, a protocol mismatch, or a socket not served by root)"],
  [75, "wait: the state was not reached within --timeout"],
  [77, "permission denied (not in group 'firezone'; settings set needs root)"],
  [78, "firezoned has no portal configured (see firezonectl settings)"],
];

/** The usage forms, `firezonectl NAME FORM`, each with what it does. */
export function usageLines(): Array<[form: string, what: string]> {
  return Object.entries(COMMANDS).flatMap(([name, entry]) =>
    entry.usage.map(([form, what]): [string, string] => [form ? `${name} ${form}` : name, what]),
  );
}

/** Wraps `text` at 100 columns, continuing lines at `indent` spaces. */
function wrap(text: string, indent: number): string {
  const lines: string[] = [];
  let line = "";
  for (const w of text.split(" ")) {
    if (line && indent + line.length + 1 + w.length > 100) {
      lines.push(line);
      line = w;
    } else line = line ? `${line} ${w}` : w;
  }
  lines.push(line);
  return lines.join(`\n${" ".repeat(indent)}`);
}

export function helpText(): string {
  const width = 29;
  const commands = usageLines().map(([form, what]) =>
    form.length < width ? `  ${form.padEnd(width)}${what}` : `  ${form}\n  ${" ".repeat(width)}${what}`,
  );
  const codes = EXIT_CODE_TEXT.map(([code, meaning]) => `  ${String(code).padEnd(4)}${meaning}`);
  return `firezonectl ${VERSION}: control the Firezone tunnel run by firezoned.

Usage: firezonectl [--socket PATH] COMMAND [--json]

Commands:
${commands.join("\n")}

Options:
  --socket PATH   firezoned's socket (default: $FIREZONE_SOCKET or /run/firezoned/ipc.sock)
  --json          ${wrap(`machine-readable output with a schemaVersion (${jsonCommands().join(", ")})`, 18)}
  -h, --help      help for firezonectl or for one command

Exit codes:
${codes.join("\n")}

Members of group 'firezone' and root may use firezoned. See man firezonectl.
`;
}
