// The devstack gateway in network namespaces: a client configured by hand (wireguard-go, wg, ip)
// reaches an HTTP resource through the gateway only where a policy allows it, and policy changes
// made with the admin CLI open and close the path while everything runs.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
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
import { admin, ROOT, tempDir } from "../portal/_helpers.ts";

const BUN = process.execPath;
const canRun = process.getuid?.() === 0 && Bun.which("wireguard-go") !== null && Bun.which("nft") !== null;

let world: World;
let tmp: ReturnType<typeof tempDir>;
let clientOut: Lines;
let gatewayOut: Lines;
const procs: Bun.Subprocess[] = [];
let gatewayToken = "";
const tag = `${process.pid % 100000}`;
const verbose = process.env.FZ_TEST_VERBOSE === "1";

async function curl(address: string, timeoutS = 2): Promise<{ ok: boolean; body: string }> {
  try {
    const body = await inNs(world.client, [
      "curl",
      "-sS",
      "--max-time",
      String(timeoutS),
      `http://${address}/`,
    ]);
    return { ok: true, body };
  } catch (e) {
    return { ok: false, body: String(e) };
  }
}

async function until(what: string, fn: () => Promise<boolean>, timeoutMs = 8000): Promise<number> {
  const started = performance.now();
  while (performance.now() - started < timeoutMs) {
    if (await fn()) return performance.now() - started;
    await Bun.sleep(100);
  }
  throw new Error(`timed out: ${what}`);
}

function startGateway(): Bun.Subprocess {
  const gw = spawnInNs(
    world.gateway,
    [
      BUN,
      join(ROOT, "devstack/gateway/main.ts"),
      "--portal",
      `ws://${world.portalFromGateway}:8080`,
      "--endpoint",
      `${world.gatewayAddress}:51820`,
      "--state-dir",
      join(tmp.dir, "gateway"),
      "--interface",
      `fzgw${tag}`,
    ],
    { env: { FIREZONE_GATEWAY_TOKEN: gatewayToken } },
  );
  procs.push(gw);
  gatewayOut = new Lines(gw.stdout as ReadableStream<Uint8Array>);
  new Lines(
    gw.stderr as ReadableStream<Uint8Array>,
    verbose ? (l) => console.error(`[gateway] ${l}`) : undefined,
  );
  return gw;
}

describe.skipIf(!canRun)("devstack gateway in namespaces", () => {
  beforeAll(async () => {
    tmp = tempDir();
    world = await createWorld(`fzt${tag}`);
    // A second host on the resource network that no policy covers.
    await inNs(world.resource, ["ip", "addr", "add", "172.31.0.11/24", "dev", "to-gateway"]);

    const store = new Store(tmp.db);
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
    const web6 = store.createResource(account.id, site.id, {
      name: "web6",
      type: "cidr",
      address: "fd00:31::10/128",
    });
    store.createPolicy(account.id, store.group(account.id, "eng")!, web6.id);
    const aliceToken = store.createClientToken(alice.id).token;
    gatewayToken = store.createGatewayToken(site.id).token;
    store.close();

    const portal = spawnInNs(world.hub, [
      BUN,
      join(ROOT, "devstack/portal/main.ts"),
      "--db",
      tmp.db,
      "--listen",
      "0.0.0.0:8080",
    ]);
    procs.push(portal);
    await new Lines(portal.stdout as ReadableStream<Uint8Array>).next(/^listening/);
    const res = spawnInNs(world.resource, [BUN, join(ROOT, "devstack/resource.ts"), "--listen", "[::]:80"]);
    procs.push(res);
    await new Lines(res.stdout as ReadableStream<Uint8Array>).next(/^listening/);

    startGateway();
    await gatewayOut.next(/^ready/, 15_000);

    const client = spawnInNs(
      world.client,
      [
        BUN,
        join(ROOT, "tests/devstack/_wgclient.ts"),
        "--portal",
        `ws://${world.portalFromClient}:8080`,
        "--iface",
        `wgt${tag}`,
        "--extra-allowed",
        "172.31.0.0/24",
      ],
      { env: { FIREZONE_TOKEN: aliceToken } },
    );
    procs.push(client);
    clientOut = new Lines(client.stdout as ReadableStream<Uint8Array>);
    await clientOut.next(/"event":"connection_details"/, 15_000);
  }, 60_000);

  afterAll(async () => {
    for (const p of procs) p.kill("SIGTERM");
    await Promise.all(procs.map((p) => Promise.race([p.exited, Bun.sleep(2000)])));
    if (world) await destroyWorld(world);
    tmp?.cleanup();
  }, 30_000);

  test("the client reaches the allowed HTTP resource through the gateway, masqueraded", async () => {
    let r = await curl("172.31.0.10");
    // The first packets may race the WireGuard handshake.
    if (!r.ok) r = await curl("172.31.0.10", 5);
    expect(r.ok).toBe(true);
    expect(r.body).toContain("hello from web");
    expect(r.body).toContain("you came from 172.31.0.1");
  });

  test("an IPv6 resource answers through the tunnel too, masqueraded to the gateway's address", async () => {
    let r = await curl("[fd00:31::10]");
    if (!r.ok) r = await curl("[fd00:31::10]", 5);
    expect(r.ok).toBe(true);
    expect(r.body).toContain("you came from fd00:31::1");
  });

  test("a resource without a policy is unreachable, even routed into the tunnel by hand", async () => {
    const r = await curl("172.31.0.11", 2);
    expect(r.ok).toBe(false);
  });

  test("the resource network is not reachable from the client except through the tunnel", async () => {
    const out = await inNs(world.client, ["ip", "route", "get", "172.31.0.10"]);
    expect(out).toContain(`dev wgt${tag}`);
  });

  test("a policy created with the admin CLI opens the resource while everything runs", async () => {
    await admin(tmp.db, "create-policy", "--account", "acme", "--group", "everyone", "--resource", "secret");
    const ms = await until("secret reachable", async () => (await curl("172.31.0.11", 0.3)).ok);
    console.log(`policy created -> resource reachable: ${Math.round(ms)} ms`);
  }, 15_000);

  test("deleting a policy closes the path at the gateway", async () => {
    await admin(tmp.db, "delete-policy", "--account", "acme", "--group", "eng", "--resource", "web");
    const ms = await until("web unreachable", async () => !(await curl("172.31.0.10", 0.3)).ok);
    console.log(`policy deleted -> resource unreachable: ${Math.round(ms)} ms`);
    const rules = await inNs(world.gateway, ["nft", "list", "table", "inet", "fz_gateway"]);
    expect(rules).not.toContain("172.31.0.10");
    expect(rules).toContain("172.31.0.11");
  }, 15_000);

  test("a gateway killed and started again serves the client again (new key pushed by the portal)", async () => {
    const gw = procs[2]!;
    expect(await curl("172.31.0.11", 3)).toMatchObject({ ok: true });
    const old = procs.splice(procs.indexOf(gw), 1)[0]!;
    old.kill("SIGKILL");
    await old.exited;
    const restarted = performance.now();
    startGateway();
    await gatewayOut.next(/^ready/, 15_000);
    const ms = await until(
      "secret reachable after gateway restart",
      async () => (await curl("172.31.0.11", 1)).ok,
      15_000,
    );
    console.log(
      `gateway restart -> traffic again: ${Math.round(performance.now() - restarted)} ms (${Math.round(ms)} ms after ready)`,
    );
  }, 40_000);
});
