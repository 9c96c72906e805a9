// The command table: every subcommand with its usage forms and what a shell may complete for its
// words. `--help`, the shell completions and the man page are all generated from it (help.ts,
// completion.ts, man.ts), so they cannot drift from what the commands accept.
import type { ArgsDef, CommandDef } from "citty";
import { SETTING_KEYS } from "../ipc/index.ts";
import { completionCommand } from "./completion_command.ts";
import { debugCommand } from "./debug.ts";
import { doctorCommand } from "./doctor.ts";
import { internetCommand } from "./internet.ts";
import { logsCommand } from "./logs.ts";
import { resourcesCommand } from "./resources.ts";
import { scopeCommand } from "./scope.ts";
import { SETTINGS_ACTIONS, settingsCommand } from "./settings.ts";
import { signInCommand } from "./sign_in.ts";
import { signOutCommand } from "./sign_out.ts";
import { statusCommand } from "./status.ts";
import { versionCommand } from "./version.ts";
import { waitCommand } from "./wait.ts";
import { watchCommand } from "./watch.ts";

export interface CommandEntry {
  // biome-ignore lint/suspicious/noExplicitAny: citty's command map is heterogeneous by design.
  command: CommandDef<any>;
  /** Usage forms after `firezonectl NAME`, each with what it does (the first may reuse the description). */
  usage: Array<[form: string, what: string]>;
  /** Words a shell may complete for each positional argument, in order. */
  words?: ReadonlyArray<readonly string[]>;
  /** An option's completion: a file name, or one of a few values. */
  optionValues?: Record<string, "file" | readonly string[]>;
}

export const SHELLS = ["bash", "zsh", "fish"] as const;

export const COMMANDS: Record<string, CommandEntry> = {
  status: {
    command: statusCommand,
    usage: [["", "state, account, addresses, resources count, last error"]],
  },
  resources: { command: resourcesCommand, usage: [["", "the resources this account may reach"]] },
  "sign-in": {
    command: signInCommand,
    usage: [
      ["--token-stdin", "sign in with a token read from standard input"],
      ["--token-file FILE", "sign in with a token read from FILE"],
      ["... --scope user|system|app [--cgroup PATH]", "who may use the tunnel (default: default_scope)"],
    ],
    optionValues: { "token-file": "file", scope: ["user", "system", "app"] },
  },
  "sign-out": { command: signOutCommand, usage: [["", "sign out and take the tunnel down"]] },
  "internet-resource": {
    command: internetCommand,
    usage: [
      ["[status]", "whether all traffic goes through the tunnel (the Internet Resource)"],
      ["on|off [--allow-lan|--no-allow-lan]", "switch it; kept across restarts"],
    ],
    words: [["status", "on", "off"]],
  },
  scope: {
    command: scopeCommand,
    usage: [
      ["", "who may use the tunnel: the session's owner and scope"],
      ["user|system|app [--cgroup PATH]", "change it (the session's owner, or root)"],
    ],
    words: [["user", "system", "app"]],
  },
  watch: {
    command: watchCommand,
    usage: [["", "follow status and resource changes (JSON lines with --json)"]],
  },
  wait: {
    command: waitCommand,
    usage: [
      ["--connected [--timeout DURATION]", "wait until connected (default 30s); exit 75 at the timeout"],
    ],
    optionValues: { timeout: ["10s", "30s", "1m", "5m", "0"] },
  },
  settings: {
    command: settingsCommand,
    usage: [
      ["[get [KEY]]", "firezoned's configuration: the value in use, its source, when a change applies"],
      ["set KEY VALUE", "write KEY into firezoned.conf and apply it (root)"],
      ["unset KEY", "remove KEY from firezoned.conf, back to its default (root)"],
    ],
    words: [SETTINGS_ACTIONS, SETTING_KEYS],
  },
  version: { command: versionCommand, usage: [["", "versions of firezonectl and firezoned"]] },
  doctor: {
    command: doctorCommand,
    usage: [["", "check this machine's set-up; each failure with its fix (exit 0: all pass)"]],
  },
  logs: {
    command: logsCommand,
    usage: [["[--follow] [--since 10m]", "firezoned's recent log (members of the group may read it)"]],
  },
  debug: {
    command: debugCommand,
    usage: [
      ["bundle [--output FILE] [--anonymize]", "a .tar.gz for support; tokens and keys are always redacted"],
    ],
    words: [["bundle"]],
  },
  completion: {
    command: completionCommand,
    usage: [["bash|zsh|fish", "print the shell completion script"]],
    words: [SHELLS],
  },
};

/** A command's options: name, whether it takes a value, its value hint and its description. */
export function optionsOf(
  entry: CommandEntry,
): Array<{ name: string; value: string | null; description: string }> {
  return Object.entries((entry.command.args ?? {}) as ArgsDef)
    .filter(([, def]) => def.type !== "positional")
    .map(([name, def]) => ({
      name,
      value: def.type === "string" ? ((def as { valueHint?: string }).valueHint ?? "VALUE") : null,
      description: def.description ?? "",
    }));
}

/** Commands whose output `--json` makes machine-readable. */
export function jsonCommands(): string[] {
  return Object.entries(COMMANDS)
    .filter(([, e]) => optionsOf(e).some((o) => o.name === "json"))
    .map(([name]) => name);
}
