// `firezonectl logs [--follow] [--since 10m]`: the daemon's recent log for members, read in pages
// over IPC (each under the frame cap); --follow keeps asking for lines after the last one seen, and
// each ask waits in the daemon until one comes.
import { defineCommand } from "citty";
import {
  type DaemonClient,
  DIAGNOSTICS_SCHEMA_VERSION,
  type LogPage,
  MAX_LOG_WAIT_MS,
} from "../ipc/index.ts";
import { displayText } from "../util/index.ts";
import { UsageError } from "./exit_codes.ts";
import { io, withDaemon } from "./io.ts";

const UNITS: Record<string, number> = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** `10m`, `2h`, `30s`, `1d`, or an ISO 8601 time -> epoch ms. Throws UsageError otherwise. */
export function parseSince(text: string, now = Date.now()): number {
  const m = /^(\d{1,6})([smhd])$/.exec(text);
  if (m) return now - Number(m[1]) * UNITS[m[2]!]!;
  if (/^\d{4}-\d{2}-\d{2}/.test(text)) {
    const t = Date.parse(text);
    if (Number.isFinite(t)) return t;
  }
  throw new UsageError(
    `--since '${displayText(text, 40)}' is not a duration (10m, 2h, 30s, 1d) or a time (2026-01-31T12:00:00Z)`,
  );
}

/** Reads every held page from `start`; returns the last seq seen. Each page is printed as it comes. */
export async function readLogs(
  client: DaemonClient,
  start: { sinceMs?: number | undefined },
  print: (page: LogPage) => void,
): Promise<number> {
  let page = await client.call("logs", { ...start });
  print(page);
  while (page.more) {
    page = await client.call("logs", { after: page.last });
    print(page);
  }
  return page.last;
}

export const logsCommand = defineCommand({
  meta: {
    name: "logs",
    description: "Show firezoned's recent log (members may read it); --follow for new lines",
  },
  args: {
    follow: { type: "boolean", description: "Keep printing new lines until interrupted" },
    since: {
      type: "string",
      description: "Only lines from this long ago on: 10m, 2h, 30s, 1d, or an ISO time",
    },
    json: { type: "boolean", description: "Print JSON lines" },
  },
  run: async ({ args }) => {
    const sinceMs = typeof args.since === "string" ? parseSince(args.since) : undefined;
    const out = io();
    const print = (page: LogPage) => {
      if (page.gap) out.out(args.json ? "" : "-- older lines were dropped from firezoned's memory --\n");
      for (const l of page.lines) {
        out.out(
          args.json
            ? `${JSON.stringify({ schemaVersion: DIAGNOSTICS_SCHEMA_VERSION, ...l })}\n`
            : `${l.time} ${displayText(l.text, 16 * 1024)}\n`,
        );
      }
    };
    await withDaemon(async (client) => {
      let last = await readLogs(client, { sinceMs }, print);
      if (!args.follow) return;
      await out.flush();
      for (;;) {
        const page = await client.call(
          "logs",
          { after: last, waitMs: MAX_LOG_WAIT_MS },
          { timeoutMs: MAX_LOG_WAIT_MS + 10_000 },
        );
        print(page);
        last = page.last;
        await out.flush();
      }
    });
  },
});
