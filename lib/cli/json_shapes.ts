// The shapes of every `--json` output, as schemas: docs/cli.md documents them and
// tests/cli/json_output.test.ts checks each command's real output against them.
import * as v from "valibot";
import { InternetResourceSchema, ResourceSchema, SettingSchema, StatusSchema } from "../ipc/index.ts";
import { JSON_SCHEMA_VERSION } from "./schema_version.ts";

export { JSON_SCHEMA_VERSION };

const version = v.literal(JSON_SCHEMA_VERSION);
const status = v.object({ schemaVersion: version, ...StatusSchema.entries });

export const JSON_SHAPES = {
  status,
  resources: v.object({ schemaVersion: version, version: v.number(), resources: v.array(ResourceSchema) }),
  "sign-in": status,
  "sign-out": status,
  scope: status,
  "internet-resource": v.object({ schemaVersion: version, ...InternetResourceSchema.entries }),
  version: v.object({
    schemaVersion: version,
    client: v.object({ version: v.string(), protocol: v.number() }),
    daemon: v.nullable(v.object({ version: v.string(), protocol: v.number() })),
    error: v.optional(v.object({ code: v.string(), message: v.string() })),
  }),
  "settings get": v.object({ schemaVersion: version, file: v.string(), settings: v.array(SettingSchema) }),
  "settings set": v.object({
    schemaVersion: version,
    file: v.string(),
    setting: SettingSchema,
    message: v.string(),
  }),
  /** One JSON object per line. */
  watch: v.variant("event", [
    v.object({ schemaVersion: version, event: v.literal("status"), time: v.string(), status: StatusSchema }),
    v.object({
      schemaVersion: version,
      event: v.literal("resources"),
      time: v.string(),
      version: v.number(),
      total: v.number(),
    }),
    v.object({
      schemaVersion: version,
      event: v.literal("daemon"),
      time: v.string(),
      state: v.picklist(["stopped", "started"]),
    }),
  ]),
  wait: v.object({
    schemaVersion: version,
    reached: v.boolean(),
    waitedMs: v.number(),
    status: v.nullable(StatusSchema),
  }),
} as const;

export type JsonShape = keyof typeof JSON_SHAPES;
