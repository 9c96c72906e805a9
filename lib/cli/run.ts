// firezonectl: one command, one answer, then exit with a sysexits code.
import { type ArgsDef, type CommandDef, defineCommand, renderUsage } from "citty";
import { FzError, VERSION } from "../types/index.ts";
import { displayText } from "../util/index.ts";
import { parseFlags } from "./_flags.ts";
import { COMMANDS } from "./commands.ts";
import { DataError, EXIT, exitCodeFor, SilentExit, UsageError } from "./exit_codes.ts";
import { helpText } from "./help.ts";
import { type CliIo, processIo, setContext } from "./io.ts";

const SUBCOMMANDS = Object.fromEntries(
  Object.entries(COMMANDS).map(([name, entry]) => [name, entry.command]),
);

const root = defineCommand({ meta: { name: "firezonectl", version: VERSION }, subCommands: SUBCOMMANDS });

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
      io.out(helpText());
      return EXIT.ok;
    }
    if (name === "--version") {
      io.out(`firezonectl ${VERSION}\n`);
      return EXIT.ok;
    }
    const found = Object.hasOwn(SUBCOMMANDS, name) ? SUBCOMMANDS[name] : undefined;
    if (!found)
      throw new UsageError(name.startsWith("-") ? `unknown option '${name}'` : `unknown command '${name}'`);
    let command = found;
    let label = name;
    let parent = root;
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
