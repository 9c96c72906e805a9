// The debug bundle: one .tar.gz with what support asks for first. The daemon's parts come over IPC
// (so members need no access to root's files); the GUI's log and the doctor report are read here.
// Every file is redacted on the way in: tokens and keys always, names, addresses outside the
// tunnel ranges and the home directory with --anonymize.
import { hostname } from "node:os";
import {
  type DebugSection,
  DIAGNOSTICS_SCHEMA_VERSION,
  type IpcResource,
  PROTOCOL_VERSION,
  type Status,
} from "../ipc/index.ts";
import { FzError, VERSION } from "../types/index.ts";
import { Anonymizer, guiLogPath, LOG_KEEP, redactSecrets } from "../util/index.ts";
import { tarGz } from "./debug_tar.ts";
import { formatDoctor, runDoctor } from "./doctor.ts";
import { execBounded } from "./doctor_exec.ts";
import { withDaemon } from "./io.ts";
import { readLogs } from "./logs.ts";

export interface BundleOptions {
  anonymize: boolean;
  env: Record<string, string | undefined>;
}

export interface Bundle {
  bytes: Uint8Array;
  files: string[];
  /** What could not be collected, one sentence each (also in manifest.json). */
  problems: string[];
}

/** Most of the GUI's log taken per generation, so a bundle stays small enough to mail. */
const MAX_GUI_LOG = 2 * 1024 * 1024;

function readTail(path: string, max: number): string | null {
  const { openSync, fstatSync, readSync, closeSync } = require("node:fs") as typeof import("node:fs");
  let fd: number;
  try {
    fd = openSync(path, "r");
  } catch {
    return null;
  }
  try {
    const size = fstatSync(fd).size;
    const start = Math.max(0, size - max);
    const buf = Buffer.alloc(size - start);
    const n = readSync(fd, buf, 0, buf.length, start);
    return buf.subarray(0, n).toString("utf8");
  } finally {
    closeSync(fd);
  }
}

interface DaemonParts {
  sections: DebugSection[];
  log: string;
  status: Status | null;
  resources: IpcResource[];
}

async function daemonParts(problems: string[]): Promise<DaemonParts> {
  try {
    return await withDaemon(async (client) => {
      const status = await client.call("status", {});
      const { resources } = await client.allResources();
      const { sections } = await client.call("debug_info", {});
      let log = "";
      await readLogs(client, {}, (page) => {
        if (page.gap) log += "-- older lines were dropped from firezoned's memory --\n";
        for (const l of page.lines) log += `${l.time} ${l.text}\n`;
      });
      return { sections, log, status, resources };
    });
  } catch (err) {
    problems.push(
      `firezoned's parts are missing: ${err instanceof FzError ? err.message : (err as Error).message}`,
    );
    return { sections: [], log: "", status: null, resources: [] };
  }
}

/** Collects everything and returns the archive; never fails for a broken set-up (that goes in the bundle). */
export async function buildBundle(opts: BundleOptions): Promise<Bundle> {
  const problems: string[] = [];
  const created = new Date();
  const [daemon, doctor, unit] = await Promise.all([
    daemonParts(problems),
    runDoctor(opts.env),
    execBounded(["systemctl", "status", "firezoned.service", "--no-pager", "--lines=0"], { timeoutMs: 5000 }),
  ]);
  const files: { name: string; text: string }[] = [
    { name: "doctor.txt", text: formatDoctor(doctor) },
    { name: "doctor.json", text: `${JSON.stringify(doctor, null, 2)}\n` },
    {
      name: "versions.txt",
      text: `firezonectl ${VERSION} (protocol ${PROTOCOL_VERSION})\n${daemon.status ? `firezoned ${daemon.status.daemonVersion} (protocol ${daemon.status.protocol})\n` : "firezoned: not reachable\n"}`,
    },
    {
      name: "unit-status.txt",
      text: unit.code === null ? `systemctl did not answer: ${unit.err}\n` : `${unit.out}${unit.err}`,
    },
    // Names come from the daemon: kept to a plain file name.
    ...daemon.sections.map((s) => ({
      name: `daemon/${s.name.replace(/[^A-Za-z0-9._-]/g, "_").slice(0, 60)}`,
      text: s.text,
    })),
    { name: "daemon/firezoned.log", text: daemon.log },
  ];
  const guiLog = guiLogPath(opts.env);
  if (guiLog) {
    for (let n = LOG_KEEP; n >= 0; n--) {
      const path = n === 0 ? guiLog : `${guiLog}.${n}`;
      const text = readTail(path, MAX_GUI_LOG);
      if (text !== null) files.push({ name: `gui/${n === 0 ? "gui.log" : `gui.log.${n}`}`, text });
    }
  }

  let scrub = (text: string) => redactSecrets(text);
  if (opts.anonymize) {
    const st = daemon.status;
    const names = [
      st?.actor,
      st?.account,
      hostname(),
      opts.env.USER,
      opts.env.LOGNAME,
      ...daemon.resources.flatMap((r) => [r.name, r.site?.name, r.type === "dns" ? r.address : undefined]),
    ].filter((n): n is string => typeof n === "string");
    const anon = new Anonymizer({ names, home: opts.env.HOME });
    scrub = (text) => anon.apply(redactSecrets(text));
  }
  const manifest = {
    schemaVersion: DIAGNOSTICS_SCHEMA_VERSION,
    created: created.toISOString(),
    anonymized: opts.anonymize,
    redacted: "tokens and keys (always)",
    files: files.map((f) => f.name),
    problems,
  };
  const entries = [
    { name: "firezone-debug/manifest.json", data: scrub(`${JSON.stringify(manifest, null, 2)}\n`) },
    ...files.map((f) => ({ name: `firezone-debug/${f.name}`, data: scrub(f.text) })),
  ];
  return { bytes: tarGz(entries), files: manifest.files, problems };
}
