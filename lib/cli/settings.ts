// `firezonectl settings [get [KEY] | set KEY VALUE | unset KEY]`: firezoned.conf through the daemon,
// which checks every value, keeps the file's other lines and applies what it can at once.
import { defineCommand } from "citty";
import { SETTING_KEYS, type Setting } from "../ipc/index.ts";
import { displayText } from "../util/index.ts";
import { UsageError } from "./exit_codes.ts";
import { io, printJson, request } from "./io.ts";

export const SETTINGS_ACTIONS = ["get", "set", "unset"] as const;

const APPLIES: Record<Setting["applies"], string> = {
  live: "at once",
  reconnect: "at once (reconnects)",
  restart: "at restart",
};

/** All keys as a table, like `systemctl show` trimmed to what an administrator reads. */
export function formatSettings(file: string, settings: Setting[]): string {
  const show = (s: string | null) => (s === null ? "-" : displayText(s, 256));
  const rows = [
    ["KEY", "IN USE", "SOURCE", "APPLIES"],
    ...settings.map((s) => [s.key, show(s.effective), s.source, APPLIES[s.applies]]),
  ];
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((row) => row[i]!.length)));
  const table = rows.map((row) =>
    row.map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i]!))).join("  "),
  );
  return `${table.join("\n")}\n\nFile: ${displayText(file, 512)} (change a key: sudo firezonectl settings set KEY VALUE)\n`;
}

/** One key with everything known about it. */
export function formatSetting(s: Setting): string {
  const show = (value: string | null) => (value === null ? "not set" : displayText(value, 2048));
  const lines = [
    `${s.key}: ${displayText(s.description, 512)}`,
    `  In use:   ${show(s.effective)} (from the ${s.source})`,
    `  In file:  ${show(s.value)}`,
    `  Applies:  ${APPLIES[s.applies]}${s.note ? `: ${displayText(s.note, 512)}` : ""}`,
  ];
  return `${lines.join("\n")}\n`;
}

function checkKey(key: string | undefined, action: string): string {
  if (!key) throw new UsageError(`'settings ${action}' needs a KEY: one of ${SETTING_KEYS.join(", ")}`);
  if (!(SETTING_KEYS as readonly string[]).includes(key))
    throw new UsageError(`unknown setting '${key}'; the keys are ${SETTING_KEYS.join(", ")}`);
  return key;
}

export const settingsCommand = defineCommand({
  meta: {
    name: "settings",
    description: "Show or change firezoned's configuration (firezoned.conf); changing needs root",
  },
  args: {
    action: { type: "positional", required: false, description: "get (default), set or unset" },
    key: { type: "positional", required: false, description: "a key of firezoned.conf" },
    value: { type: "positional", required: false, description: "the new value (set)" },
    json: { type: "boolean", description: "Print JSON" },
  },
  run: async ({ args }) => {
    const action = (args.action as string | undefined) ?? "get";
    const key = args.key as string | undefined;
    const value = args.value as string | undefined;
    if (!(SETTINGS_ACTIONS as readonly string[]).includes(action))
      throw new UsageError(`'settings' takes get, set or unset, not '${action}'`);
    if (action === "get") {
      if (value !== undefined) throw new UsageError("'settings get' takes at most one KEY");
      if (key !== undefined) checkKey(key, action);
      const result = await request("get_settings", key ? { key } : {});
      if (args.json) printJson(result);
      else if (key) io().out(formatSetting(result.settings[0]!));
      else io().out(formatSettings(result.file, result.settings));
      return;
    }
    const name = checkKey(key, action);
    if (action === "set" && value === undefined)
      throw new UsageError(
        `'settings set ${name}' needs a VALUE (to remove the key: settings unset ${name})`,
      );
    if (action === "unset" && value !== undefined) throw new UsageError("'settings unset' takes only a KEY");
    const result = await request("set_setting", { key: name, value: action === "set" ? value! : null });
    if (args.json) printJson(result);
    else io().out(`${displayText(result.message, 4096)}\n`);
  },
});
