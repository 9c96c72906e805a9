// The Internet Resource end to end: real portal, gateway and firezoned in network namespaces, a
// host outside every resource behind the hub (the far host, 203.0.113.10) and a neighbour on the
// client's own network (the LAN host, 10.77.1.50), switched with firezonectl as a user would.
//   off -> the far host sees the client's own address (10.77.1.2);
//   on  -> it sees the gateway's (10.77.2.2), the LAN host is not reached directly;
//   on with allow-LAN -> the LAN host sees the client, the far host still the gateway;
//   gateway unreachable -> nothing reaches the far host from the client's own address;
//   off / sign-out -> the direct path again, rules and table gone.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { inNs } from "../../devstack/shared/netns.ts";
import { clientPolicy, internetTable } from "../../lib/wireguard/index.ts";
import { BUN } from "../_support/build.ts";
import { FAR_ADDRESS, LAN_HOST_ADDRESS, OutsideHosts } from "../_support/far_host.ts";
import { Stack } from "../_support/stack.ts";

const canRun = process.getuid?.() === 0 && Bun.which("wireguard-go") !== null && Bun.which("nft") !== null;
const CLIENT = "10.77.1.2";
const LAN_RULE = 6420;
const INTERNET_RULE = 6430;

let stack: Stack;
let hosts: OutsideHosts;

type IpRule = { priority: number; table: string; suppress_prefixlen?: number };
const rules = async (): Promise<IpRule[]> => [
  ...((await stack.clientIp(["-4", "rule", "show"])) as IpRule[]),
  ...((await stack.clientIp(["-6", "rule", "show"])) as IpRule[]),
];
const priorities = async (): Promise<number[]> => (await rules()).map((r) => r.priority);
const routeDev = async (...args: string[]): Promise<string> =>
  ((await stack.clientIp(["route", "get", ...args])) as Array<{ dev: string }>)[0]!.dev;

async function until(what: string, fn: () => Promise<boolean>, timeoutMs = 15_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await fn())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await Bun.sleep(100);
  }
}

async function ctlJson(args: string[]): Promise<Record<string, unknown>> {
  const r = await stack.ctl([...args, "--json"]);
  if (r.code !== 0) throw new Error(`firezonectl ${args.join(" ")} failed (${r.code}): ${r.err}`);
  return JSON.parse(r.out) as Record<string, unknown>;
}

/** The source the far host saw, retried while a handshake or a route change settles. */
async function farSees(expected: string): Promise<void> {
  let last: string | null = null;
  await until(`the far host to see ${expected} (last: ${last})`, async () => {
    last = await hosts.sourceSeenBy(FAR_ADDRESS, 1000);
    return last === expected;
  });
}

async function signIn(): Promise<void> {
  const token = stack.store((s) => s.createClientToken(stack.seed.aliceId));
  const r = await stack.ctl(["sign-in", "--token-stdin"], `${token.token}\n`);
  expect(r.code).toBe(0);
  await stack.waitForState("connected", 10_000);
  await stack.waitForFetch(stack.seed.web.address, 15_000);
}

describe.skipIf(!canRun)("the Internet Resource end to end", () => {
  beforeAll(async () => {
    stack = await Stack.create();
    hosts = await OutsideHosts.create(stack.dev, BUN);
    await hosts.watch(CLIENT);
    stack.store((s) => {
      const r = s.createResource(stack.seed.accountId, stack.seed.siteId, {
        name: "Internet",
        type: "internet",
      });
      s.createPolicy(stack.seed.accountId, stack.seed.everyone, r.id);
    });
    await signIn();
  }, 120_000);

  afterAll(async () => {
    if (process.env.E2E_LOGS) console.error(stack?.daemon?.err.all.slice(-80).join("\n"));
    await stack?.destroy();
    await hosts?.destroy();
  });

  test("offered but off: the far host sees the client's own address, and the resource is listed", async () => {
    await until("the Internet Resource to be offered", async () => {
      const ir = (await stack.status()) as { internetResource?: { available: boolean } };
      return ir.internetResource?.available === true;
    });
    expect(await ctlJson(["internet-resource"])).toEqual({
      schemaVersion: 1,
      enabled: false,
      allowLan: false,
      available: true,
      active: false,
    });
    const list = JSON.parse((await stack.ctl(["resources", "--json"])).out).resources as Array<{
      type: string;
    }>;
    expect(list.some((r) => r.type === "internet")).toBe(true);
    await farSees(CLIENT);
    expect(await priorities()).not.toContain(INTERNET_RULE);
  });

  test("on: traffic to a host outside every resource goes through the gateway, seen as the gateway's address", async () => {
    expect(await ctlJson(["internet-resource", "on"])).toMatchObject({ enabled: true, available: true });
    await until("active", async () => (await ctlJson(["internet-resource"])).active === true);
    await farSees(stack.world.gatewayAddress);
    expect(await routeDev(FAR_ADDRESS)).toBe(stack.tun);
    // The host's own paths stay direct: the portal, the gateway's endpoint (marked or not).
    expect(await routeDev(stack.world.portalFromClient)).toBe("to-hub");
    expect(await routeDev(stack.world.gatewayAddress)).toBe("to-hub");
    expect(await priorities()).toContain(INTERNET_RULE);
    expect(await priorities()).not.toContain(LAN_RULE);
    expect((await stack.ctl(["status"])).out).toContain("Internet:   all traffic through the tunnel");
    // Resources still go to their own gateway, and the session never dropped.
    expect(await stack.fetchFromClient(stack.seed.web.address, 3000)).toContain("hello from web");
    expect((await stack.status()).state).toBe("connected");
  });

  test("without allow-LAN the LAN host is not reached directly: its traffic goes into the tunnel", async () => {
    expect(await routeDev(LAN_HOST_ADDRESS)).toBe(stack.tun);
    expect(await hosts.sourceSeenBy(LAN_HOST_ADDRESS, 2000)).toBeNull();
  });

  test("allow-LAN keeps the LAN host direct while the far host still goes through the gateway", async () => {
    expect(await ctlJson(["internet-resource", "on", "--allow-lan"])).toMatchObject({
      enabled: true,
      allowLan: true,
    });
    await until("the LAN rule", async () => (await priorities()).includes(LAN_RULE));
    expect(await routeDev(LAN_HOST_ADDRESS)).toBe("to-hub");
    expect(await hosts.sourceSeenBy(LAN_HOST_ADDRESS, 2000)).toBe(CLIENT);
    await farSees(stack.world.gatewayAddress);
    expect((await rules()).find((r) => r.priority === LAN_RULE)?.suppress_prefixlen).toBe(0);
  });

  test("portal away (reconnecting): internet traffic keeps going through the gateway", async () => {
    await Stack.kill(stack.portal);
    await stack.waitForState("reconnecting", 20_000);
    await farSees(stack.world.gatewayAddress);
    await stack.startPortal();
    await stack.waitForState("connected", 40_000);
  }, 90_000);

  test("gateway unreachable: nothing reaches the far host from the client's own address", async () => {
    const before = await hosts.packetsFrom(CLIENT);
    // Drop the gateway's WireGuard UDP where it enters the gateway.
    const block = `table inet fz_test_block {\n  chain input {\n    type filter hook input priority -10; policy accept;\n    udp dport 51820 drop\n  }\n}\n`;
    await inNs(stack.world.gateway, ["sh", "-c", `printf '%s' '${block}' | nft -f -`]);
    try {
      for (let i = 0; i < 3; i++) expect(await hosts.fetch(FAR_ADDRESS, 1500)).toBeNull();
      expect(await routeDev(FAR_ADDRESS)).toBe(stack.tun);
      expect(await hosts.packetsFrom(CLIENT)).toBe(before);
      expect((await ctlJson(["internet-resource"])).active).toBe(true);
    } finally {
      await inNs(stack.world.gateway, ["nft", "delete", "table", "inet", "fz_test_block"]);
    }
    await farSees(stack.world.gatewayAddress);
  }, 60_000);

  test("off restores the direct path and removes the rules", async () => {
    expect(await ctlJson(["internet-resource", "off"])).toMatchObject({ enabled: false, active: false });
    await until("rules gone", async () => {
      const p = await priorities();
      return !p.includes(INTERNET_RULE) && !p.includes(LAN_RULE);
    });
    await farSees(CLIENT);
    expect(await stack.fetchFromClient(stack.seed.web.address, 3000)).toContain("hello from web");
  });

  test("on again, then signed out: no tunnel, the direct path, no rules; the switch stays on for next time", async () => {
    await ctlJson(["internet-resource", "on"]);
    await farSees(stack.world.gatewayAddress);
    const r = await stack.ctl(["sign-out"]);
    expect(r.code).toBe(0);
    await until("rules gone", async () => !(await priorities()).includes(INTERNET_RULE));
    await farSees(CLIENT);
    expect(await ctlJson(["internet-resource"])).toMatchObject({ enabled: true, active: false });
    await signIn();
    await farSees(stack.world.gatewayAddress);
  }, 60_000);

  test("a SIGKILLed daemon's Internet Resource rules and routes are removed by the next start; the switch stays on", async () => {
    await farSees(stack.world.gatewayAddress);
    await Stack.kill(stack.daemon, "SIGKILL");
    expect(await priorities()).toContain(INTERNET_RULE);
    await stack.startDaemon();
    const table = String(internetTable(clientPolicy(stack.tun)));
    await until("rules gone", async () => !(await priorities()).includes(INTERNET_RULE));
    expect(await stack.clientIp(["-4", "route", "show", "table", table])).toEqual([]);
    expect(await stack.clientIp(["-6", "route", "show", "table", table])).toEqual([]);
    await farSees(CLIENT);
    expect(await ctlJson(["internet-resource"])).toMatchObject({
      enabled: true,
      allowLan: true,
      active: false,
    });
  }, 60_000);
});
