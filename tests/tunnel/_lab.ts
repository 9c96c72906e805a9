// Two network namespaces joined by a veth pair: "client" runs the project's Tunnel (in a child
// process, as firezoned would own it); "gateway" runs a WireGuard peer set up only with the standard
// `ip` and `wg` tools and wireguard-go, so our side is checked against an independent implementation.
import { writeFileSync } from "node:fs";
import { resolve } from "node:path";
import type { Subprocess } from "bun";

export const ROOT = resolve(import.meta.dir, "../..");
/** The bun running the tests (node_modules/.bin/bun under `bun test`). */
export const BUN = process.execPath;
/** Inside a `bun build --compile`d binary (kernel_smoke in the VM) there are no .ts files to run. */
const COMPILED = import.meta.path.includes("$bunfs");

export type Fixture = "tunnel_host" | "tcp_sink" | "tcp_send";

/**
 * The command that runs a fixture: `bun fixtures/<name>.ts`, or in a compiled binary the binary
 * itself with --fz-role=<name> (it must dispatch on that flag, as kernel_smoke.ts does).
 */
export function fixtureCommand(name: Fixture): string[] {
  return COMPILED
    ? [process.execPath, `--fz-role=${name}`]
    : [BUN, resolve(import.meta.dir, `fixtures/${name}.ts`)];
}

export function sh(cmd: string[], input?: string): string {
  const r = Bun.spawnSync(cmd, {
    stdout: "pipe",
    stderr: "pipe",
    stdin: input === undefined ? "ignore" : Buffer.from(input),
  });
  if (r.exitCode !== 0) throw new Error(`${cmd.join(" ")} failed (${r.exitCode}): ${r.stderr.toString()}`);
  return r.stdout.toString();
}

export function tryRun(cmd: string[]): { code: number; out: string; err: string } {
  const r = Bun.spawnSync(cmd, { stdout: "pipe", stderr: "pipe", stdin: "ignore" });
  return { code: r.exitCode ?? -1, out: r.stdout.toString(), err: r.stderr.toString() };
}

const rand = () => Math.random().toString(36).slice(2, 7);

export interface KeyPair {
  privateKey: string;
  publicKey: string;
}
export function wgKeyPair(): KeyPair {
  const privateKey = sh(["wg", "genkey"]).trim();
  return { privateKey, publicKey: sh(["wg", "pubkey"], `${privateKey}\n`).trim() };
}

export const CLIENT_V4 = "100.64.0.2/32";
export const CLIENT_V6 = "fd00:2021:1111::2/128";
export const GATEWAY_UNDERLAY = "192.0.2.2";
export const RESOURCE_V4 = "10.99.0.1";
export const RESOURCE_V6 = "fd99::1";

/** The two namespaces, the gateway's WireGuard interface, and a resource address behind it. */
export class Lab {
  readonly id = rand();
  readonly client = `fzc-${this.id}`;
  readonly gateway = `fzg-${this.id}`;
  readonly gwIf = `wg-gw-${this.id}`;
  readonly tunName = `tun-fz${this.id}`;
  readonly clientKeys = wgKeyPair();
  readonly gatewayKeys = wgKeyPair();
  readonly hosts: TunnelHost[] = [];

  inClient(cmd: string[]): string {
    return sh(["ip", "netns", "exec", this.client, ...cmd]);
  }
  inGateway(cmd: string[]): string {
    return sh(["ip", "netns", "exec", this.gateway, ...cmd]);
  }

  /** `gateway`: which WireGuard the gateway namespace runs, both configured with `ip` and `wg`. */
  setUp(gateway: "wireguard-go" | "kernel" = "wireguard-go"): this {
    sh(["ip", "netns", "add", this.client]);
    sh(["ip", "netns", "add", this.gateway]);
    const vc = `vc-${this.id}`;
    const vg = `vg-${this.id}`;
    sh([
      "ip",
      "link",
      "add",
      vc,
      "netns",
      this.client,
      "type",
      "veth",
      "peer",
      "name",
      vg,
      "netns",
      this.gateway,
    ]);
    this.inClient(["ip", "link", "set", "lo", "up"]);
    this.inClient(["ip", "addr", "add", "192.0.2.1/24", "dev", vc]);
    this.inClient(["ip", "link", "set", vc, "up"]);
    this.inGateway(["ip", "link", "set", "lo", "up"]);
    this.inGateway(["ip", "addr", "add", `${GATEWAY_UNDERLAY}/24`, "dev", vg]);
    this.inGateway(["ip", "link", "set", vg, "up"]);
    this.inGateway(["ip", "addr", "add", `${RESOURCE_V4}/32`, "dev", "lo"]);
    this.inGateway(["ip", "addr", "add", `${RESOURCE_V6}/128`, "dev", "lo"]);
    // The gateway: wireguard-go daemonizes itself; everything else is `ip` and `wg`.
    if (gateway === "kernel") this.inGateway(["ip", "link", "add", this.gwIf, "type", "wireguard"]);
    else this.inGateway(["wireguard-go", this.gwIf]);
    const key = `/tmp/${this.gwIf}.key`;
    writeFileSync(key, `${this.gatewayKeys.privateKey}\n`, { mode: 0o600 });
    this.inGateway(["wg", "set", this.gwIf, "private-key", key, "listen-port", "51820"]);
    sh(["rm", "-f", key]);
    this.inGateway([
      "wg",
      "set",
      this.gwIf,
      "peer",
      this.clientKeys.publicKey,
      "allowed-ips",
      `${CLIENT_V4},${CLIENT_V6}`,
    ]);
    this.inGateway(["ip", "addr", "add", "100.64.0.1/32", "dev", this.gwIf]);
    this.inGateway(["ip", "link", "set", this.gwIf, "mtu", "1280", "up"]);
    this.inGateway(["ip", "route", "add", CLIENT_V4, "dev", this.gwIf]);
    this.inGateway(["ip", "-6", "route", "add", CLIENT_V6, "dev", this.gwIf]);
    return this;
  }

  /** The peer entry the client gives its Tunnel for this gateway. */
  gatewayPeer(allowedIps = [`${RESOURCE_V4}/32`, `${RESOURCE_V6}/128`]) {
    return {
      publicKey: this.gatewayKeys.publicKey,
      endpoint: `${GATEWAY_UNDERLAY}:51820`,
      allowedIps,
      persistentKeepalive: 25,
    };
  }

  async startHost(env: Record<string, string> = {}): Promise<TunnelHost> {
    const host = await TunnelHost.start(this.client, { TUN_NAME: this.tunName, ...env });
    this.hosts.push(host);
    return host;
  }

  /** Removes everything, even after a failed test: hosts, gateway wireguard-go, both namespaces. */
  async tearDown(): Promise<void> {
    for (const h of this.hosts) h.proc.kill("SIGKILL");
    await Promise.all(this.hosts.map((h) => h.proc.exited));
    for (const ns of [this.client, this.gateway]) {
      // Processes still in the namespace (wireguard-go) would keep its devices alive.
      const pids = tryRun(["ip", "netns", "pids", ns]).out.split(/\s+/).filter(Boolean);
      for (const pid of pids) tryRun(["kill", "-9", pid]);
      tryRun(["ip", "netns", "del", ns]);
    }
    for (const sock of [this.gwIf, this.tunName]) tryRun(["rm", "-f", `/var/run/wireguard/${sock}.sock`]);
  }
}

type Reply = { id: number; ok: boolean; result?: unknown; error?: string; errorClass?: string };

/** A child `bun` process that owns a Tunnel inside a namespace (tests/tunnel/fixtures/tunnel_host.ts). */
export class TunnelHost {
  readonly events: Record<string, unknown>[] = [];
  stderr = "";
  #pending = new Map<number, (r: Reply) => void>();
  #id = 0;

  private constructor(readonly proc: Subprocess<"pipe", "pipe", "pipe">) {}

  static async start(ns: string, env: Record<string, string>): Promise<TunnelHost> {
    const proc = Bun.spawn(["ip", "netns", "exec", ns, ...fixtureCommand("tunnel_host")], {
      stdin: "pipe",
      stdout: "pipe",
      stderr: "pipe",
      env: { PATH: process.env.PATH ?? "/usr/bin:/bin", ...env },
    });
    const host = new TunnelHost(proc);
    let ready: () => void = () => {};
    const readyP = new Promise<void>((r) => {
      ready = r;
    });
    void (async () => {
      let buf = "";
      for await (const chunk of proc.stdout) {
        buf += new TextDecoder().decode(chunk);
        for (let nl = buf.indexOf("\n"); nl >= 0; nl = buf.indexOf("\n")) {
          const msg = JSON.parse(buf.slice(0, nl));
          buf = buf.slice(nl + 1);
          if (msg.ready) ready();
          else if (msg.event) host.events.push(msg.event);
          else host.#pending.get(msg.id)?.(msg);
        }
      }
    })();
    void (async () => {
      for await (const chunk of proc.stderr) host.stderr += new TextDecoder().decode(chunk);
    })();
    await Promise.race([
      readyP,
      proc.exited.then((c) => Promise.reject(new Error(`tunnel host exited ${c}: ${host.stderr}`))),
    ]);
    return host;
  }

  /** Calls a Tunnel method in the child; rejects with the child's error message. */
  async call<T = unknown>(method: string, ...args: unknown[]): Promise<T> {
    const id = ++this.#id;
    const reply = new Promise<Reply>((r) => this.#pending.set(id, r));
    this.proc.stdin.write(`${JSON.stringify({ id, method, args })}\n`);
    this.proc.stdin.flush();
    const r = await reply;
    if (!r.ok) throw Object.assign(new Error(r.error), { errorClass: r.errorClass });
    return r.result as T;
  }
}

/** Runs `cmd` inside `ns` asynchronously, collecting its output. */
export async function runIn(ns: string, cmd: string[], env: Record<string, string> = {}) {
  const p = Bun.spawn(["ip", "netns", "exec", ns, ...cmd], {
    stdout: "pipe",
    stderr: "pipe",
    env: { PATH: process.env.PATH ?? "/usr/bin:/bin", ...env },
  });
  const [out, err, code] = await Promise.all([
    new Response(p.stdout).text(),
    new Response(p.stderr).text(),
    p.exited,
  ]);
  return { out, err, code };
}

/** Sends `mib` MiB over TCP from the client namespace to the resource; both SHA-256 lines. */
export async function transferThroughTunnel(
  lab: Lab,
  mib: number,
): Promise<{ sent: string; received: string; code: number }> {
  const env = { PATH: process.env.PATH ?? "/usr/bin:/bin", PORT: "5001", HOST: RESOURCE_V4 };
  const sink = Bun.spawn(["ip", "netns", "exec", lab.gateway, ...fixtureCommand("tcp_sink")], {
    stdout: "pipe",
    env,
  });
  const reader = sink.stdout.getReader();
  let received = new TextDecoder().decode((await reader.read()).value);
  if (!received.includes("listening")) throw new Error(`the TCP sink did not start: ${received}`);
  received = "";
  const sent = await runIn(lab.client, fixtureCommand("tcp_send"), { ...env, MIB: String(mib) });
  for (let r = await reader.read(); !r.done; r = await reader.read())
    received += new TextDecoder().decode(r.value);
  await sink.exited;
  return { sent: sent.out.trim(), received: received.trim(), code: sent.code };
}
