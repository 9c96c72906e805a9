// The devstack's namespaces with the test portal (tests/_support/test_portal.ts) in the hub instead
// of the devstack portal, and a plain wireguard-go peer in the gateway namespace standing in for a
// gateway: it forwards to the resource network and its key is told to the daemon by the test portal.
// The compiled firezoned runs in the client namespace. Used by the adversarial portal tests and by
// bench/routes.ts.
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { inNs, Lines } from "../../devstack/shared/netns.ts";
import { generateWgKeyPair, type WgKeyPair } from "../../devstack/shared/wgkey.ts";
import { DevWorld, type Proc } from "../../devstack/world.ts";
import { BUN, ensureBuilt, ROOT } from "./build.ts";

export const PEER_PORT = 51820;
export const PEER_TUNNEL_V4 = "100.64.0.1";
export const PEER_TUNNEL_V6 = "fd00:2021:1111::1";
export const CLIENT_V4 = "100.64.0.3";
export const CLIENT_V6 = "fd00:2021:1111::3";

export class PortalLab {
  readonly tun = `tfz${Math.random().toString(36).slice(2, 8)}`;
  readonly peerIf = `tpg${Math.random().toString(36).slice(2, 8)}`;
  readonly peerKeys: WgKeyPair = generateWgKeyPair();
  daemon: Proc | null = null;
  #portal: { proc: Bun.Subprocess<"pipe", "pipe", "pipe">; out: Lines; sent: number } | null = null;
  #peer: Bun.Subprocess | null = null;

  private constructor(readonly dev: DevWorld) {}

  static async create(): Promise<PortalLab> {
    ensureBuilt();
    const dev = await DevWorld.create(`fa${Math.random().toString(36).slice(2, 6)}`, {
      tmpPrefix: "fz-lab-",
      bun: BUN,
    });
    const lab = new PortalLab(dev);
    try {
      await dev.startResource("0.0.0.0:80");
      lab.#startPortal();
      await lab.#portal!.out.next(/^listening/);
      await lab.#startPeer();
      return lab;
    } catch (e) {
      await lab.destroy();
      throw e;
    }
  }

  get endpoint(): string {
    return `${this.dev.world.gatewayAddress}:${PEER_PORT}`;
  }

  #startPortal(): void {
    const proc = Bun.spawn(
      [
        "ip",
        "netns",
        "exec",
        this.dev.world.hub,
        BUN,
        join(ROOT, "tests/_support/test_portal.ts"),
        "--listen",
        `${this.dev.world.portalFromClient}:8080`,
      ],
      { stdin: "pipe", stdout: "pipe", stderr: "pipe" },
    );
    this.#portal = { proc, out: new Lines(proc.stdout), sent: 0 };
  }

  /** wireguard-go in the gateway namespace, routing the client pool to itself and forwarding. */
  async #startPeer(): Promise<void> {
    const w = this.dev.world;
    this.#peer = Bun.spawn(["ip", "netns", "exec", w.gateway, "wireguard-go", "-f", this.peerIf], {
      stdin: "ignore",
      stdout: "ignore",
      stderr: "pipe",
      env: { ...process.env, LOG_LEVEL: "error" },
    });
    const until = Date.now() + 10_000;
    while (!(await inNs(w.gateway, ["ip", "link", "show", this.peerIf]).catch(() => ""))) {
      if (Date.now() > until) throw new Error("wireguard-go did not create its device");
      await Bun.sleep(50);
    }
    const keyFile = join(this.dev.tmp, "peer.key");
    writeFileSync(keyFile, `${this.peerKeys.privateKey}\n`, { mode: 0o600 });
    await inNs(w.gateway, [
      "wg",
      "set",
      this.peerIf,
      "private-key",
      keyFile,
      "listen-port",
      String(PEER_PORT),
    ]);
    await inNs(w.gateway, ["ip", "addr", "add", `${PEER_TUNNEL_V4}/32`, "dev", this.peerIf]);
    await inNs(w.gateway, ["ip", "link", "set", this.peerIf, "up"]);
    await inNs(w.gateway, ["ip", "route", "add", "100.64.0.0/11", "dev", this.peerIf]);
    await inNs(w.gateway, ["sysctl", "-qw", "net.ipv4.ip_forward=1"]);
    await inNs(w.resource, ["ip", "route", "add", "100.64.0.0/11", "via", "172.31.0.1"]);
  }

  /** Lets the client with `publicKey` in (any address of the pool), as a gateway's allow_access would. */
  async allowClient(publicKey: string): Promise<void> {
    await inNs(this.dev.world.gateway, [
      "wg",
      "set",
      this.peerIf,
      "peer",
      publicKey,
      "allowed-ips",
      "100.64.0.0/11",
    ]);
  }

  /** Sends one command to the test portal and waits until it has acted on it. */
  async portal(cmd: Record<string, unknown>): Promise<void> {
    const p = this.#portal!;
    p.proc.stdin.write(`${JSON.stringify(cmd)}\n`);
    p.proc.stdin.flush();
    const n = ++p.sent;
    await p.out.next(new RegExp(`^ok ${n}$`), 30_000);
  }

  /** The public key of the next client to join. */
  async nextJoin(timeoutMs = 15_000): Promise<string> {
    return (await this.#portal!.out.next(/^joined /, timeoutMs)).slice("joined ".length);
  }

  portalLines(): string[] {
    return this.#portal?.out.all ?? [];
  }

  async startDaemon(env: Record<string, string> = {}): Promise<Proc> {
    this.daemon = await this.dev.startDaemon(this.tun, {
      FIREZONE_TOKEN_FILE: join(this.dev.tmp, "no-token"),
      FIREZONE_GROUP: "root",
      ...env,
    });
    return this.daemon;
  }

  /** Connection details for a resource through the wireguard-go peer. */
  details(
    resourceId: string,
    allowedIps: string[],
    over: Record<string, unknown> = {},
  ): Record<string, unknown> {
    return {
      resource_id: resourceId,
      site_id: "site-1",
      gateway_id: "gateway-1",
      gateway_public_key: this.peerKeys.publicKey,
      gateway_endpoint: this.endpoint,
      gateway_ipv4: PEER_TUNNEL_V4,
      gateway_ipv6: PEER_TUNNEL_V6,
      allowed_ips: allowedIps,
      ...over,
    };
  }

  async destroy(): Promise<void> {
    this.#portal?.proc.kill();
    this.#peer?.kill();
    await this.dev.destroy();
  }
}

export function initPayload(
  resources: unknown[],
  iface: Record<string, unknown> = { ipv4: CLIENT_V4, ipv6: CLIENT_V6, upstream_dns: [] },
): Record<string, unknown> {
  return {
    interface: iface,
    resources,
    account: { id: "account-1", slug: "acme", name: "Acme Inc" },
    actor: { id: "actor-1", name: "alice", type: "user" },
  };
}
