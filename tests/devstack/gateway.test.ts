// The devstack gateway in network namespaces: a client configured by hand (wireguard-go, wg, ip)
// reaches an HTTP resource through the gateway only where a policy allows it, and policy changes
// made with the admin CLI open and close the path while everything runs.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { join } from "node:path";
import { Store } from "../../devstack/portal/store.ts";
import { inNs } from "../../devstack/shared/netns.ts";
import { admin, DevWorld, type Proc, ROOT, SECOND_RESOURCE_ADDRESS } from "../../devstack/world.ts";

const BUN = process.execPath;
const canRun = process.getuid?.() === 0 && Bun.which("wireguard-go") !== null && Bun.which("nft") !== null;

let dev: DevWorld;
let gateway: Proc;
let gatewayToken = "";
const tag = `${process.pid % 100000}`;
const verbose = process.env.FZ_TEST_VERBOSE === "1";

async function curl(address: string, timeoutS = 2): Promise<{ ok: boolean; body: string }> {
  const body = await dev.fetchFromClient(address, timeoutS * 1000);
  return { ok: body !== null, body: body ?? "" };
}

async function until(what: string, fn: () => Promise<boolean>, timeoutMs = 8000): Promise<number> {
  const started = performance.now();
  while (performance.now() - started < timeoutMs) {
    if (await fn()) return performance.now() - started;
    await Bun.sleep(100);
  }
  throw new Error(`timed out: ${what}`);
}

async function startGateway(): Promise<void> {
  gateway = await dev.startGateway(gatewayToken, `fzgw${tag}`, 15_000);
}

describe.skipIf(!canRun)("devstack gateway in namespaces", () => {
  beforeAll(async () => {
    // With a second host on the resource network that no policy covers.
    dev = await DevWorld.create(`fzt${tag}`, {
      tmpPrefix: "fz-portal-",
      echo: verbose ? (name, line) => console.error(`[${name}] ${line}`) : undefined,
    });

    const store = new Store(dev.db);
    const account = store.createAccount("acme");
    const alice = store.createActor(account.id, "alice", { groups: ["eng"] });
    const site = store.createSite(account.id, "hq");
    const web = store.createResource(account.id, site.id, {
      name: "web",
      type: "ip",
      address: "172.31.0.10",
    });
    store.createResource(account.id, site.id, {
      name: "secret",
      type: "ip",
      address: SECOND_RESOURCE_ADDRESS,
    });
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

    await dev.startPortal();
    await dev.startResource();
    await startGateway();

    const client = dev.start(
      "client",
      dev.world.client,
      [
        BUN,
        join(ROOT, "tests/devstack/_wgclient.ts"),
        "--portal",
        `ws://${dev.world.portalFromClient}:8080`,
        "--iface",
        `wgt${tag}`,
        "--extra-allowed",
        dev.world.resourceNetwork,
      ],
      { FIREZONE_TOKEN: aliceToken },
    );
    await client.out.next(/"event":"connection_details"/, 15_000);
  }, 60_000);

  afterAll(async () => {
    await dev?.destroy();
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
    const out = await inNs(dev.world.client, ["ip", "route", "get", "172.31.0.10"]);
    expect(out).toContain(`dev wgt${tag}`);
  });

  test("a policy created with the admin CLI opens the resource while everything runs", async () => {
    await admin(dev.db, "create-policy", "--account", "acme", "--group", "everyone", "--resource", "secret");
    const ms = await until("secret reachable", async () => (await curl("172.31.0.11", 0.3)).ok);
    console.log(`policy created -> resource reachable: ${Math.round(ms)} ms`);
  }, 15_000);

  test("deleting a policy closes the path at the gateway", async () => {
    await admin(dev.db, "delete-policy", "--account", "acme", "--group", "eng", "--resource", "web");
    const ms = await until("web unreachable", async () => !(await curl("172.31.0.10", 0.3)).ok);
    console.log(`policy deleted -> resource unreachable: ${Math.round(ms)} ms`);
    const rules = await inNs(dev.world.gateway, ["nft", "list", "table", "inet", "fz_gateway"]);
    expect(rules).not.toContain("172.31.0.10");
    expect(rules).toContain("172.31.0.11");
  }, 15_000);

  test("a gateway killed and started again serves the client again (new key pushed by the portal)", async () => {
    expect(await curl("172.31.0.11", 3)).toMatchObject({ ok: true });
    await DevWorld.stop(gateway, "SIGKILL");
    const restarted = performance.now();
    await startGateway();
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
