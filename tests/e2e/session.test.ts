// Sign in and reach resources, end to end: real portal, gateway, resource and firezoned in network
// namespaces, driven with firezonectl as a user would.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { connectDaemon, type DaemonEvent } from "../../lib/ipc/index.ts";
import { clientPolicy } from "../../lib/wireguard/index.ts";
import { Stack } from "../_support/stack.ts";

let stack: Stack;
let aliceToken: { id: string; token: string };

beforeAll(async () => {
  stack = await Stack.create();
}, 120_000);

afterAll(async () => {
  if (process.env.E2E_LOGS) {
    for (const [name, p] of [
      ["portal", stack.portal],
      ["gateway", stack.gateway],
      ["firezoned", stack.daemon],
    ] as const) {
      console.error(`--- ${name}\n${[...(p?.out.all ?? []), ...(p?.err.all ?? [])].slice(-60).join("\n")}`);
    }
  }
  await stack?.destroy();
});

async function signInAlice(): Promise<void> {
  aliceToken = stack.store((s) => s.createClientToken(stack.seed.aliceId));
  const r = await stack.ctl(["sign-in", "--token-stdin", "--json"], `${aliceToken.token}\n`);
  expect(r.err).toBe("");
  expect(r.code).toBe(0);
  await stack.waitForState("connected", 10_000);
}

async function routesViaTunnel(): Promise<string[]> {
  // Resource routes live in the client's own table (docs/tunnel.md), not in main.
  const table = String(clientPolicy(stack.tun).table);
  const routes = (await stack.clientIp(["route", "show", "table", table, "dev", stack.tun])) as Array<{
    dst: string;
  }>;
  return routes.map((r) => r.dst).sort();
}

describe("sign in and reach resources", () => {
  test("a fresh daemon is signed out, in interactive mode", async () => {
    const st = await stack.status();
    expect(st.state).toBe("signed_out");
  });

  test("signing in with a user token connects, lists the allowed resource, and it answers through the tunnel", async () => {
    await signInAlice();
    const st = await stack.status();
    expect(st).toMatchObject({ state: "connected", resourceCount: 1 });
    expect(st.addresses?.[0]).toMatch(/^100\.(6[4-9]|[7-9]\d)\./);
    const list = JSON.parse((await stack.ctl(["resources", "--json"])).out).resources as Array<{
      name: string;
      address: string;
    }>;
    expect(list.map((r) => [r.name, r.address])).toEqual([["web", "172.31.0.10"]]);
    expect(await stack.waitForFetch(stack.seed.web.address, 10_000)).toContain("hello from web");
  });

  test("the token appears in no log line and no output", async () => {
    const everything = [...stack.daemon!.err.all, ...stack.daemon!.out.all].join("\n");
    expect(everything).not.toContain(aliceToken.token);
    expect((await stack.ctl(["status", "--json"])).out).not.toContain(aliceToken.token);
  });

  test("a resource without a policy for the actor is neither listed nor reachable by address", async () => {
    const list = (await stack.ctl(["resources"])).out;
    expect(list).not.toContain("secret");
    expect(await stack.fetchFromClient(stack.seed.secret.address, 1500)).toBeNull();
  });

  test("even a root user on the client who routes the unlisted address into the tunnel is dropped by the gateway", async () => {
    const peer = Bun.spawnSync(["wg", "show", stack.tun, "peers"]).stdout.toString().trim();
    expect(peer).toMatch(/^[A-Za-z0-9+/]{43}=$/);
    Bun.spawnSync(["wg", "set", stack.tun, "peer", peer, "allowed-ips", "172.31.0.10/32,172.31.0.11/32"]);
    Bun.spawnSync(["ip", "-n", stack.world.client, "route", "replace", "172.31.0.11/32", "dev", stack.tun]);
    try {
      expect(Bun.spawnSync(["wg", "show", stack.tun, "allowed-ips"]).stdout.toString()).toContain(
        "172.31.0.11/32",
      );
      expect(await stack.fetchFromClient(stack.seed.web.address, 3000)).toContain("hello from web");
      expect(await stack.fetchFromClient(stack.seed.secret.address, 2000)).toBeNull();
    } finally {
      Bun.spawnSync(["ip", "-n", stack.world.client, "route", "del", "172.31.0.11/32", "dev", stack.tun]);
      Bun.spawnSync(["wg", "set", stack.tun, "peer", peer, "allowed-ips", "172.31.0.10/32"]);
    }
  });

  test("routes follow the resources: a new policy adds one, deleting the policy removes it", async () => {
    expect(await routesViaTunnel()).toEqual(["172.31.0.10"]);
    const policy = stack.store((s) =>
      s.createPolicy(stack.seed.accountId, stack.seed.everyone, stack.seed.secret.id),
    );
    expect(policy).toBeTruthy();
    await stack.waitForFetch(stack.seed.secret.address, 10_000);
    expect(await routesViaTunnel()).toEqual(["172.31.0.10", "172.31.0.11"]);
    stack.store((s) => s.deletePolicy(stack.seed.everyone, stack.seed.secret.id));
    const until = Date.now() + 5000;
    while ((await routesViaTunnel()).length !== 1 && Date.now() < until) await Bun.sleep(50);
    expect(await routesViaTunnel()).toEqual(["172.31.0.10"]);
    expect(await stack.fetchFromClient(stack.seed.secret.address, 1500)).toBeNull();
  });

  test("restarting the portal: reconnecting, then connected, and traffic works without user action", async () => {
    await Stack.kill(stack.portal);
    await stack.waitForState("reconnecting", 20_000);
    // The tunnel stays up while the portal is away.
    expect(await stack.fetchFromClient(stack.seed.web.address, 3000)).toContain("hello from web");
    await stack.startPortal();
    await stack.waitForState("connected", 40_000);
    expect(await stack.waitForFetch(stack.seed.web.address, 10_000)).toContain("hello from web");
  });

  test("killing the gateway and starting it again: traffic resumes", async () => {
    await Stack.kill(stack.gateway, "SIGKILL");
    await stack.startGateway();
    expect(await stack.waitForFetch(stack.seed.web.address, 30_000)).toContain("hello from web");
  });

  test("200 resources created and deleted in a burst: routes match the final set, the daemon stays responsive", async () => {
    const ids = stack.store((s) =>
      Array.from({ length: 200 }, (_, i) => {
        const r = s.createResource(stack.seed.accountId, stack.seed.siteId, {
          name: `bulk-${i}`,
          type: "cidr",
          address: `10.${100 + Math.floor(i / 100)}.${i % 100}.0/24`,
        });
        s.createPolicy(stack.seed.accountId, stack.seed.everyone, r.id);
        return r.id;
      }),
    );
    const started = Date.now();
    while ((await stack.status()).resourceCount < 201 && Date.now() - started < 30_000) await Bun.sleep(100);
    expect((await stack.status()).resourceCount).toBe(201);
    // Delete every other one, in one burst.
    stack.store((s) => {
      for (const id of ids.filter((_, i) => i % 2 === 0)) s.deleteResource(id);
    });
    const expected = [
      "172.31.0.10",
      ...Array.from({ length: 100 }, (_, k) => 2 * k + 1).map(
        (i) => `10.${100 + Math.floor(i / 100)}.${i % 100}.0/24`,
      ),
    ].sort();
    const until = Date.now() + 30_000;
    let routes = await routesViaTunnel();
    while (routes.join() !== expected.join() && Date.now() < until) {
      await Bun.sleep(200);
      routes = await routesViaTunnel();
    }
    expect(routes).toEqual(expected);
    const t = performance.now();
    expect((await stack.status()).resourceCount).toBe(101);
    expect(performance.now() - t).toBeLessThan(1000);
    stack.store((s) => {
      for (const id of ids) s.deleteResource(id);
    });
  }, 120_000);

  test("revoking the token in the portal signs the daemon out within 5 s with the reason, and the tunnel is gone", async () => {
    stack.store((s) => s.revokeToken(aliceToken.id));
    const t = Date.now();
    const st = await stack.waitForState("signed_out", 5000);
    expect(Date.now() - t).toBeLessThan(5000);
    expect(st.lastError).toContain("revoked");
    const until = Date.now() + 3000;
    while ((await stack.clientIp(["link", "show", "dev", stack.tun])).length > 0 && Date.now() < until)
      await Bun.sleep(50);
    expect(await stack.clientIp(["link", "show", "dev", stack.tun])).toEqual([]);
    const leftover = (await stack.clientIp(["route", "show", "table", "all"])) as Array<{ dst: string }>;
    expect(leftover.filter((r) => r.dst.startsWith("172.31.") || r.dst.startsWith("10.1"))).toEqual([]);
  });

  test("a bad token is refused with a clear message and the daemon stays signed out", async () => {
    const r = await stack.ctl(["sign-in", "--token-stdin"], "not-a-real-token\n");
    expect(r.code).toBe(1);
    expect(r.err).toContain("does not know this token");
    expect((await stack.status()).state).toBe("signed_out");
  });

  test("subscribers are pushed status and resource events as the session changes", async () => {
    const client = await connectDaemon({ socketPath: stack.socket });
    const events: DaemonEvent[] = [];
    await client.subscribe((e) => events.push(e));
    try {
      await signInAlice();
      const until = Date.now() + 5000;
      const has = () =>
        events.some((e) => e.kind === "status" && e.status.state === "connected") &&
        events.some((e) => e.kind === "resources_changed" && e.total > 0);
      while (!has() && Date.now() < until) await Bun.sleep(20);
      expect(has()).toBe(true);
      // The event names a new list; the list itself is read in pages.
      const { resources } = await client.allResources();
      expect(resources.map((r) => r.name)).toContain("web");
      expect(events.find((e) => e.kind === "status")).toMatchObject({ status: { state: "connecting" } });
    } finally {
      client.close();
    }
  });

  test("sign-out takes the tunnel down", async () => {
    const r = await stack.ctl(["sign-out"]);
    expect(r.code).toBe(0);
    expect((await stack.status()).state).toBe("signed_out");
    expect(await stack.clientIp(["link", "show", "dev", stack.tun])).toEqual([]);
  });
});
