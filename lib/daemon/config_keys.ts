// Every key firezoned.conf may hold, as one table: its value's type, how a value is checked and what
// it is for. A new setting is one new row here, one line in docs/configuration.md, and its use.
import { DNS_CONTROL_MODES, type DnsControlMode } from "../dns/index.ts";
import type { SettingKey } from "../ipc/index.ts";
import type { LogLevel } from "../util/index.ts";

type Parsed<T> = { ok: true; value: T } | { ok: false; message: string };

/** When a changed value takes effect (settings set, SIGHUP): at once, by reconnecting, or at the next start. */
export type Applies = "live" | "reconnect" | "restart";

interface KeySpec<T> {
  /** One line for errors and for the docs: what the key holds. */
  what: string;
  parse(value: string): Parsed<T>;
}

interface KeyRow<T> extends KeySpec<T> {
  applies: Applies;
  /** Why a change waits for a reconnect or a restart, or what "live" means for the key. */
  note: string;
  /** The value when neither the file nor the environment sets one (null: none). */
  fallback: string | null;
  /** The environment variable that wins over the file, if any. */
  env?: string;
}

const row = <T>(spec: KeySpec<T>, extra: Omit<KeyRow<T>, keyof KeySpec<T>>): KeyRow<T> => ({
  ...spec,
  ...extra,
});

const TRUE = ["true", "yes", "on", "1"];
const FALSE = ["false", "no", "off", "0"];

/** A boolean spelled as systemd accepts it: true/false, yes/no, on/off, 1/0. */
export function parseBool(value: string): Parsed<boolean> {
  const v = value.toLowerCase();
  if (TRUE.includes(v)) return { ok: true, value: true };
  if (FALSE.includes(v)) return { ok: true, value: false };
  return { ok: false, message: `'${value.slice(0, 40)}' is not a boolean; write true or false` };
}

const bool = (what: string): KeySpec<boolean> => ({ what, parse: parseBool });

const text = (what: string, max: number): KeySpec<string> => ({
  what,
  parse: (value) =>
    value === ""
      ? { ok: false, message: "is empty; give a value or remove the line" }
      : value.length > max
        ? { ok: false, message: `is longer than ${max} characters` }
        : { ok: true, value },
});

const absolutePath = (what: string): KeySpec<string> => ({
  what,
  parse: (value) =>
    value.startsWith("/") && value.length <= 4096
      ? { ok: true, value }
      : {
          ok: false,
          message: `must be an absolute path such as /etc/firezoned/portal-ca.pem, got '${value.slice(0, 80)}'`,
        },
});

const LEVELS: readonly LogLevel[] = ["debug", "info", "warn", "error"];

export const CONFIG_KEYS = {
  portal_url: row(text("the portal's URL, wss://host[:port][/path]", 2048), {
    applies: "reconnect",
    note: "a signed-in session signs in again at the new portal at once",
    fallback: null,
    env: "FIREZONE_API_URL",
  }),
  allow_insecure_portal: row(
    bool("accept a plaintext ws:// or http:// portal URL (labs and the devstack only)"),
    {
      applies: "reconnect",
      note: "the portal connection is made again with the new rule",
      fallback: "false",
      env: "FIREZONE_ALLOW_INSECURE_PORTAL",
    },
  ),
  ca_file: row(absolutePath("a PEM file of CA certificates trusted for the portal, besides the system's"), {
    applies: "reconnect",
    note: "the portal connection is made again, trusting the new CAs",
    fallback: null,
  }),
  log_level: row(
    {
      what: "debug, info, warn or error",
      parse: (value: string): Parsed<LogLevel> =>
        (LEVELS as readonly string[]).includes(value)
          ? { ok: true, value: value as LogLevel }
          : { ok: false, message: `'${value.slice(0, 40)}' is not one of ${LEVELS.join(", ")}` },
    } satisfies KeySpec<LogLevel>,
    {
      applies: "live",
      note: "the next log line already follows it",
      fallback: "info",
      env: "FIREZONE_LOG_LEVEL",
    },
  ),
  internet_resource: row(
    bool("the Internet Resource switch until a user chooses (docs/internet-resource.md); default off"),
    {
      applies: "live",
      note: "applies at once where no user has chosen; a user's own choice always wins",
      fallback: "false",
    },
  ),
  allow_lan: row(bool("with the Internet Resource on, keep the local network direct, until a user chooses"), {
    applies: "live",
    note: "applies at once where no user has chosen; a user's own choice always wins",
    fallback: "false",
  }),
  dns_control: row(
    {
      what: "how the system's resolver is pointed at the DNS stub: auto, systemd-resolved, resolv-conf or off",
      // `auto` is the same as leaving the key out: detected at each start.
      parse: (value: string): Parsed<DnsControlMode | "auto"> => {
        const v = value.toLowerCase();
        return v === "auto" || (DNS_CONTROL_MODES as readonly string[]).includes(v)
          ? { ok: true, value: v as DnsControlMode | "auto" }
          : {
              ok: false,
              message: `'${value.slice(0, 40)}' is not one of auto, ${DNS_CONTROL_MODES.join(", ")}`,
            };
      },
    } satisfies KeySpec<DnsControlMode | "auto">,
    {
      applies: "restart",
      note:
        "the mode is chosen at start, when firezoned also restores what a crashed run left in the " +
        "resolver; switching under a live session could leave the system's DNS pointing at a stub that is gone",
      fallback: "auto",
      env: "FIREZONE_DNS_CONTROL",
    },
  ),
  default_scope: row(
    {
      what: "who may send into an interactive session's tunnel: user (the owner and root) or system (everyone); default user",
      parse: (value: string): Parsed<"user" | "system"> => {
        const v = value.toLowerCase();
        return v === "user" || v === "system"
          ? { ok: true, value: v }
          : { ok: false, message: `'${value.slice(0, 40)}' is not one of user, system` };
      },
    } satisfies KeySpec<"user" | "system">,
    {
      applies: "restart",
      note: "read at start; a running session keeps its scope (its owner changes it with firezonectl scope)",
      fallback: "user",
      env: "FIREZONE_DEFAULT_SCOPE",
    },
  ),
  read_group: row(
    {
      what: "a group whose members may read status only (the read-only tier); default firezone-read if it exists",
      parse: (value: string): Parsed<string> =>
        /^[a-z_][a-z0-9_-]{0,31}\$?$/.test(value)
          ? { ok: true, value }
          : { ok: false, message: `'${value.slice(0, 40)}' is not a group name` },
    } satisfies KeySpec<string>,
    {
      applies: "restart",
      note: "the group and the socket's ACL for it are set up at start",
      fallback: "firezone-read",
      env: "FIREZONE_READ_GROUP",
    },
  ),
} as const satisfies Record<SettingKey, KeyRow<unknown>>;

export type ConfigKey = keyof typeof CONFIG_KEYS;

/** The file's settings, typed by the table: only the keys the file sets are present. */
export type FileSettings = {
  -readonly [K in ConfigKey]?: Extract<ReturnType<(typeof CONFIG_KEYS)[K]["parse"]>, { ok: true }>["value"];
};

export function isConfigKey(key: string): key is ConfigKey {
  return Object.hasOwn(CONFIG_KEYS, key);
}
