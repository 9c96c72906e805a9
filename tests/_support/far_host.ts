// Hosts outside every resource for the Internet Resource tests, in namespaces the test creates:
//
//   far host: its own namespace behind the hub (the devstack's "internet"), 203.0.113.10
//             (TEST-NET-3, used only on this veth), running the HTTP stand-in that says which
//             source it saw. nftables counters there count every packet from a watched source,
//             so "nothing arrived from the client's own address" is a fact, not a missed log line.
//   LAN host: 10.77.1.50, a second address on the hub's side of the client's own network, with
//             the same HTTP stand-in: a neighbour on the client's LAN.
import { join } from "node:path";
import { type Captured, capture } from "../../devstack/shared/capture.ts";
import { inNs, type World } from "../../devstack/shared/netns.ts";
import { type DevWorld, type Proc, ROOT } from "../../devstack/world.ts";

export const FAR_ADDRESS = "203.0.113.10";
export const FAR_NETWORK = "203.0.113.0/24";
export const LAN_HOST_ADDRESS = "10.77.1.50";
const TABLE = "fz_far_watch";

async function must(cmd: string[], stdin?: string): Promise<Captured> {
  const r = await capture(cmd, stdin === undefined ? {} : { stdin });
  if (r.code !== 0) throw new Error(`${cmd.join(" ")} failed (exit ${r.code}): ${r.err.trim()}`);
  return r;
}

export class OutsideHosts {
  readonly farNs: string;
  far: Proc | null = null;
  lan: Proc | null = null;

  private constructor(private readonly dev: DevWorld) {
    this.farNs = `${dev.world.prefix}-far`;
  }

  get world(): World {
    return this.dev.world;
  }

  /** Creates the far namespace and the LAN address and starts both HTTP stand-ins. */
  static async create(dev: DevWorld, bun: string): Promise<OutsideHosts> {
    const h = new OutsideHosts(dev);
    const { hub } = dev.world;
    try {
      await must(["ip", "netns", "add", h.farNs]);
      await must(["ip", "-n", h.farNs, "link", "set", "lo", "up"]);
      await must([
        "ip",
        "-n",
        hub,
        "link",
        "add",
        "to-far",
        "type",
        "veth",
        "peer",
        "name",
        "to-hub",
        "netns",
        h.farNs,
      ]);
      await must(["ip", "-n", hub, "addr", "add", "203.0.113.1/24", "dev", "to-far"]);
      await must(["ip", "-n", h.farNs, "addr", "add", `${FAR_ADDRESS}/24`, "dev", "to-hub"]);
      await must(["ip", "-n", hub, "link", "set", "to-far", "up"]);
      await must(["ip", "-n", h.farNs, "link", "set", "to-hub", "up"]);
      await must(["ip", "-n", h.farNs, "route", "add", "default", "via", "203.0.113.1"]);
      await must(["ip", "-n", hub, "addr", "add", `${LAN_HOST_ADDRESS}/24`, "dev", "to-client"]);
      const script = `table inet ${TABLE} {\n  chain input {\n    type filter hook input priority filter; policy accept;\n  }\n}\n`;
      await must(["ip", "netns", "exec", h.farNs, "nft", "-f", "-"], script);
      h.far = dev.start("far", h.farNs, [
        bun,
        join(ROOT, "devstack/resource.ts"),
        "--listen",
        "0.0.0.0:80",
        "--name",
        "far",
      ]);
      await h.far.out.next(/^listening/);
      h.lan = dev.start("lan", hub, [
        bun,
        join(ROOT, "devstack/resource.ts"),
        "--listen",
        `${LAN_HOST_ADDRESS}:80`,
        "--name",
        "lan",
      ]);
      await h.lan.out.next(/^listening/);
      return h;
    } catch (e) {
      await h.destroy();
      throw e;
    }
  }

  /** Starts counting packets that reach the far host from `source`. */
  async watch(source: string): Promise<void> {
    await inNs(this.farNs, ["nft", "add", "rule", "inet", TABLE, "input", "ip", "saddr", source, "counter"]);
  }

  /** Packets from `source` that reached the far host since watch(source). */
  async packetsFrom(source: string): Promise<number> {
    const out = await inNs(this.farNs, ["nft", "-j", "list", "chain", "inet", TABLE, "input"]);
    const items = (JSON.parse(out) as { nftables: Array<Record<string, unknown>> }).nftables;
    for (const item of items) {
      const rule = item.rule as { expr?: Array<Record<string, unknown>> } | undefined;
      if (!rule?.expr) continue;
      const text = JSON.stringify(rule.expr);
      if (!text.includes(`"${source}"`)) continue;
      const counter = rule.expr.find((e) => "counter" in e)?.counter as { packets: number } | undefined;
      return counter?.packets ?? 0;
    }
    throw new Error(`no watch rule for ${source}; call watch() first`);
  }

  /** HTTP GET from the client namespace; the body ("hello from far (you came from X)") or null. */
  fetch(address: string, timeoutMs = 1500): Promise<string | null> {
    return this.dev.fetchFromClient(address, timeoutMs);
  }

  /** The source address a host saw, or null when the request failed. */
  async sourceSeenBy(address: string, timeoutMs = 1500): Promise<string | null> {
    const body = await this.fetch(address, timeoutMs);
    return body ? (/you came from (\S+?)\)/.exec(body)?.[1] ?? null) : null;
  }

  /** Removes the far namespace (its processes are the DevWorld's, stopped by its destroy()). */
  async destroy(): Promise<void> {
    const pids = await capture(["ip", "netns", "pids", this.farNs]);
    for (const pid of pids.out.split(/\s+/).filter(Boolean)) {
      try {
        process.kill(Number(pid), "SIGKILL");
      } catch {}
    }
    await capture(["ip", "netns", "del", this.farNs]);
  }
}
