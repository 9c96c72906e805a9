// One line per state-changing request: who (uid, user, pid, executable), what, and how it ended.
import { appendFileSync } from "node:fs";
import type { MethodName, PeerInfo } from "../ipc/index.ts";
import type { Logger } from "../util/index.ts";

export type AuditSink = (peer: PeerInfo, method: MethodName, outcome: string) => void;

/** Writes to the daemon log and, when `file` is writable, appends to it as well. */
export function createAuditSink(logger: Logger, file: string | null): AuditSink {
  let fileOk = file !== null;
  return (peer, method, outcome) => {
    const fields = {
      uid: peer.uid,
      user: peer.user,
      pid: peer.pid,
      exe: peer.exe ?? "?",
      method,
      result: outcome,
    };
    logger.info("audit", fields);
    if (!fileOk || file === null) return;
    const line = `${new Date().toISOString()} ${Object.entries(fields)
      .map(([k, v]) => `${k}=${JSON.stringify(v)}`)
      .join(" ")}\n`;
    try {
      appendFileSync(file, line, { mode: 0o600 });
    } catch (err) {
      fileOk = false;
      logger.warn("audit file not writable; auditing to the log only", { file, error: err });
    }
  };
}
