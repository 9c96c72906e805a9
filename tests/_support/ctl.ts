// Runs the compiled firezonectl against a test daemon's socket, as a user's shell would.
import { type Captured, capture } from "../../devstack/shared/capture.ts";
import { ensureBuilt, FIREZONECTL } from "./build.ts";

/**
 * Asynchronous, so that a portal running in the test's own process keeps answering meanwhile. The
 * environment is only PATH and the socket: nothing of the test runner's leaks into the CLI.
 */
export function ctl(socketPath: string, args: string[], stdin?: string): Promise<Captured> {
  ensureBuilt();
  return capture([FIREZONECTL, ...args], {
    env: { PATH: "/usr/bin:/bin", FIREZONE_SOCKET: socketPath },
    ...(stdin === undefined ? {} : { stdin }),
  });
}
