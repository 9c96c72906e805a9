// Runs the compiled firezonectl against a test daemon's socket, as a user's shell would.
import { type Captured, capture } from "../../devstack/shared/capture.ts";
import { ensureBuilt, FIREZONECTL } from "./build.ts";

/**
 * Asynchronous, so that a portal running in the test's own process keeps answering meanwhile. The
 * environment is only PATH and the socket: nothing of the test runner's leaks into the CLI. With
 * `as`, it runs as that user.
 */
export function ctl(socketPath: string, args: string[], stdin?: string, as?: string): Promise<Captured> {
  ensureBuilt();
  // runuser (in sbin) switches to `as` with its groups from the group database, as a login would.
  return capture([...(as ? ["/usr/sbin/runuser", "-u", as, "--"] : []), FIREZONECTL, ...args], {
    env: { PATH: "/usr/bin:/bin", FIREZONE_SOCKET: socketPath },
    ...(stdin === undefined ? {} : { stdin }),
  });
}
