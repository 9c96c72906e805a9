// The whole world for end-to-end tests and benchmarks: the devstack portal, a gateway and an HTTP
// resource in their own namespaces, and the compiled firezoned in a client namespace.
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Store } from "../../devstack/portal/store.ts";
import {
  createWorld,
  destroyWorld,
  inNs,
  Lines,
  spawnInNs,
  type World,
} from "../../devstack/shared/netns.ts";
import { BUN, ensureBuilt, FIREZONECTL, FIREZONED, ROOT } from "./build.ts";

export interface Seed {
  accountId: string;
  aliceId: string;
  botId: string;
  siteId: string;
  everyone: string;
  web: { id: string; address: string };
  secret: { id: string; address: string };
}

type Proc = { proc: Bun.Subprocess; out: Lines; err: Lines };

export class Stack {
  readonly tmp = mkdtempSync(join(tmpdir(), "fz-e2e-"));
  readonly db = join(this.tmp, "portal.sqlite");
  readonly socket = join(this.tmp, "run", "ipc.sock");
  readonly tun = `tfz${Math.random().toString(36).slice(2, 8)}`;
  world!: World;
  seed!: Seed;
  portal: Proc | null = null;
  gateway: Proc | null = null;
  daemon: Proc | null = null;
  #resource: Proc | null = null;
  #gatewayToken = "";

  static async create(): Promise<Stack> {
    ensureBuilt();
    const s = new Stack();
    try {
      s.world = await createWorld(`fz${Math.random().toString(36).slice(2, 6)}`);
      await inNs(s.world.resource, ["ip", "addr", "add", "172.31.0.11/24", "dev", "to-gateway"]);
      s.#seedStore();
      s.#resource = s.#start(s.world.resource, [
        BUN,
        join(ROOT, "devstack/resource.ts"),
        "--listen",
        "0.0.0.0:80",
      ]);
      await s.#resource.out.next(/^listening/);
      await s.startPortal();
      await s.startGateway();
      await s.startDaemon();
      return s;
    } catch (e) {
      await s.destroy();
      throw e;
    }
  }

  #seedStore(): void {
    const store = new Store(this.db);
    const account = store.createAccount("acme", "Acme Inc");
    const alice = store.createActor(account.id, "alice", { password: "alice-password" });
    const bot = store.createActor(account.id, "ci-bot", { type: "service_account" });
    const site = store.createSite(account.id, "hq");
    const web = store.createResource(account.id, site.id, {
      name: "web",
      type: "ip",
      address: "172.31.0.10",
    });
    const secret = store.createResource(account.id, site.id, {
      name: "secret",
      type: "ip",
      address: "172.31.0.11",
    });
    const everyone = store.group(account.id, "everyone")!;
    store.createPolicy(account.id, everyone, web.id);
    this.#gatewayToken = store.createGatewayToken(site.id).token;
    this.seed = {
      accountId: account.id,
      aliceId: alice.id,
      botId: bot.id,
      siteId: site.id,
      everyone,
      web: { id: web.id, address: "172.31.0.10" },
      secret: { id: secret.id, address: "172.31.0.11" },
    };
    store.close();
  }

  /** Runs `fn` on the portal's store; the running portal notices the commit within ~100 ms. */
  store<T>(fn: (store: Store) => T): T {
    const store = new Store(this.db);
    try {
      return fn(store);
    } finally {
      store.close();
    }
  }

  #start(ns: string, cmd: string[], env: Record<string, string> = {}): Proc {
    const proc = spawnInNs(ns, cmd, { env });
    return {
      proc,
      out: new Lines(proc.stdout as ReadableStream<Uint8Array>),
      err: new Lines(proc.stderr as ReadableStream<Uint8Array>),
    };
  }

  async startPortal(): Promise<void> {
    this.portal = this.#start(this.world.hub, [
      BUN,
      join(ROOT, "devstack/portal/main.ts"),
      "--db",
      this.db,
      "--listen",
      "0.0.0.0:8080",
    ]);
    await this.portal.out.next(/^listening/);
  }

  async startGateway(): Promise<void> {
    this.gateway = this.#start(
      this.world.gateway,
      [
        BUN,
        join(ROOT, "devstack/gateway/main.ts"),
        "--portal",
        `ws://${this.world.portalFromGateway}:8080`,
        "--endpoint",
        `${this.world.gatewayAddress}:51820`,
        "--state-dir",
        join(this.tmp, "gateway"),
        "--interface",
        `g${this.tun}`.slice(0, 15),
      ],
      { FIREZONE_GATEWAY_TOKEN: this.#gatewayToken },
    );
    await this.gateway.out.next(/^ready/, 20_000);
  }

  async startDaemon(env: Record<string, string> = {}): Promise<void> {
    mkdirSync(join(this.tmp, "run"), { recursive: true });
    this.daemon = this.#start(this.world.client, [FIREZONED], {
      FIREZONE_API_URL: `ws://${this.world.portalFromClient}:8080`,
      FIREZONE_SOCKET: this.socket,
      FIREZONE_STATE_DIR: join(this.tmp, "state"),
      FIREZONE_LOG_DIR: join(this.tmp, "log"),
      FIREZONE_TOKEN_FILE: join(this.tmp, "no-token"),
      FIREZONE_TUN_NAME: this.tun,
      FIREZONE_GROUP: "root",
      ...env,
    });
    await this.daemon.err.next(/listening/);
  }

  static async kill(p: Proc | null, signal: "SIGTERM" | "SIGKILL" = "SIGTERM"): Promise<void> {
    if (!p || p.proc.exitCode !== null) return;
    p.proc.kill(signal);
    await p.proc.exited;
  }

  /** firezonectl against this stack's daemon; `stdin` is fed to the command. */
  async ctl(args: string[], stdin?: string): Promise<{ code: number; out: string; err: string }> {
    const p = Bun.spawn([FIREZONECTL, ...args], {
      env: { FIREZONE_SOCKET: this.socket, PATH: "/usr/bin:/bin" },
      stdin: stdin === undefined ? "ignore" : new TextEncoder().encode(stdin),
      stdout: "pipe",
      stderr: "pipe",
    });
    const [out, err, code] = await Promise.all([
      new Response(p.stdout).text(),
      new Response(p.stderr).text(),
      p.exited,
    ]);
    return { code, out, err };
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

  async destroy(): Promise<void> {
    await Stack.kill(this.daemon);
    await Stack.kill(this.gateway);
    await Stack.kill(this.portal);
    await Stack.kill(this.#resource);
    if (this.world) await destroyWorld(this.world);
    rmSync(this.tmp, { recursive: true, force: true });
  }
}
