// lib/portal's PortalClient against the real devstack portal on loopback: join, init, live resource
// events from the admin CLI, request_connection through a gateway, and a refused token.
import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import { type Portal, startPortal } from "../../devstack/portal/server.ts";
import { PhoenixChannel, type PortalClient, PortalRequestError } from "../../lib/portal/index.ts";
import { createLogger, silentLogger } from "../../lib/util/index.ts";
import { admin, newClient, newKey, next, on, type Seed, seed, startAndInit, tempDir } from "./_helpers.ts";

let tmp: ReturnType<typeof tempDir>;
let s: Seed;
let portal: Portal;
const clients: PortalClient[] = [];
const channels: PhoenixChannel[] = [];

beforeEach(() => {
  tmp = tempDir();
  s = seed(tmp.db);
  portal = startPortal({ dbPath: tmp.db, logger: silentLogger });
});

afterEach(async () => {
  for (const c of clients.splice(0)) c.stop();
  for (const c of channels.splice(0)) c.stop();
  await portal.stop();
  tmp.cleanup();
});

function client(
  token: string,
  extra: Partial<ConstructorParameters<typeof PortalClient>[0]> = {},
): PortalClient {
  return newClient(clients, {
    url: portal.url,
    token,
    deviceId: `device-${crypto.randomUUID()}`,
    backoff: { initialMs: 50, maxMs: 500 },
    ...extra,
  });
}

/** A minimal gateway on the `gateway` topic that confirms every allow_access. */
function fakeGateway(
  publicKey = newKey(),
  externalId = "gateway-one",
): {
  channel: PhoenixChannel;
  allowed: unknown[];
  rejected: unknown[];
  refused: string[];
} {
  const allowed: unknown[] = [];
  const rejected: unknown[] = [];
  const refused: string[] = [];
  const channel: PhoenixChannel = new PhoenixChannel(
    {
      url: `${portal.url.replace("http", "ws")}/gateway/websocket`,
      token: s.gatewayToken,
      topic: "gateway",
      joinPayload: () => ({ public_key: publicKey, external_id: externalId, endpoint: "192.0.2.1:51820" }),
    },
    {
      connecting: () => {},
      joined: () => {},
      event: (event, payload) => {
        if (event === "init") channel.push("init_done", {}).catch(() => {});
        if (event === "allow_access") {
          allowed.push(payload);
          const ref = (payload as { reference: string }).reference;
          channel.push("access_allowed", { reference: ref }).catch(() => {});
        }
        if (event === "reject_access") rejected.push(payload);
      },
      disconnected: () => {},
      terminal: (reason) => refused.push(reason),
    },
  );
  channels.push(channel);
  channel.start();
  return { channel, allowed, rejected, refused };
}

describe("PortalClient against the devstack portal", () => {
  test("joins and gets init with its tunnel addresses and only the resources its policies allow", async () => {
    const c = client(s.aliceToken);
    const msg = await startAndInit(c);
    expect(c.state).toBe("connected");
    if (!msg.interface.ok) throw new Error(msg.interface.reason);
    expect(msg.interface.value.ipv4).toMatch(/^100\.(6[4-9]|[7-8]\d|9[0-5])\.\d+\.\d+$/);
    expect(msg.interface.value.ipv6).toMatch(/^fd00:2021:1111::/);
    expect(msg.resources.map((r) => (r.ok ? r.resource.name : r.skipped.reason))).toEqual(["web"]);
    expect(msg.resources[0] as unknown).toEqual({
      ok: true,
      resource: {
        id: s.webId,
        name: "web",
        type: "ip",
        address: "172.31.0.10",
        site: { id: s.siteId, name: "hq" },
      },
    });
    expect(msg.actor.name).toBe("alice");
    expect(msg.account.slug).toBe("acme");
  });

  test("the same device keeps its tunnel addresses across connections", async () => {
    const a = client(s.aliceToken, { deviceId: "device-stable-1" });
    const addr1 = (await startAndInit(a)).interface;
    a.stop();
    const b = client(s.aliceToken, { deviceId: "device-stable-1" });
    expect((await startAndInit(b)).interface).toEqual(addr1);
  });

  test("admin CLI changes reach a connected client: created, updated, deleted, config_changed", async () => {
    const c = client(s.aliceToken);
    await startAndInit(c);

    const created = next(on(c, "resource_created_or_updated"));
    await admin(
      tmp.db,
      "create-resource",
      "--account",
      "acme",
      "--site",
      "hq",
      "--name",
      "wiki",
      "--type",
      "cidr",
      "--address",
      "172.31.1.7/24",
    );
    await admin(tmp.db, "create-policy", "--account", "acme", "--group", "everyone", "--resource", "wiki");
    const entry = await created;
    if (!entry.ok) throw new Error(entry.skipped.reason);
    const wiki = entry.resource;
    expect(wiki).toMatchObject({ name: "wiki", type: "cidr", address: "172.31.1.0/24" });

    const updated = next(on(c, "resource_created_or_updated"));
    await admin(
      tmp.db,
      "update-resource",
      "--account",
      "acme",
      "--resource",
      "wiki",
      "--address",
      "172.31.2.0/24",
    );
    expect(await updated).toMatchObject({ ok: true, resource: { address: "172.31.2.0/24" } });

    const deleted = next(on(c, "resource_deleted"));
    await admin(tmp.db, "delete-resource", "--account", "acme", "--resource", "wiki");
    expect(await deleted).toEqual({ id: wiki.id });

    const config = next(on(c, "config_changed"));
    await admin(tmp.db, "set-upstream-dns", "--account", "acme", "--servers", "192.0.2.53");
    expect((await config).interface).toMatchObject({ ok: true, value: { upstream_dns: ["192.0.2.53"] } });
  });

  test("removing a policy deletes the resource for the client", async () => {
    const c = client(s.aliceToken);
    await startAndInit(c);
    const deleted = next(on(c, "resource_deleted"));
    await admin(tmp.db, "delete-policy", "--account", "acme", "--group", "eng", "--resource", "web");
    expect(await deleted).toEqual({ id: s.webId });
  });

  test("requestConnection returns the gateway's key, endpoint and the resource's allowed IPs", async () => {
    const gwKey = newKey();
    const gw = fakeGateway(gwKey);
    const c = client(s.aliceToken);
    await startAndInit(c);
    while (portal.counts().gateways < 1) await Bun.sleep(10);
    const details = await c.requestConnection(s.webId);
    expect(details).toMatchObject({
      resource_id: s.webId,
      gateway_public_key: gwKey,
      gateway_endpoint: "192.0.2.1:51820",
      allowed_ips: ["172.31.0.10/32"],
    });
    expect(gw.allowed).toHaveLength(1);
    expect(gw.allowed[0]).toMatchObject({ resource: { id: s.webId, address: "172.31.0.10" } });

    // A resource without a policy is "not_found", whether or not it exists.
    const refused = await c.requestConnection(s.secretId).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(PortalRequestError);
    expect((refused as PortalRequestError).reason).toBe("not_found");

    // Losing the policy takes the access away from the gateway too.
    const rejectedBefore = gw.rejected.length;
    await admin(tmp.db, "delete-policy", "--account", "acme", "--group", "eng", "--resource", "web");
    for (let i = 0; i < 100 && gw.rejected.length === rejectedBefore; i++) await Bun.sleep(20);
    expect(gw.rejected.at(-1)).toMatchObject({ resource_id: s.webId });
  });

  test("a resource deleted between the policy check and the flow insert is 'not_found', and the portal keeps serving", async () => {
    const c = client(s.aliceToken);
    await startAndInit(c);
    // Another process deletes the resource at the worst moment: the flow's foreign key refuses it.
    const upsertFlow = portal.store.upsertFlow.bind(portal.store);
    portal.store.upsertFlow = (clientId, resourceId, tokenId) => {
      portal.store.deleteResource(resourceId);
      upsertFlow(clientId, resourceId, tokenId);
    };
    const refused = await c.requestConnection(s.webId).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(PortalRequestError);
    expect((refused as PortalRequestError).reason).toBe("not_found");
    portal.store.upsertFlow = upsertFlow;
    // Still serving: a second client joins and gets its init.
    await startAndInit(client(s.aliceToken));
    expect(portal.counts().clients).toBe(2);
  });

  test("requestConnection with no gateway online is 'offline'; details are pushed when one joins", async () => {
    const c = client(s.aliceToken);
    await startAndInit(c);
    const refused = await c.requestConnection(s.webId).catch((e: unknown) => e);
    expect((refused as PortalRequestError).reason).toBe("offline");
    const pushed = next(on(c, "connection_details"));
    fakeGateway();
    expect((await pushed).resource_id).toBe(s.webId);
  });

  test("when a site's gateway goes away, another gateway of the site takes over and the client is told", async () => {
    const keyA = newKey();
    const keyB = newKey();
    const a = fakeGateway(keyA, "gateway-a");
    while (portal.counts().gateways < 1) await Bun.sleep(10);
    fakeGateway(keyB, "gateway-b");
    while (portal.counts().gateways < 2) await Bun.sleep(10);
    const c = client(s.aliceToken);
    await startAndInit(c);
    const first = await c.requestConnection(s.webId);
    const pushed = next(on(c, "connection_details"), 3000, "details naming the other gateway");
    const gone = first.gateway_public_key === keyA ? a.channel : channels.at(-1)!;
    gone.stop();
    const second = await pushed;
    expect(second.resource_id).toBe(s.webId);
    expect(second.gateway_public_key).not.toBe(first.gateway_public_key);
    expect([keyA, keyB]).toContain(second.gateway_public_key);
  });

  test("revoking a gateway token disconnects the gateway for good", async () => {
    const gw = fakeGateway();
    while (portal.counts().gateways < 1) await Bun.sleep(10);
    const tokens = (await admin(tmp.db, "list-tokens", "--account", "acme")) as unknown as Array<{
      id: string;
      kind: string;
    }>;
    const gatewayTokenId = tokens.find((t) => t.kind === "gateway")!.id;
    await admin(tmp.db, "revoke-token", "--account", "acme", "--id", gatewayTokenId);
    for (let i = 0; i < 100 && gw.refused.length === 0; i++) await Bun.sleep(20);
    expect(gw.refused).toEqual(["revoked"]);
    expect(gw.channel.state).toBe("terminal");
    expect(portal.counts().gateways).toBe(0);
  });

  test("a bad token ends in signed_out 'invalid' without reconnecting", async () => {
    const c = client("not-a-real-token");
    let connecting = 0;
    c.on("connecting", () => connecting++);
    const out = next(on(c, "signed_out"));
    c.start();
    const ev = await out;
    expect(ev.reason).toBe("invalid");
    expect(ev.message).toContain("Sign in again");
    await Bun.sleep(300);
    expect(connecting).toBe(1);
    expect(c.state).toBe("signed_out");
  });

  test("an expired token is refused as 'expired'", async () => {
    const t = await admin(
      tmp.db,
      "create-token",
      "--account",
      "acme",
      "--actor",
      "alice",
      "--expires-in",
      "1ms",
    );
    await Bun.sleep(5);
    const c = client(String(t.token));
    const out = next(on(c, "signed_out"));
    c.start();
    expect((await out).reason).toBe("expired");
  });

  test("revoking the token with the admin CLI signs the client out within a second", async () => {
    const t = await admin(tmp.db, "create-token", "--account", "acme", "--actor", "alice");
    const c = client(String(t.token));
    await startAndInit(c);
    const out = next(on(c, "signed_out"));
    const started = performance.now();
    await admin(tmp.db, "revoke-token", "--account", "acme", "--id", String(t.id));
    const adminDone = performance.now();
    expect((await out).reason).toBe("revoked");
    const afterCommit = performance.now() - adminDone;
    console.log(
      `revocation -> signed_out: ${Math.round(performance.now() - started)} ms incl. admin CLI, ${Math.round(afterCommit)} ms after its commit`,
    );
    expect(afterCommit).toBeLessThan(1000);
    expect(c.state).toBe("signed_out");
  });

  test("the token never appears in the client's logs", async () => {
    const lines: string[] = [];
    const logger = createLogger({ name: "t", level: "debug", write: (l) => lines.push(l) });
    const c = client("secret-token-value-12345", { logger });
    const out = next(on(c, "signed_out"));
    c.start();
    await out;
    expect(lines.length).toBeGreaterThan(0);
    expect(lines.join("\n")).not.toContain("secret-token-value-12345");
  });
});
