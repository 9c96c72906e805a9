// A connection that follows firezoned's events (watch, wait): subscribe first, then read the status,
// so no change between the two is missed; events that arrived before the status answer are older
// than it and are dropped, except resource changes.
import { connectDaemon, type DaemonClient, type DaemonEvent, type Status } from "../ipc/index.ts";
import { FzError } from "../types/index.ts";
import { clientOptions } from "./io.ts";

export interface Follower {
  client: DaemonClient;
  initial: Status;
  /** The next event, or null once `deadline` (ms since epoch) passes; rejects when firezoned goes away. */
  next(deadline?: number): Promise<DaemonEvent | null>;
  close(): void;
}

export async function follow(): Promise<Follower> {
  const client = await connectDaemon(clientOptions());
  const queue: DaemonEvent[] = [];
  let wake: (() => void) | null = null;
  let closed: FzError | null = null;
  client.onClose((reason) => {
    closed = new FzError(
      "daemon_unreachable",
      `firezoned closed the connection (${reason.message}): it stopped or restarted. Start it with: sudo systemctl start firezoned`,
    );
    wake?.();
  });
  let ready = false;
  await client.subscribe((event) => {
    if (!ready && event.kind === "status") return;
    queue.push(event);
    wake?.();
  });
  const initial = await client.call("status", {});
  ready = true;
  return {
    client,
    initial,
    close: () => client.close(),
    async next(deadline) {
      for (;;) {
        const event = queue.shift();
        if (event) return event;
        if (closed) throw closed;
        const left = deadline === undefined ? undefined : deadline - Date.now();
        if (left !== undefined && left <= 0) return null;
        await new Promise<void>((resolve) => {
          const timer = left === undefined ? null : setTimeout(resolve, left);
          wake = () => {
            if (timer) clearTimeout(timer);
            wake = null;
            resolve();
          };
        });
      }
    },
  };
}
