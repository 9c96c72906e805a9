// A daemon Status for tests of what is drawn from one (the tray, the CLI's listings), without a daemon.
import type { Status } from "../../lib/ipc/index.ts";

/** A connected, interactive daemon with no resources; `patch` sets what the test is about. */
export function sampleStatus(patch: Partial<Status> = {}): Status {
  return {
    state: "connected",
    mode: "interactive",
    daemonVersion: "0.1.0",
    protocol: 1,
    pid: 1,
    uptimeSeconds: 1,
    resourceCount: 0,
    ...patch,
  };
}
