// `firezonectl debug bundle [--output FILE] [--anonymize]`: writes the debug bundle (debug_bundle.ts).
import { defineCommand } from "citty";
import { DIAGNOSTICS_SCHEMA_VERSION } from "../ipc/index.ts";
import { displayText } from "../util/index.ts";
import { DataError } from "./exit_codes.ts";
import { io, printJson } from "./io.ts";

function defaultName(now = new Date()): string {
  const stamp = now
    .toISOString()
    .replace(/[-:]/g, "")
    .replace(/\.\d+Z$/, "Z");
  return `firezone-debug-${stamp}.tar.gz`;
}

/** Written with O_EXCL and mode 0600: never over an existing file, never readable by others. */
function writeNew(path: string, bytes: Uint8Array): void {
  const { openSync, writeSync, closeSync } = require("node:fs") as typeof import("node:fs");
  let fd: number;
  try {
    fd = openSync(path, "wx", 0o600);
  } catch (err) {
    const code = (err as { code?: string }).code;
    throw new DataError(
      code === "EEXIST"
        ? `${displayText(path, 256)} exists already; give another --output FILE, or remove it first`
        : `cannot write ${displayText(path, 256)}: ${(err as Error).message}`,
    );
  }
  try {
    let at = 0;
    while (at < bytes.length) at += writeSync(fd, bytes, at);
  } finally {
    closeSync(fd);
  }
}

export const bundleCommand = defineCommand({
  meta: {
    name: "bundle",
    description:
      "Write a .tar.gz for support: logs, status, routes, DNS, versions, doctor report; tokens and keys redacted",
  },
  args: {
    output: { type: "string", description: "Where to write it (default ./firezone-debug-<time>.tar.gz)" },
    anonymize: {
      type: "boolean",
      description: "Also replace names, addresses outside the tunnel ranges and your home directory",
    },
    json: { type: "boolean", description: "Print JSON" },
  },
  run: async ({ args }) => {
    const path = typeof args.output === "string" && args.output !== "" ? args.output : defaultName();
    // Loaded only here: the bundle's modules (node:os, the archive writer) cost every other command start-up time.
    const { buildBundle } = await import("./debug_bundle.ts");
    const bundle = await buildBundle({ anonymize: Boolean(args.anonymize), env: io().env });
    writeNew(path, bundle.bytes);
    if (args.json) {
      printJson({
        schemaVersion: DIAGNOSTICS_SCHEMA_VERSION,
        path,
        bytes: bundle.bytes.length,
        anonymized: Boolean(args.anonymize),
        files: bundle.files,
        problems: bundle.problems,
      });
      return;
    }
    const shown = displayText(path, 1024);
    io().out(
      `Wrote ${shown} (${Math.ceil(bundle.bytes.length / 1024)} KiB, ${bundle.files.length} files).\n` +
        (args.anonymize
          ? "Tokens and keys are redacted; names, outside addresses and your home directory are replaced.\n"
          : "Tokens and keys are redacted; names and addresses are not (add --anonymize). Look inside before you share it: tar tzf " +
            `${shown}\n`),
    );
    for (const p of bundle.problems) io().err(`firezonectl: note: ${displayText(p, 1024)}\n`);
  },
});

export const debugCommand = defineCommand({
  meta: { name: "debug", description: "Material for support: debug bundle" },
  subCommands: { bundle: bundleCommand },
});
