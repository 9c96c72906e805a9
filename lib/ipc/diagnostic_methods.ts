// Diagnostics (docs/troubleshooting.md): the daemon's view of what is broken, its recent log for
// members (who cannot read /var/log/firezoned), and the daemon's parts of a debug bundle.
import * as v from "valibot";
import { Empty } from "./_empty.ts";

/** Version of the JSON shapes printed by `firezonectl doctor --json`, `logs --json` and the bundle's manifest. */
export const DIAGNOSTICS_SCHEMA_VERSION = 1;

/** One check of `doctor`: `skip` means it does not apply here (and does not fail the run). */
export const CheckSchema = v.object({
  id: v.string(),
  title: v.string(),
  status: v.picklist(["pass", "fail", "skip"]),
  detail: v.string(),
  /** On failure: the exact command (or setting) that fixes it. */
  fix: v.optional(v.string()),
});
export type Check = v.InferOutput<typeof CheckSchema>;

/** One line of the daemon's log; `seq` grows by one per line since the daemon started. */
export const LogLineSchema = v.object({ seq: v.number(), time: v.string(), text: v.string() });
export type LogLine = v.InferOutput<typeof LogLineSchema>;

/** Most lines in one `logs` page; a page also stops before its lines pass LOG_PAGE_BYTES. */
export const MAX_LOG_PAGE_LINES = 2000;
export const LOG_PAGE_BYTES = 256 * 1024;
/** Longest a `logs` request may wait for a new line (`--follow` asks again after each answer). */
export const MAX_LOG_WAIT_MS = 25_000;

export const LogPageSchema = v.object({
  lines: v.array(LogLineSchema),
  /** Pass as `after` to read on; equal to the last line's seq, or the `after` given when none came. */
  last: v.number(),
  /** More lines are waiting beyond this page. */
  more: v.boolean(),
  /** Lines between `after` and the first one returned were already dropped from the daemon's memory. */
  gap: v.boolean(),
});
export type LogPage = v.InferOutput<typeof LogPageSchema>;

/** A named text of the debug bundle (routes, rules, DNS, ...), already redacted by the daemon. */
export const DebugSectionSchema = v.object({ name: v.string(), text: v.string() });
export type DebugSection = v.InferOutput<typeof DebugSectionSchema>;
/** The daemon's sections of one bundle stay under this, far below the frame cap. */
export const DEBUG_INFO_BYTES = 512 * 1024;

// Diagnostics are redacted by the daemon and name no secret: any member may read them.
export const diagnosticMethods = {
  /** The checks only the daemon can run: its portal reachability, routes, rp_filter, DNS, TUN, WireGuard. */
  diagnose: {
    tier: "member",
    mutates: false,
    params: Empty,
    result: v.object({ checks: v.array(CheckSchema) }),
  },
  /** A page of the daemon's recent log, from `after` (a seq) or from `sinceMs` (epoch ms); may wait for one. */
  logs: {
    tier: "member",
    mutates: false,
    params: v.strictObject({
      after: v.optional(v.pipe(v.number(), v.integer(), v.minValue(0))),
      sinceMs: v.optional(v.pipe(v.number(), v.integer(), v.minValue(0))),
      limit: v.optional(v.pipe(v.number(), v.integer(), v.minValue(1), v.maxValue(MAX_LOG_PAGE_LINES))),
      /** Wait up to this long for a line after `after` when none is there yet (`--follow`). */
      waitMs: v.optional(v.pipe(v.number(), v.integer(), v.minValue(0), v.maxValue(MAX_LOG_WAIT_MS))),
    }),
    result: LogPageSchema,
  },
  /** The daemon's parts of a debug bundle: interface, routes, rules, DNS state, configuration; redacted. */
  debug_info: {
    tier: "member",
    mutates: false,
    params: Empty,
    result: v.object({ sections: v.array(DebugSectionSchema) }),
  },
} as const;
