// The devstack gateway serving an Internet Resource, in network namespaces with a hand-built client
// (wireguard-go, wg, ip): the client's internet flow leaves through the gateway's uplink,
// masqueraded; it does not open the site's private networks; removing the policy closes it.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { join } from "node:path";
import { Store } from "../../devstack/portal/store.ts";
import { inNs } from "../../devstack/shared/netns.ts";
import { admin, DevWorld, type Proc, ROOT, SECOND_RESOURCE_ADDRESS } from "../../devstack/world.ts";
import { FAR_ADDRESS, FAR_NETWORK, OutsideHosts } from "../_support/far_host.ts";

const BUN = process.execPath;
const canRun = process.getuid?.() === 0 && Bun.which("wireguard-go") !== null && Bun.which("nft") !== null;

let dev: DevWorld;
let hosts: OutsideHosts;
let client: Proc;
const tag = `${process.pid % 100000}`;
const details: Array<{ resource_id: string; allowed: string[] }> = [];
let internetId = "";

async function until(what: string, fn: () => Promise<boolean>, timeoutMs = 8000): Promise<void> {
  const started = performance.now();
  while (performance.now() - started < timeoutMs) {
    if (await fn()) return;
    await Bun.sleep(100);
  }
  throw new Error(`timed out: ${what}`);
}

describe.skipIf(!canRun)("devstack gateway: the Internet Resource", () => {
  beforeAll(async () => {
    dev = await DevWorld.create(`fzi${tag}`, { tmpPrefix: "fz-inet-" });
    hosts = await OutsideHosts.create(dev, BUN);
    const store = new Store(dev.db);
    const account = store.createAccount("acme");
    const alice = store.createActor(account.id, "alice", { groups: ["eng"] });
    const site = store.createSite(account.id, "hq");
    const eng = store.group(account.id, "eng")!;
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
    const internet = store.createResource(account.id, site.id, { name: "Internet", type: "internet" });
    internetId = internet.id;
    store.createPolicy(account.id, eng, web.id);
    store.createPolicy(account.id, eng, internet.id);
    const aliceToken = store.createClientToken(alice.id).token;
    const gatewayToken = store.createGatewayToken(site.id).token;
    store.close();

    await dev.startPortal();
    await dev.startResource();
    await dev.startGateway(gatewayToken, `fzgi${tag}`, 15_000);
    client = dev.start(
      "client",
      dev.world.client,
      [
        BUN,
        join(ROOT, "tests/devstack/_wgclient.ts"),
        "--portal",
        `ws://${dev.world.portalFromClient}:8080`,
        "--iface",
        `wgi${tag}`,
        // The far network and the whole resource network go into the tunnel; the portal and the
        // gateway's endpoint stay on the client's own routes.
        "--route-only",
        FAR_NETWORK,
        "--route-only",
        dev.world.resourceNetwork,
      ],
      { FIREZONE_TOKEN: aliceToken },
    );
    for (let i = 0; i < 2; i++) {
      const line = await client.out.next(/"event":"connection_details"/, 15_000);
      details.push(JSON.parse(line) as { resource_id: string; allowed: string[] });
    }
  }, 60_000);

  afterAll(async () => {
    await dev?.destroy();
    await hosts?.destroy();
  }, 30_000);

  test("the portal's connection details for the Internet Resource carry both default routes", () => {
    const d = details.find((x) => x.resource_id === internetId);
    expect(d?.allowed).toEqual(expect.arrayContaining(["0.0.0.0/0", "::/0"]));
  });

  test("traffic to a host outside every resource leaves through the gateway's uplink, masqueraded", async () => {
    await hosts.watch("10.77.1.2");
    let seen = await hosts.sourceSeenBy(FAR_ADDRESS);
    // The first packets may race the WireGuard handshake.
    if (seen === null) seen = await hosts.sourceSeenBy(FAR_ADDRESS, 5000);
    expect(seen).toBe(dev.world.gatewayAddress);
    expect(await hosts.packetsFrom("10.77.1.2")).toBe(0);
  });

  test("the Internet Resource does not open the site's private networks: a host without a policy stays shut", async () => {
    expect(await dev.fetchFromClient("172.31.0.10", 3000)).toContain("hello from web");
    expect(await dev.fetchFromClient(SECOND_RESOURCE_ADDRESS, 2000)).toBeNull();
    const rules = await inNs(dev.world.gateway, ["nft", "list", "table", "inet", "fz_gateway"]);
    expect(rules).toContain("internet resource");
    expect(rules).toContain("172.16.0.0/12");
  });

  test("deleting the Internet Resource's policy closes the path at the gateway", async () => {
    await admin(dev.db, "delete-policy", "--account", "acme", "--group", "eng", "--resource", "Internet");
    await until("far host unreachable", async () => (await hosts.fetch(FAR_ADDRESS, 300)) === null);
    const rules = await inNs(dev.world.gateway, ["nft", "list", "table", "inet", "fz_gateway"]);
    expect(rules).not.toContain("internet resource");
    expect(await dev.fetchFromClient("172.31.0.10", 3000)).toContain("hello from web");
  }, 15_000);
});
