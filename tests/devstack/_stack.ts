// The whole stack for end-to-end tests, as the demo builds it: namespaces, the devstack portal, a
// gateway, an HTTP resource, and the compiled firezoned in the client namespace, each a real
// process that a test can stop, kill or restart.
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
import { ensureBuilt, FIREZONECTL, FIREZONED, ROOT } from "../_support/build.ts";

const BUN = process.execPath;
const verbose = process.env.FZ_TEST_VERBOSE === "1";

export interface Seeded {
  aliceToken: string;
  aliceTokenId: string;
  gatewayToken: string;
  accountId: string;
  siteId: string;
}

export class Stack {
  readonly world: World;
  readonly dir: string;
  readonly db: string;
  readonly socket: string;
  readonly tun: string;
  readonly seeded: Seeded;
  portal: Bun.Subprocess | undefined;
  gateway: Bun.Subprocess | undefined;
  daemon: Bun.Subprocess | undefined;
  #resource: Bun.Subprocess | undefined;
  #tag: string;

  private constructor(world: World, dir: string, seeded: Seeded, tag: string) {
    this.world = world;
    this.dir = dir;
    this.db = join(dir, "portal.sqlite");
    this.socket = join(dir, "run", "ipc.sock");
    this.tun = `tfz${tag}`;
    this.seeded = seeded;
    this.#tag = tag;
  }

  /**
   * acme: user alice (group eng) with a token, site hq with resources web (172.31.0.10, policy
   * eng) and secret (172.31.0.11, no policy); portal, resource and gateway running.
   */
  static async start(tag: string): Promise<Stack> {
    ensureBuilt();
    const dir = mkdtempSync(join(tmpdir(), "fz-e2e-"));
    mkdirSync(join(dir, "run"), { recursive: true });
    const world = await createWorld(`fze${tag}`);
    await inNs(world.resource, ["ip", "addr", "add", "172.31.0.11/24", "dev", "to-gateway"]);
    const store = new Store(join(dir, "portal.sqlite"));
    const account = store.createAccount("acme");
    const alice = store.createActor(account.id, "alice", { groups: ["eng"] });
    const site = store.createSite(account.id, "hq");
    const web = store.createResource(account.id, site.id, {
      name: "web",
      type: "ip",
      address: "172.31.0.10",
    });
    store.createResource(account.id, site.id, { name: "secret", type: "ip", address: "172.31.0.11" });
    store.createPolicy(account.id, store.group(account.id, "eng")!, web.id);
    const t = store.createClientToken(alice.id);
    const seeded = {
      aliceToken: t.token,
      aliceTokenId: t.id,
      gatewayToken: store.createGatewayToken(site.id).token,
      accountId: account.id,
      siteId: site.id,
    };
    store.close();
    const stack = new Stack(world, dir, seeded, tag);
    try {
      await stack.startPortal();
      stack.#resource = spawnInNs(world.resource, [
        BUN,
        join(ROOT, "devstack/resource.ts"),
        "--listen",
        "0.0.0.0:80",
      ]);
      await new Lines(stack.#resource.stdout as ReadableStream<Uint8Array>).next(/^listening/);
      await stack.startGateway();
    } catch (e) {
      await stack.destroy();
      throw e;
    }
    return stack;
  }

  #watch(name: string, proc: Bun.Subprocess): Lines {
    new Lines(
      proc.stderr as ReadableStream<Uint8Array>,
      verbose ? (l) => console.error(`[${name}] ${l}`) : undefined,
    );
    return new Lines(
      proc.stdout as ReadableStream<Uint8Array>,
      verbose ? (l) => console.error(`[${name}] ${l}`) : undefined,
    );
  }

  async startPortal(): Promise<void> {
    this.portal = spawnInNs(this.world.hub, [
      BUN,
      join(ROOT, "devstack/portal/main.ts"),
      "--db",
      this.db,
      "--listen",
      "0.0.0.0:8080",
    ]);
    await this.#watch("portal", this.portal).next(/^listening/);
  }

  async stopPortal(): Promise<void> {
    this.portal?.kill("SIGTERM");
    await this.portal?.exited;
    this.portal = undefined;
  }

  async startGateway(): Promise<void> {
    this.gateway = spawnInNs(
      this.world.gateway,
      [
        BUN,
        join(ROOT, "devstack/gateway/main.ts"),
        "--portal",
        `ws://${this.world.portalFromGateway}:8080`,
        "--endpoint",
        `${this.world.gatewayAddress}:51820`,
        "--state-dir",
        join(this.dir, "gateway"),
        "--interface",
        `gfz${this.#tag}`,
      ],
      { env: { FIREZONE_GATEWAY_TOKEN: this.seeded.gatewayToken } },
    );
    await this.#watch("gateway", this.gateway).next(/^ready/, 20_000);
  }

  async killGateway(): Promise<void> {
    this.gateway?.kill("SIGKILL");
    await this.gateway?.exited;
    this.gateway = undefined;
  }

  /** firezoned in the client namespace, interactive unless `token` is given (service mode). */
  async startDaemon(token?: string): Promise<void> {
    this.daemon = spawnInNs(this.world.client, [FIREZONED], {
      env: {
        FIREZONE_API_URL: `ws://${this.world.portalFromClient}:8080`,
        FIREZONE_SOCKET: this.socket,
        FIREZONE_STATE_DIR: join(this.dir, "state"),
        FIREZONE_LOG_DIR: join(this.dir, "log"),
        FIREZONE_TOKEN_FILE: join(this.dir, "no-token"),
        FIREZONE_TUN_NAME: this.tun,
        FIREZONE_GROUP: "root",
        ...(token ? { FIREZONE_TOKEN: token } : {}),
      },
    });
    this.#watch("firezoned", this.daemon);
    for (let i = 0; i < 100; i++) {
      if ((await this.ctl(["status", "--json"])).code === 0) return;
      await Bun.sleep(50);
    }
    throw new Error("firezoned did not start serving its socket");
  }

  async ctl(args: string[], stdin?: string): Promise<{ code: number; out: string; err: string }> {
    const p = Bun.spawn([FIREZONECTL, ...args], {
      env: { ...process.env, FIREZONE_SOCKET: this.socket },
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

  async status(): Promise<
    { state: string; lastError?: string; resourceCount: number } & Record<string, unknown>
  > {
    const r = await this.ctl(["status", "--json"]);
    if (r.code !== 0) throw new Error(`firezonectl status failed (${r.code}): ${r.err}`);
    return JSON.parse(r.out);
  }

  /** HTTP GET from the client namespace. */
  async curl(address: string, timeoutS = 1): Promise<{ ok: boolean; body: string }> {
    try {
      return {
        ok: true,
        body: await inNs(this.world.client, [
          "curl",
          "-sS",
          "--max-time",
          String(timeoutS),
          `http://${address}/`,
        ]),
      };
    } catch (e) {
      return { ok: false, body: String(e) };
    }
  }

  /** Routes through the tunnel device in the client namespace (destinations only). */
  async tunnelRoutes(): Promise<string[]> {
    const out = await inNs(this.world.client, ["ip", "-4", "route", "show", "dev", this.tun]).catch(() => "");
    return out
      .split("\n")
      .map((l) => l.split(" ")[0] ?? "")
      .filter(Boolean);
  }

  async tunnelExists(): Promise<boolean> {
    return inNs(this.world.client, ["ip", "link", "show", this.tun]).then(
      () => true,
      () => false,
    );
  }

  async destroy(): Promise<void> {
    for (const p of [this.daemon, this.gateway, this.#resource, this.portal]) p?.kill("SIGTERM");
    await Promise.all(
      [this.daemon, this.gateway, this.#resource, this.portal].map((p) =>
        p ? Promise.race([p.exited, Bun.sleep(5000)]) : null,
      ),
    );
    await destroyWorld(this.world);
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** Polls `fn` every 50 ms until it is true; returns the milliseconds it took. */
export async function until(
  what: string,
  fn: () => Promise<boolean> | boolean,
  timeoutMs = 10_000,
): Promise<number> {
  const started = performance.now();
  while (performance.now() - started < timeoutMs) {
    if (await fn()) return performance.now() - started;
    await Bun.sleep(50);
  }
  throw new Error(`timed out after ${timeoutMs} ms: ${what}`);
}
