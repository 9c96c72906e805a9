// End to end, real processes: firezoned and firezonectl against the devstack portal and gateway in
// network namespaces. Sign in, reach a resource, survive portal and gateway restarts, follow a burst
// of 200 resources, and sign out by itself when the token is revoked.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { Store } from "../../devstack/portal/store.ts";
import { admin } from "../portal/_helpers.ts";
import { Stack, until } from "./_stack.ts";

const canRun = process.getuid?.() === 0 && Bun.which("wireguard-go") !== null && Bun.which("nft") !== null;
let stack: Stack;

describe.skipIf(!canRun)("firezoned with the devstack portal and gateway", () => {
  beforeAll(async () => {
    stack = await Stack.start(`${process.pid % 100000}`);
    await stack.startDaemon();
  }, 60_000);

  afterAll(async () => {
    await stack?.destroy();
  }, 30_000);

  test("sign-in with a user token: the resource answers through the tunnel, and resources --json lists it", async () => {
    expect((await stack.status()).state).toBe("signed_out");
    const started = performance.now();
    const r = await stack.ctl(["sign-in", "--token-stdin"], `${stack.seeded.aliceToken}\n`);
    expect(r.code).toBe(0);
    await until("web reachable", async () => (await stack.curl("172.31.0.10", 0.5)).ok);
    console.log(
      `firezonectl sign-in -> first HTTP answer through the tunnel: ${Math.round(performance.now() - started)} ms`,
    );
    const body = (await stack.curl("172.31.0.10")).body;
    expect(body).toContain("hello from web");

    const status = await stack.status();
    expect(status.state).toBe("connected");
    expect(status.actor).toBe("alice");
    const list = await stack.ctl(["resources", "--json"]);
    expect(list.code).toBe(0);
    const resources = JSON.parse(list.out) as Array<{ name: string; address: string; type: string }>;
    expect(resources.map((x) => x.name)).toEqual(["web"]);
    expect(resources[0]).toMatchObject({ address: "172.31.0.10", type: "ip" });
  }, 30_000);

  test("a resource without a policy for the actor is not listed and not reachable even by address", async () => {
    const list = JSON.parse((await stack.ctl(["resources", "--json"])).out) as Array<{ name: string }>;
    expect(list.map((x) => x.name)).not.toContain("secret");
    expect((await stack.curl("172.31.0.11", 1)).ok).toBe(false);
  });

  test("200 resources created and deleted in a burst: routes follow the final set and the daemon stays responsive", async () => {
    const store = new Store(stack.db);
    const everyone = store.group(stack.seeded.accountId, "everyone")!;
    const ids: string[] = [];
    const started = performance.now();
    for (let i = 0; i < 200; i++) {
      const r = store.createResource(stack.seeded.accountId, stack.seeded.siteId, {
        name: `bulk-${i}`,
        type: "ip",
        address: `172.30.${Math.floor(i / 100)}.${(i % 100) + 1}`,
      });
      store.createPolicy(stack.seeded.accountId, everyone, r.id);
      ids.push(r.id);
    }
    let slowest = 0;
    const created = await until(
      "201 routes",
      async () => {
        const t = performance.now();
        const s = await stack.status();
        slowest = Math.max(slowest, performance.now() - t);
        return s.resourceCount === 201 && (await stack.tunnelRoutes()).length >= 201;
      },
      30_000,
    );
    console.log(`200 resources created -> 201 routes: ${Math.round(created)} ms after the last commit`);
    expect((await stack.tunnelRoutes()).filter((d) => d.startsWith("172.30."))).toHaveLength(200);
    for (const id of ids) store.deleteResource(id);
    store.close();
    const deleted = await until(
      "only web's route left",
      async () => {
        const t = performance.now();
        const s = await stack.status();
        slowest = Math.max(slowest, performance.now() - t);
        const routes = await stack.tunnelRoutes();
        return s.resourceCount === 1 && routes.every((d) => !d.startsWith("172.30."));
      },
      30_000,
    );
    console.log(
      `200 resources deleted -> routes back to 1: ${Math.round(deleted)} ms; slowest status reply ${Math.round(slowest)} ms`,
    );
    expect(await stack.tunnelRoutes()).toContain("172.31.0.10");
    expect(slowest).toBeLessThan(1000);
    const back = await until(
      "web reachable after the burst",
      async () => (await stack.curl("172.31.0.10", 0.5)).ok,
      30_000,
    );
    console.log(
      `after the burst, web answered again within ${Math.round(back)} ms; whole burst ${Math.round(performance.now() - started)} ms`,
    );
  }, 90_000);

  test("after a portal restart the daemon goes reconnecting, then connected, and traffic works again", async () => {
    await stack.stopPortal();
    await until("reconnecting", async () => (await stack.status()).state === "reconnecting", 10_000);
    const restarted = performance.now();
    await stack.startPortal();
    await until("connected", async () => (await stack.status()).state === "connected", 20_000);
    await until("web reachable", async () => (await stack.curl("172.31.0.10", 0.5)).ok, 20_000);
    console.log(
      `portal restart -> traffic again: ${Math.round(performance.now() - restarted)} ms after the portal was back`,
    );
  }, 60_000);

  test("after a gateway is killed and started again, traffic resumes", async () => {
    await stack.killGateway();
    const restarted = performance.now();
    await stack.startGateway();
    const ms = await until("web reachable", async () => (await stack.curl("172.31.0.10", 0.5)).ok, 30_000);
    console.log(
      `gateway restart -> traffic again: ${Math.round(performance.now() - restarted)} ms (${Math.round(ms)} ms after it was ready)`,
    );
  }, 60_000);

  test("revoking the token signs the daemon out with the reason within 5 s; the tunnel device and routes are gone", async () => {
    await admin(stack.db, "revoke-token", "--account", "acme", "--id", stack.seeded.aliceTokenId);
    const ms = await until("signed_out", async () => (await stack.status()).state === "signed_out", 5000);
    console.log(`token revoked -> daemon signed_out: ${Math.round(ms)} ms`);
    const status = await stack.status();
    expect(String(status.lastError ?? "")).toContain("revoked");
    await until("tunnel gone", async () => !(await stack.tunnelExists()), 5000);
    expect(await stack.tunnelRoutes()).toEqual([]);
    expect((await stack.curl("172.31.0.10", 1)).ok).toBe(false);
  }, 20_000);
});
