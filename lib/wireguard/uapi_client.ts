// One request/reply exchange on a wireguard-go UAPI socket (/var/run/wireguard/<name>.sock).
import { createConnection } from "node:net";
import { peerCredentials, peerPidfd } from "../sys/index.ts";

/** Sends `request` and resolves with the reply text up to and including its final blank line. */
export function uapiExchange(socketPath: string, request: string, timeoutMs = 5000): Promise<string> {
  return new Promise((resolve, reject) => {
    const sock = createConnection({ path: socketPath });
    let reply = "";
    const timer = setTimeout(() => {
      sock.destroy();
      reject(new Error(`no reply from wireguard-go on ${socketPath} within ${timeoutMs} ms`));
    }, timeoutMs);
    const finish = (err: Error | null) => {
      clearTimeout(timer);
      sock.destroy();
      if (err) reject(err);
      else resolve(reply);
    };
    sock.setEncoding("utf8");
    sock.on("connect", () => sock.write(request));
    sock.on("data", (chunk: string) => {
      reply += chunk;
      // Every reply ends with "errno=N\n\n".
      if (/(?:^|\n)errno=-?\d+\n\n$/.test(reply)) finish(null);
    });
    sock.on("error", (e) => finish(new Error(`wireguard-go UAPI socket ${socketPath}: ${e.message}`)));
    sock.on("close", () => finish(new Error(`wireguard-go closed ${socketPath} before replying`)));
  });
}

/**
 * Whether a live wireguard-go answers on `socketPath`. The path is shared by every network namespace,
 * so a socket file may belong to a live instance elsewhere and must then be left alone; one nobody
 * listens on is stale.
 */
export function uapiSocketInUse(socketPath: string, timeoutMs = 1000): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = createConnection({ path: socketPath });
    const done = (inUse: boolean) => {
      clearTimeout(timer);
      sock.destroy();
      resolve(inUse);
    };
    const timer = setTimeout(() => done(true), timeoutMs);
    sock.on("connect", () => done(true));
    sock.on("error", () => done(false));
  });
}

/**
 * The process listening on `socketPath`: its pid (the kernel's SO_PEERCRED) and, where the kernel
 * gives one, a pidfd naming exactly that process (the caller closes it), or null when nothing answers
 * there. Nothing is sent: wireguard-go drops a connection that closes without a request.
 */
export async function uapiSocketOwner(
  socketPath: string,
  timeoutMs = 1000,
): Promise<{ pid: number; pidfd: number | null } | null> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    const sock = await Promise.race([
      Bun.connect({ unix: socketPath, socket: { data() {} } }),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error("timeout")), timeoutMs);
      }),
    ]);
    try {
      // Bun's client sockets carry their fd at run time; the type does not declare it.
      const fd = (sock as unknown as { fd: number }).fd;
      const { pid } = peerCredentials(fd);
      return { pid, pidfd: peerPidfd(fd, pid) };
    } finally {
      sock.end();
    }
  } catch {
    return null;
  } finally {
    clearTimeout(timer);
  }
}
