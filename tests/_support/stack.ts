// The whole world for end-to-end tests and benchmarks: the devstack portal, a gateway and an HTTP
// resource in their own namespaces, and the compiled firezoned in a client namespace, seeded with
// account acme (user alice, service account ci-bot, site hq, resource web with a policy for
// everyone, resource secret without one).
import { join } from "node:path";
import { Store } from "../../devstack/portal/store.ts";
import type { World } from "../../devstack/shared/netns.ts";
import { DevWorld, type Proc, SECOND_RESOURCE_ADDRESS } from "../../devstack/world.ts";
import { BUN, ensureBuilt } from "./build.ts";

export interface Seed {
  accountId: string;
  aliceId: string;
  botId: string;
  siteId: string;
  everyone: string;
  web: { id: string; address: string };
  secret: { id: string; address: string };
}

export class Stack {
  readonly tun = `tfz${Math.random().toString(36).slice(2, 8)}`;
  seed!: Seed;
  portal: Proc | null = null;
  gateway: Proc | null = null;
  daemon: Proc | null = null;
  readonly #dev: DevWorld;
  #gatewayToken = "";

  private constructor(dev: DevWorld) {
    this.#dev = dev;
  }

  static async create(): Promise<Stack> {
    ensureBuilt();
    const dev = await DevWorld.create(`fz${Math.random().toString(36).slice(2, 6)}`, {
      tmpPrefix: "fz-e2e-",
      bun: BUN,
    });
    const s = new Stack(dev);
    try {
      s.#seedStore();
      await dev.startResource("0.0.0.0:80");
      await s.startPortal();
      await s.startGateway();
      await s.startDaemon();
      return s;
    } catch (e) {
      await s.destroy();
      throw e;
    }
  }

  /** The devstack world underneath, for tests that start more processes in it. */
  get dev(): DevWorld {
    return this.#dev;
  }

  get world(): World {
    return this.#dev.world;
  }

  get tmp(): string {
    return this.#dev.tmp;
  }

  get db(): string {
    return this.#dev.db;
  }

  get socket(): string {
    return this.#dev.socket;
  }

  #seedStore(): void {
    const webAddress = this.world.resourceAddress;
    const store = new Store(this.db);
    const account = store.createAccount("acme", "Acme Inc");
    const alice = store.createActor(account.id, "alice", { password: "alice-password" });
    const bot = store.createActor(account.id, "ci-bot", { type: "service_account" });
    const site = store.createSite(account.id, "hq");
    const web = store.createResource(account.id, site.id, {
      name: "web",
      type: "ip",
      address: webAddress,
    });
    const secret = store.createResource(account.id, site.id, {
      name: "secret",
      type: "ip",
      address: SECOND_RESOURCE_ADDRESS,
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
      web: { id: web.id, address: webAddress },
      secret: { id: secret.id, address: SECOND_RESOURCE_ADDRESS },
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

  async startPortal(): Promise<void> {
    this.portal = await this.#dev.startPortal();
  }

  async startGateway(): Promise<void> {
    this.gateway = await this.#dev.startGateway(this.#gatewayToken, `g${this.tun}`.slice(0, 15));
  }

  async startDaemon(env: Record<string, string> = {}): Promise<void> {
    this.daemon = await this.#dev.startDaemon(this.tun, {
      FIREZONE_TOKEN_FILE: join(this.tmp, "no-token"),
      FIREZONE_GROUP: "root",
      ...env,
    });
  }

  static kill(p: Proc | null, signal: "SIGTERM" | "SIGKILL" = "SIGTERM"): Promise<void> {
    return DevWorld.stop(p, signal);
  }

  /** firezonectl against this stack's daemon; `stdin` is fed to the command. */
  ctl(args: string[], stdin?: string): Promise<{ code: number; out: string; err: string }> {
    return this.#dev.ctl(args, stdin);
  }

  status(): ReturnType<DevWorld["status"]> {
    return this.#dev.status();
  }

  waitForState(state: string, timeoutMs: number): Promise<{ state: string; lastError?: string }> {
    return this.#dev.waitForState(state, timeoutMs);
  }

  /** One TCP connection + HTTP GET from the client namespace; null when it fails within `timeoutMs`. */
  fetchFromClient(address: string, timeoutMs = 1500): Promise<string | null> {
    return this.#dev.fetchFromClient(address, timeoutMs);
  }

  waitForFetch(address: string, timeoutMs: number): Promise<string> {
    return this.#dev.waitForFetch(address, timeoutMs);
  }

  /** `ip -j` output from the client namespace. */
  clientIp(args: string[]): Promise<unknown[]> {
    return this.#dev.clientIp(args);
  }

  /** Stops everything; a process that had died on its own is reported with its last lines first. */
  destroy(): Promise<void> {
    for (const [name, p] of [
      ["portal", this.portal],
      ["gateway", this.gateway],
      ["firezoned", this.daemon],
    ] as const) {
      if (p && p.proc.exitCode !== null) {
        const tail = [...p.out.all, ...p.err.all].slice(-40).join("\n");
        console.error(`${name} had exited by itself (code ${p.proc.exitCode}); its last lines:\n${tail}`);
      }
    }
    return this.#dev.destroy();
  }
}
