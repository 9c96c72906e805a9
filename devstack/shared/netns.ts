// The devstack's little world of network namespaces, all created here and all removed by destroy():
//
//   client ns ──veth── hub ns (portal) ──veth── gateway ns ──veth── resource ns (HTTP server)
//   10.77.1.2          10.77.1.1 / 10.77.2.1    10.77.2.2 / 172.31.0.1   172.31.0.10
//                                                           fd00:31::1   fd00:31::10
//
// The hub routes between client and gateway (the "internet"); the resource network is reachable
// only through the gateway. Private ranges are used only on these veths, inside these namespaces.
import { capture } from "./capture.ts";

export interface World {
  prefix: string;
  hub: string;
  gateway: string;
  resource: string;
  client: string;
  /** The portal's address as seen from the client and from the gateway. */
  portalFromClient: string;
  portalFromGateway: string;
  /** Where clients reach the gateway's WireGuard socket (the gateway's hub-side address). */
  gatewayAddress: string;
  resourceAddress: string;
  resourceNetwork: string;
}

async function run(cmd: string[]): Promise<string> {
  const { code, out, err } = await capture(cmd);
  if (code !== 0) throw new Error(`${cmd.join(" ")} failed (exit ${code}): ${err.trim()}`);
  return out;
}

/** Runs a command inside a namespace and returns its stdout; throws with stderr on failure. */
export function inNs(ns: string, cmd: string[]): Promise<string> {
  return run(["ip", "netns", "exec", ns, ...cmd]);
}

/** Creates the four namespaces; names start with `prefix` (keep it short: `fzt1234`). */
export async function createWorld(prefix: string): Promise<World> {
  const w: World = {
    prefix,
    hub: `${prefix}-hub`,
    gateway: `${prefix}-gw`,
    resource: `${prefix}-res`,
    client: `${prefix}-cli`,
    portalFromClient: "10.77.1.1",
    portalFromGateway: "10.77.2.1",
    gatewayAddress: "10.77.2.2",
    resourceAddress: "172.31.0.10",
    resourceNetwork: "172.31.0.0/24",
  };
  try {
    for (const ns of [w.hub, w.gateway, w.resource, w.client]) {
      await run(["ip", "netns", "add", ns]);
      await run(["ip", "-n", ns, "link", "set", "lo", "up"]);
    }
    const link = async (a: string, aIf: string, aAddr: string, b: string, bIf: string, bAddr: string) => {
      await run(["ip", "-n", a, "link", "add", aIf, "type", "veth", "peer", "name", bIf, "netns", b]);
      await run(["ip", "-n", a, "addr", "add", aAddr, "dev", aIf]);
      await run(["ip", "-n", b, "addr", "add", bAddr, "dev", bIf]);
      await run(["ip", "-n", a, "link", "set", aIf, "up"]);
      await run(["ip", "-n", b, "link", "set", bIf, "up"]);
    };
    await link(w.hub, "to-client", "10.77.1.1/24", w.client, "to-hub", "10.77.1.2/24");
    await link(w.hub, "to-gateway", "10.77.2.1/24", w.gateway, "to-hub", "10.77.2.2/24");
    await link(w.gateway, "to-resource", "172.31.0.1/24", w.resource, "to-gateway", "172.31.0.10/24");
    // The resource network has IPv6 too (ULA, inside these namespaces only), for IPv6 resources.
    await run(["ip", "-n", w.gateway, "addr", "add", "fd00:31::1/64", "dev", "to-resource", "nodad"]);
    await run(["ip", "-n", w.resource, "addr", "add", "fd00:31::10/64", "dev", "to-gateway", "nodad"]);
    await run(["ip", "-n", w.client, "route", "add", "default", "via", "10.77.1.1"]);
    await run(["ip", "-n", w.gateway, "route", "add", "default", "via", "10.77.2.1"]);
    await inNs(w.hub, ["sysctl", "-qw", "net.ipv4.ip_forward=1"]);
    return w;
  } catch (e) {
    await destroyWorld(w);
    throw e;
  }
}

/** Kills every process left in the namespaces, then deletes them. Safe to call twice. */
export async function destroyWorld(w: World): Promise<void> {
  for (const ns of [w.client, w.gateway, w.resource, w.hub]) {
    const pids = await run(["ip", "netns", "pids", ns]).catch(() => "");
    for (const pid of pids.split(/\s+/).filter(Boolean)) {
      try {
        process.kill(Number(pid), "SIGKILL");
      } catch {}
    }
    await run(["ip", "netns", "del", ns]).catch(() => {});
  }
}

/** Starts a long-running process inside a namespace. */
export function spawnInNs(
  ns: string,
  cmd: string[],
  options: {
    env?: Record<string, string | undefined>;
    stdout?: "pipe" | "inherit" | "ignore";
    stderr?: "pipe" | "inherit" | "ignore";
  } = {},
): Bun.Subprocess<"ignore", "pipe" | "inherit" | "ignore", "pipe" | "inherit" | "ignore"> {
  return Bun.spawn(["ip", "netns", "exec", ns, ...cmd], {
    stdin: "ignore",
    stdout: options.stdout ?? "pipe",
    stderr: options.stderr ?? "pipe",
    env: { ...process.env, ...options.env },
  });
}

/** Collects a process's output lines as they come, so a caller can wait for the next matching one. */
export class Lines {
  readonly all: string[] = [];
  #cursor = 0;
  #wake: (() => void) | undefined;
  #ended = false;

  constructor(stream: ReadableStream<Uint8Array>, echo?: (line: string) => void) {
    void (async () => {
      const decoder = new TextDecoder();
      let partial = "";
      for await (const chunk of stream) {
        partial += decoder.decode(chunk, { stream: true });
        const parts = partial.split("\n");
        partial = parts.pop() ?? "";
        for (const line of parts) {
          this.all.push(line);
          echo?.(line);
        }
        this.#wake?.();
      }
      this.#ended = true;
      this.#wake?.();
    })();
  }

  /** The first line after the previous match that matches `pattern`. */
  async next(pattern: RegExp, timeoutMs = 10_000): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      while (this.#cursor < this.all.length) {
        const line = this.all[this.#cursor++]!;
        if (pattern.test(line)) return line;
      }
      if (this.#ended)
        throw new Error(
          `process ended before printing ${pattern}; last lines:\n${this.all.slice(-20).join("\n")}`,
        );
      const left = deadline - Date.now();
      if (left <= 0)
        throw new Error(`timed out waiting for ${pattern}; last lines:\n${this.all.slice(-20).join("\n")}`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.#wake = () => {
          clearTimeout(t);
          resolve();
        };
      });
      this.#wake = undefined;
    }
  }
}
