// firezonectl: one command, one answer, then exit with a sysexits code.
import { type ArgsDef, type CommandDef, defineCommand, renderUsage } from "citty";
import { FzError, VERSION } from "../types/index.ts";
import { displayText } from "../util/index.ts";
import { parseFlags } from "./_flags.ts";
import { debugCommand } from "./debug.ts";
import { doctorCommand } from "./doctor.ts";
import { DataError, EXIT, exitCodeFor, SilentExit, UsageError } from "./exit_codes.ts";
import { internetCommand } from "./internet.ts";
import { type CliIo, processIo, setContext } from "./io.ts";
import { logsCommand } from "./logs.ts";
import { resourcesCommand } from "./resources.ts";
import { signInCommand } from "./sign_in.ts";
import { signOutCommand } from "./sign_out.ts";
import { statusCommand } from "./status.ts";
import { versionCommand } from "./version.ts";

// biome-ignore lint/suspicious/noExplicitAny: citty's command map is heterogeneous by design.
const SUBCOMMANDS: Record<string, CommandDef<any>> = {
  status: statusCommand,
  resources: resourcesCommand,
  "sign-in": signInCommand,
  "sign-out": signOutCommand,
  "internet-resource": internetCommand,
  version: versionCommand,
  doctor: doctorCommand,
  logs: logsCommand,
  debug: debugCommand,
};

const root = defineCommand({ meta: { name: "firezonectl", version: VERSION }, subCommands: SUBCOMMANDS });

const HELP = `firezonectl ${VERSION}: control the Firezone tunnel run by firezoned.

Usage: firezonectl [--socket PATH] COMMAND [--json]

Commands:
  status                       state, account, addresses, resources count, last error
  resources                    the resources this account may reach
  sign-in --token-stdin        sign in with a token read from standard input
  sign-in --token-file FILE    sign in with a token read from FILE
  sign-out                     sign out and take the tunnel down
  internet-resource [status]   whether all traffic goes through the tunnel (the Internet Resource)
  internet-resource on|off [--allow-lan|--no-allow-lan]
                               switch it; kept across restarts
  version                      versions of firezonectl and firezoned
  doctor                       check this machine's set-up; each failure with its fix (exit 0: all pass)
  logs [--follow] [--since 10m]
                               firezoned's recent log (members of the group may read it)
  debug bundle [--output FILE] [--anonymize]
                               a .tar.gz for support; tokens and keys are always redacted

Options:
  --socket PATH   firezoned's socket (default: $FIREZONE_SOCKET or /run/firezoned/ipc.sock)
  --json          machine-readable output (status, resources, version, sign-in, sign-out,
                  internet-resource, doctor, logs, debug bundle)
  -h, --help      help for firezonectl or for one command

Exit codes: 0 ok, 64 usage error, 65 bad input (a token that is binary or over 8 KiB),
69 firezoned unreachable, 77 permission denied, 78 firezoned has no portal configured
(see /etc/firezoned/firezoned.conf), 1 other error.
Members of group 'firezone' and root may use firezoned.
`;

function takeGlobalSocket(argv: string[]): { socket: string | undefined; rest: string[] } {
  const rest: string[] = [];
  let socket: string | undefined;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === "--socket") {
      socket = argv[++i];
      if (!socket || socket.startsWith("-")) throw new UsageError("--socket needs a path");
    } else if (a.startsWith("--socket=")) socket = a.slice("--socket=".length);
    else rest.push(a);
  }
  return { socket, rest };
}

export async function runCli(argv: string[], io: CliIo = processIo): Promise<number> {
  const code = await runCliUnflushed(argv, io);
  await io.flush();
  return code;
}

async function runCliUnflushed(argv: string[], io: CliIo): Promise<number> {
  try {
    const { socket, rest } = takeGlobalSocket(argv);
    setContext(io, { socket });
    const [name = "status", ...subArgs] = rest;
    if (name === "--help" || name === "-h" || name === "help") {
      io.out(HELP);
      return EXIT.ok;
    }
    if (name === "--version") {
      io.out(`firezonectl ${VERSION}\n`);
      return EXIT.ok;
    }
    let command = SUBCOMMANDS[name];
    let label = name;
    let parent = root;
    if (!command)
      throw new UsageError(name.startsWith("-") ? `unknown option '${name}'` : `unknown command '${name}'`);
    // A command of commands (`debug bundle`): the next word picks one of them.
    const nested = command.subCommands as Record<string, CommandDef<ArgsDef>> | undefined;
    if (nested && subArgs[0] !== "--help" && subArgs[0] !== "-h") {
      const [sub, ...subRest] = subArgs;
      if (sub === undefined || sub.startsWith("-"))
        throw new UsageError(`'${name}' needs a command: ${Object.keys(nested).join(", ")}`);
      const picked = Object.hasOwn(nested, sub) ? nested[sub] : undefined;
      if (!picked)
        throw new UsageError(`unknown command '${name} ${sub}'; known: ${Object.keys(nested).join(", ")}`);
      command = picked;
      label = `${name} ${sub}`;
      parent = defineCommand({ meta: { name: `firezonectl ${name}`, version: VERSION } });
      subArgs.splice(0, subArgs.length, ...subRest);
    }
    if (subArgs.includes("--help") || subArgs.includes("-h")) {
      const usage = await renderUsage(command, parent);
      // citty colours its usage text; keep escape codes out of pipes and files.
      io.out(`${io.isTty() ? usage : usage.replace(/\x1b\[[0-9;]*m/g, "")}\n`);
      return EXIT.ok;
    }
    const args = parseFlags(label, (command.args ?? {}) as ArgsDef, subArgs);
    await command.run?.({ rawArgs: subArgs, args, cmd: command });
    return EXIT.ok;
  } catch (err) {
    if (err instanceof SilentExit) return err.code;
    if (err instanceof UsageError || (err as { name?: string }).name === "CLIError") {
      io.err(`firezonectl: ${(err as Error).message}\nSee 'firezonectl --help'.\n`);
      return EXIT.usage;
    }
    if (err instanceof DataError) {
      io.err(`firezonectl: ${err.message}\n`);
      return EXIT.dataError;
    }
    if (err instanceof FzError) {
      // The daemon's messages may quote the portal: escaped line by line, newlines kept.
      const text = err.message
        .split("\n")
        .map((line) => displayText(line, 4096))
        .join("\n");
      io.err(`firezonectl: ${text}\n`);
      return exitCodeFor(err);
    }
    io.err(`firezonectl: unexpected error: ${(err as Error)?.stack ?? String(err)}\n`);
    return EXIT.other;
  }
}
