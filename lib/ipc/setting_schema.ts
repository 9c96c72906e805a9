// firezoned.conf as clients see it through `get_settings` and `set_setting`.
import * as v from "valibot";

/** The keys of firezoned.conf, so clients can complete and check them; lib/daemon/config_keys.ts has one row each. */
export const SETTING_KEYS = [
  "portal_url",
  "allow_insecure_portal",
  "ca_file",
  "log_level",
  "internet_resource",
  "allow_lan",
  "dns_control",
  "default_scope",
  "read_group",
] as const;
export type SettingKey = (typeof SETTING_KEYS)[number];

/** When a change to a key of firezoned.conf takes effect (docs/configuration.md). */
export const SettingApplies = v.picklist(["live", "reconnect", "restart"]);

/** One key of firezoned.conf: what the file says, what the daemon uses, and why they may differ. */
export const SettingSchema = v.object({
  key: v.string(),
  /** As written in the file; null when the file does not set it. */
  value: v.nullable(v.string()),
  /** What the running daemon uses now; null when nothing (no portal URL, no ca_file). */
  effective: v.nullable(v.string()),
  source: v.picklist(["file", "environment", "default"]),
  description: v.string(),
  applies: SettingApplies,
  /** For keys that need a restart (or a reconnect): why. */
  note: v.optional(v.string()),
});
export type Setting = v.InferOutput<typeof SettingSchema>;
export const SettingKeyParam = v.pipe(
  v.string(),
  v.regex(/^[a-z_]{1,64}$/, "a key is lower case letters and _"),
);
