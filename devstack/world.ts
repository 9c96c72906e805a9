// The devstack world with its processes, as the demo, the end-to-end tests and the gateway test run
// it: the portal, an HTTP resource and a gateway in their namespaces, and the compiled firezoned in
// the client namespace, driven with firezonectl. destroy() stops them all and removes everything.
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type Captured, capture } from "./shared/capture.ts";
import { createWorld, destroyWorld, inNs, Lines, spawnInNs, type World } from "./shared/netns.ts";

export const ROOT = join(import.meta.dir, "..");
export const FIREZONED = join(ROOT, "dist/firezoned");
export const FIREZONECTL = join(ROOT, "dist/firezonectl");
/** A second host on the resource network, for a resource that no policy covers. */
export const SECOND_RESOURCE_ADDRESS = "172.31.0.11";

/** A process started in the world, with its output lines kept for waiting and for logs. */
export interface Proc {
  name: string;
  proc: Bun.Subprocess;
  out: Lines;
  err: Lines;
}

export interface DevWorldOptions {
  /** Where the temp dir (portal database, gateway state, daemon socket and logs) goes: a name prefix. */
  tmpPrefix?: string;
  /** The bun that runs the portal, gateway and resource. Default: the one running this. */
  bun?: string;
  /** Sees every stderr line of every process (the demo's --verbose). */
  echo?: (name: string, line: string) => void;
  /** Told when a process ends, whoever ended it. */
  onExit?: (name: string, code: number) => void;
}

export class DevWorld {
  readonly procs: Proc[] = [];
  readonly db: string;
  /** firezoned's IPC socket. */
  readonly socket: string;
  readonly #bun: string;
  readonly #options: DevWorldOptions;

  private constructor(
    readonly world: World,
    readonly tmp: string,
    options: DevWorldOptions,
  ) {
    this.db = join(tmp, "portal.sqlite");
    this.socket = join(tmp, "run", "ipc.sock");
    this.#bun = options.bun ?? process.execPath;
    this.#options = options;
  }

  /** Creates a temp dir and the namespaces (names start with `prefix`), with the second resource host. */
  static async create(prefix: string, options: DevWorldOptions = {}): Promise<DevWorld> {
    const tmp = mkdtempSync(join(tmpdir(), options.tmpPrefix ?? "fz-world-"));
    let world: World | undefined;
    try {
      world = await createWorld(prefix);
      await inNs(world.resource, ["ip", "addr", "add", `${SECOND_RESOURCE_ADDRESS}/24`, "dev", "to-gateway"]);
      return new DevWorld(world, tmp, options);
    } catch (e) {
      if (world) await destroyWorld(world);
      rmSync(tmp, { recursive: true, force: true });
      throw e;
    }
  }

  /** Starts a process in namespace `ns`; destroy() stops it. */
  start(name: string, ns: string, cmd: string[], env: Record<string, string> = {}): Proc {
    const proc = spawnInNs(ns, cmd, { env });
    const echo = this.#options.echo;
    const p: Proc = {
      name,
      proc,
      out: new Lines(proc.stdout as ReadableStream<Uint8Array>),
      err: new Lines(proc.stderr as ReadableStream<Uint8Array>, echo && ((line) => echo(name, line))),
    };
    this.procs.push(p);
    const onExit = this.#options.onExit;
    if (onExit) void proc.exited.then((code) => onExit(name, code));
    return p;
  }

  /**
   * The portal in the hub namespace on port 8080, serving this world's database. A slow machine (an
   * emulated guest compiling the sources on first start) passes a longer `readyTimeoutMs`.
   */
  async startPortal(readyTimeoutMs = 10_000): Promise<Proc> {
    const p = this.start("portal", this.world.hub, [
      this.#bun,
      join(ROOT, "devstack/portal/main.ts"),
      "--db",
      this.db,
      "--listen",
      "0.0.0.0:8080",
    ]);
    await p.out.next(/^listening/, readyTimeoutMs);
    return p;
  }

  /** The HTTP resource in the resource namespace (dual-stack by default). */
  async startResource(listen = "[::]:80", readyTimeoutMs = 10_000): Promise<Proc> {
    const p = this.start("resource", this.world.resource, [
      this.#bun,
      join(ROOT, "devstack/resource.ts"),
      "--listen",
      listen,
    ]);
    await p.out.next(/^listening/, readyTimeoutMs);
    return p;
  }

  /** A gateway of the site `token` belongs to, on WireGuard device `iface`; resolves once it is ready. */
  async startGateway(token: string, iface: string, readyTimeoutMs = 20_000): Promise<Proc> {
    const p = this.start(
      "gateway",
      this.world.gateway,
      [
        this.#bun,
        join(ROOT, "devstack/gateway/main.ts"),
        "--portal",
        `ws://${this.world.portalFromGateway}:8080`,
        "--endpoint",
        `${this.world.gatewayAddress}:51820`,
        "--state-dir",
        join(this.tmp, "gateway"),
        "--interface",
        iface,
      ],
      { FIREZONE_GATEWAY_TOKEN: token },
    );
    await p.out.next(/^ready/, readyTimeoutMs);
    return p;
  }

  /** dist/firezoned in the client namespace with its dirs in the temp dir; resolves once it listens. */
  async startDaemon(tun: string, env: Record<string, string> = {}): Promise<Proc> {
    mkdirSync(join(this.tmp, "run"), { recursive: true });
    const p = this.start("firezoned", this.world.client, [FIREZONED], {
      // The devstack portal is plaintext; the daemon accepts it only with this explicit opt-in.
      FIREZONE_API_URL: `ws://${this.world.portalFromClient}:8080`,
      FIREZONE_ALLOW_INSECURE_PORTAL: "1",
      // Never the host's own configuration file.
      FIREZONE_CONFIG: join(this.tmp, "firezoned.conf"),
      FIREZONE_SOCKET: this.socket,
      FIREZONE_STATE_DIR: join(this.tmp, "state"),
      FIREZONE_LOG_DIR: join(this.tmp, "log"),
      FIREZONE_TUN_NAME: tun,
      // The namespace shares the host's /etc: the stub runs, the host's resolver is left alone.
      FIREZONE_DNS_CONTROL: "off",
      ...env,
    });
    await p.err.next(/listening/);
    return p;
  }

  /** Stops one process and waits for it; nothing happens if it already ended. */
  static async stop(p: Proc | null, signal: "SIGTERM" | "SIGKILL" = "SIGTERM"): Promise<void> {
    if (!p || p.proc.exitCode !== null) return;
    p.proc.kill(signal);
    await p.proc.exited;
  }

  /** firezonectl against this world's daemon; `stdin` is fed to the command. */
  ctl(args: string[], stdin?: string): Promise<Captured> {
    return capture([FIREZONECTL, ...args], {
      env: { FIREZONE_SOCKET: this.socket, PATH: "/usr/bin:/bin" },
      stdin,
    });
  }

  async status(): Promise<{
    state: string;
    lastError?: string;
    resourceCount: number;
    addresses?: string[];
  }> {
    const r = await this.ctl(["status", "--json"]);
    if (r.code !== 0) throw new Error(`status failed (${r.code}): ${r.err}`);
    return JSON.parse(r.out);
  }

  async waitForState(state: string, timeoutMs: number): Promise<{ state: string; lastError?: string }> {
    const until = Date.now() + timeoutMs;
    let st = await this.status();
    while (st.state !== state) {
      if (Date.now() > until)
        throw new Error(`state is '${st.state}' (${st.lastError ?? "no error"}), not '${state}'`);
      await Bun.sleep(50);
      st = await this.status();
    }
    return st;
  }

  /** One TCP connection + HTTP GET from the client namespace; null when it fails within `timeoutMs`. */
  async fetchFromClient(address: string, timeoutMs = 1500): Promise<string | null> {
    const p = Bun.spawn(
      [
        "ip",
        "netns",
        "exec",
        this.world.client,
        "curl",
        "-s",
        "--max-time",
        String(timeoutMs / 1000),
        `http://${address}/`,
      ],
      { stdout: "pipe", stderr: "ignore" },
    );
    const [out, code] = await Promise.all([new Response(p.stdout).text(), p.exited]);
    return code === 0 ? out : null;
  }

  async waitForFetch(address: string, timeoutMs: number): Promise<string> {
    const until = Date.now() + timeoutMs;
    for (;;) {
      const body = await this.fetchFromClient(address, 1000);
      if (body !== null) return body;
      if (Date.now() > until)
        throw new Error(`${address} did not answer through the tunnel within ${timeoutMs} ms`);
      await Bun.sleep(100);
    }
  }

  /** `ip -j` output from the client namespace. */
  async clientIp(args: string[]): Promise<unknown[]> {
    const out = await inNs(this.world.client, ["ip", "-j", ...args]).catch(() => "[]");
    return JSON.parse(out || "[]");
  }

  /**
   * Stops firezoned first (so it takes its tunnel down and signs out while the portal still runs),
   * then the others newest first, each given 5 s after SIGTERM; then removes the namespaces and temp dir.
   */
  async destroy(): Promise<void> {
    const daemonFirst = (p: Proc) => (p.name === "firezoned" ? 0 : 1);
    const order = [...this.procs].reverse().sort((a, b) => daemonFirst(a) - daemonFirst(b));
    for (const { proc } of order) {
      if (proc.exitCode !== null) continue;
      proc.kill("SIGTERM");
      await Promise.race([proc.exited, Bun.sleep(5000)]);
      if (proc.exitCode === null) proc.kill("SIGKILL");
    }
    await destroyWorld(this.world);
    rmSync(this.tmp, { recursive: true, force: true });
  }
}

/** Runs the portal's admin CLI on `db` as its own process (as a person would); returns its JSON output. */
export async function admin(db: string, ...args: string[]): Promise<Record<string, unknown>> {
  const r = await capture([process.execPath, join(ROOT, "devstack/portal/admin.ts"), ...args, "--db", db]);
  if (r.code !== 0) throw new Error(`admin ${args.join(" ")} failed (${r.code}): ${r.err}`);
  return JSON.parse(r.out) as Record<string, unknown>;
}
