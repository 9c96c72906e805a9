// A subcommand's flags, read by its citty args table. citty's own parser ignores what it does not
// know, and it loads node:util, which costs a short-lived command about a millisecond of start-up.
import type { ArgsDef, ParsedArgs } from "citty";
import { UsageError } from "./exit_codes.ts";

/**
 * Accepts positional words where the command declares them, `--flag`, `--no-flag` and `--flag=true|false` for boolean flags, `--option VALUE` and
 * `--option=VALUE` for string options. Anything else is a usage error: a typo or a stray token
 * should not silently do something else.
 */
export function parseFlags(command: string, defs: ArgsDef, rawArgs: string[]): ParsedArgs {
  const flags: Record<string, string | boolean | string[]> = { _: [] };
  for (const [name, def] of Object.entries(defs)) {
    if (def.default !== undefined) flags[name] = def.default;
  }
  // Positional arguments fill the command's `positional` args in order; one too many is an error.
  const positionals = Object.entries(defs).filter(([, def]) => def.type === "positional");
  for (let i = 0; i < rawArgs.length; i++) {
    const arg = rawArgs[i]!;
    if ((!arg.startsWith("-") || arg === "-") && positionals.length > 0) {
      const [name] = positionals.shift()!;
      flags[name] = arg;
      continue;
    }
    if (!arg.startsWith("-") || arg === "-") {
      throw new UsageError(
        `'${command}' takes no argument '${arg}'${command === "sign-in" ? " (tokens never go on the command line)" : ""}`,
      );
    }
    const eq = arg.indexOf("=");
    const name = arg.startsWith("--") ? arg.slice(2, eq === -1 ? undefined : eq) : "";
    const value = eq === -1 ? undefined : arg.slice(eq + 1);
    const def = Object.hasOwn(defs, name) ? defs[name] : undefined;
    const negated =
      name.startsWith("no-") && Object.hasOwn(defs, name.slice(3)) ? defs[name.slice(3)] : undefined;
    if (def?.type === "boolean") flags[name] = value !== "false";
    else if (def?.type === "string") {
      if (value !== undefined) flags[name] = value;
      else if (rawArgs[i + 1] === undefined) throw new UsageError(`option '${arg}' needs a value`);
      else flags[name] = rawArgs[++i]!;
    } else if (negated?.type === "boolean" && value === undefined) flags[name.slice(3)] = false;
    else throw new UsageError(`unknown option '${arg}' for '${command}'`);
  }
  return flags as ParsedArgs;
}
