// Policy routing end to end: real portal, gateway and firezoned in network namespaces. A CIDR
// resource covering both the gateway's endpoint and the portal is cut around them (the WireGuard
// handshake and the portal session survive, the rest of the resource goes through the tunnel),
// 0.0.0.0/0, the /1 halves and ::/0 are refused with warnings that `firezonectl status` shows,
// rules and table go on sign-out and after a SIGKILL at the next start, a second daemon with another
// interface name in the same namespace is left alone, and a devstack gateway runs beside the client.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { capture } from "../../devstack/shared/capture.ts";
import { inNs } from "../../devstack/shared/netns.ts";
import { DevWorld, FIREZONECTL, type Proc, ROOT } from "../../devstack/world.ts";
import {
  CLIENT_FWMARK,
  CLIENT_RULE_PRIORITY,
  clientPolicy,
  GATEWAY_FWMARK,
} from "../../lib/wireguard/index.ts";
import { BUN } from "../_support/build.ts";
import { Stack } from "../_support/stack.ts";

const canRun = process.getuid?.() === 0 && Bun.which("wireguard-go") !== null && Bun.which("nft") !== null;
const MARK = `0x${CLIENT_FWMARK.toString(16)}`;
// Covers the portal (10.77.1.1), the gateway's endpoint (10.77.2.2) and the hub's 10.77.2.1.
const COVERING = "10.77.0.0/16";

let stack: Stack;
let table: number;

type IpRule = { priority: number; table: string; fwmark?: string; not?: null };
const clientRules = async (tableId: number): Promise<IpRule[]> =>
  [
    ...((await stack.clientIp(["-4", "rule", "show"])) as IpRule[]),
    ...((await stack.clientIp(["-6", "rule", "show"])) as IpRule[]),
  ].filter((r) => r.table === String(tableId));
const tableRoutes = async (tableId: number): Promise<string[]> =>
  [
    ...((await stack.clientIp(["-4", "route", "show", "table", String(tableId)])) as Array<{ dst: string }>),
    ...((await stack.clientIp(["-6", "route", "show", "table", String(tableId)])) as Array<{ dst: string }>),
  ].map((r) => r.dst);
const routeDev = async (...args: string[]): Promise<string> =>
  ((await stack.clientIp(["route", "get", ...args])) as Array<{ dev: string }>)[0]!.dev;

async function until(what: string, fn: () => Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await fn())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await Bun.sleep(100);
  }
}

async function signIn(): Promise<void> {
  const token = stack.store((s) => s.createClientToken(stack.seed.aliceId));
  const r = await stack.ctl(["sign-in", "--token-stdin"], `${token.token}\n`);
  expect(r.code).toBe(0);
  await stack.waitForState("connected", 10_000);
  await stack.waitForFetch(stack.seed.web.address, 15_000);
}

describe.skipIf(!canRun)("policy routing end to end", () => {
  beforeAll(async () => {
    stack = await Stack.create();
    table = clientPolicy(stack.tun).table;
    stack.store((s) => {
      for (const [name, address] of [
        ["uplink", COVERING],
        ["everything", "0.0.0.0/0"],
        ["low-half", "0.0.0.0/1"],
        ["high-half", "128.0.0.0/1"],
        ["everything6", "::/0"],
      ] as const) {
        const r = s.createResource(stack.seed.accountId, stack.seed.siteId, { name, type: "cidr", address });
        s.createPolicy(stack.seed.accountId, stack.seed.everyone, r.id);
      }
    });
    await signIn();
  }, 120_000);

  afterAll(async () => {
    await stack?.destroy();
  });

  test("the covering resource is cut around the portal and the gateway endpoint, and the rest goes through the tunnel", async () => {
    await until("the covering resource's routes", async () => (await tableRoutes(table)).length > 10);
    expect(await routeDev("10.77.2.2")).toBe("to-hub");
    expect(await routeDev("10.77.1.1")).toBe("to-hub");
    expect(await routeDev("10.77.2.2", "mark", MARK)).toBe("to-hub");
    expect(await routeDev("10.77.2.1")).toBe(stack.tun);
    expect(await routeDev("10.77.200.9")).toBe(stack.tun);
    // The hub's portal port, reached at its gateway-side address through the tunnel.
    const before = Number(
      (await inNs(stack.world.client, ["wg", "show", stack.tun, "transfer"])).trim().split(/\s+/)[2],
    );
    const r = await capture([
      "ip",
      "netns",
      "exec",
      stack.world.client,
      "curl",
      "-s",
      "-o",
      "/dev/null",
      "-w",
      "%{http_code}",
      "--max-time",
      "5",
      "http://10.77.2.1:8080/",
    ]);
    expect(r.out).toMatch(/^[1-5]\d\d$/);
    const after = Number(
      (await inNs(stack.world.client, ["wg", "show", stack.tun, "transfer"])).trim().split(/\s+/)[2],
    );
    expect(after).toBeGreaterThan(before);
  });

  test("the WireGuard handshake and the portal session survive, and the other resource still answers", async () => {
    await Bun.sleep(2000);
    expect((await stack.status()).state).toBe("connected");
    // The same portal connection all along: it was never lost and re-made.
    expect(stack.daemon!.err.all.filter((l) => l.includes("portal connection lost"))).toEqual([]);
    const hs = (await inNs(stack.world.client, ["wg", "show", stack.tun, "latest-handshakes"]))
      .trim()
      .split(/\s+/)[1];
    expect(Number(hs)).toBeGreaterThan(0);
    expect(await stack.fetchFromClient(stack.seed.web.address, 3000)).toContain("hello from web");
    // A new resource is routed only after the client's request_connection reached the portal and
    // its answer came back: the session works in both directions.
    const extra = stack.store((s) => {
      const x = s.createResource(stack.seed.accountId, stack.seed.siteId, {
        name: "late",
        type: "cidr",
        address: "10.88.0.0/24",
      });
      s.createPolicy(stack.seed.accountId, stack.seed.everyone, x.id);
      return x.id;
    });
    await until("the late resource's route", async () => (await tableRoutes(table)).includes("10.88.0.0/24"));
    stack.store((s) => s.deleteResource(extra));
  });

  test("0.0.0.0/0, the /1 halves and ::/0 are refused: no route, and warnings in status", async () => {
    const routes = await tableRoutes(table);
    for (const wide of ["default", "0.0.0.0/1", "128.0.0.0/1", "::/0"]) expect(routes).not.toContain(wide);
    expect(await routeDev("192.0.2.77")).toBe("to-hub");
    const st = (await stack.status()) as { warnings?: string[] };
    const warnings = st.warnings ?? [];
    for (const wide of ["0.0.0.0/0", "0.0.0.0/1", "128.0.0.0/1", "::/0"])
      expect(warnings.some((w) => w.startsWith(`Resource ${wide} was not routed`))).toBe(true);
    expect(warnings).toContain(
      `Resource ${COVERING} covers 10.77.2.2, a gateway's WireGuard endpoint: that address is left out of the tunnel's routes so it keeps its direct path.`,
    );
    expect(warnings).toContain(
      `Resource ${COVERING} covers 10.77.1.1, the portal: that address is left out of the tunnel's routes so it keeps its direct path.`,
    );
    const text = (await stack.ctl(["status"])).out;
    expect(text).toContain("Warning:    Resource 0.0.0.0/0 was not routed");
    expect(text).toContain("Warning:    Resource 10.77.0.0/16 covers 10.77.1.1, the portal");
  });

  test("the client's rules are in place for both families and its routes are not in main", async () => {
    const rules = await clientRules(table);
    expect(rules).toHaveLength(2);
    for (const r of rules)
      expect(r).toMatchObject({ priority: CLIENT_RULE_PRIORITY, not: null, fwmark: MARK });
    const main = (await stack.clientIp(["route", "show", "table", "main", "proto", "122"])) as unknown[];
    expect(main).toEqual([]);
  });

  test("sign-out removes the rules, the table's routes and the interface", async () => {
    expect((await stack.ctl(["sign-out"])).code).toBe(0);
    expect(await clientRules(table)).toEqual([]);
    expect(await tableRoutes(table)).toEqual([]);
    expect(await stack.clientIp(["link", "show", "dev", stack.tun])).toEqual([]);
    expect(((await stack.status()) as { warnings?: string[] }).warnings).toBeUndefined();
  });

  test("after a SIGKILL the next start removes rules and routes; a second daemon with another interface name is left alone", async () => {
    // The second daemon: its own socket, state and interface name in the same namespace.
    const tmp = join(stack.tmp, "second");
    mkdirSync(join(tmp, "run"), { recursive: true });
    const otherTun = `o${stack.tun}`.slice(0, 15);
    const otherTable = clientPolicy(otherTun).table;
    expect(otherTable).not.toBe(table);
    const other = stack.dev.start("firezoned-2", stack.world.client, [join(ROOT, "dist/firezoned")], {
      FIREZONE_API_URL: `ws://${stack.world.portalFromClient}:8080`,
      FIREZONE_ALLOW_INSECURE_PORTAL: "1",
      FIREZONE_CONFIG: join(tmp, "firezoned.conf"),
      FIREZONE_SOCKET: join(tmp, "run/ipc.sock"),
      FIREZONE_STATE_DIR: join(tmp, "state"),
      FIREZONE_LOG_DIR: join(tmp, "log"),
      FIREZONE_TUN_NAME: otherTun,
      FIREZONE_DNS_CONTROL: "off",
      FIREZONE_TOKEN_FILE: join(tmp, "no-token"),
      FIREZONE_GROUP: "root",
    });
    await other.err.next(/listening/);
    const otherCtl = (args: string[], stdin?: string) =>
      capture([FIREZONECTL, ...args], {
        env: { FIREZONE_SOCKET: join(tmp, "run/ipc.sock"), PATH: "/usr/bin:/bin" },
        stdin,
      });
    const token = stack.store((s) => s.createClientToken(stack.seed.botId));
    expect((await otherCtl(["sign-in", "--token-stdin"], `${token.token}\n`)).code).toBe(0);
    await until("the second daemon's routes", async () => (await tableRoutes(otherTable)).length > 0, 15_000);

    await signIn();
    await until("the first daemon's routes", async () => (await tableRoutes(table)).length > 10);
    await Stack.kill(stack.daemon, "SIGKILL");
    // Left behind by the killed daemon: its rules (and wireguard-go with the interface and routes).
    expect(await clientRules(table)).toHaveLength(2);

    await stack.startDaemon();
    expect(await clientRules(table)).toEqual([]);
    expect(await tableRoutes(table)).toEqual([]);
    expect(stack.daemon!.err.all.join("\n")).toContain("cleaned up after a previous run");
    // The second daemon's rules, routes and interface are all still there.
    expect(await clientRules(otherTable)).toHaveLength(2);
    expect((await tableRoutes(otherTable)).length).toBeGreaterThan(0);
    expect(await stack.clientIp(["link", "show", "dev", otherTun])).toHaveLength(1);
    expect(JSON.parse((await otherCtl(["status", "--json"])).out).state).toBe("connected");

    expect((await otherCtl(["sign-out"])).code).toBe(0);
    expect(await clientRules(otherTable)).toEqual([]);
    await DevWorld.stop(other);
  }, 90_000);

  test("a devstack gateway on the same host as the client: distinct names and numbers, and neither disturbs the other", async () => {
    const site = stack.store((s) => s.createSite(stack.seed.accountId, "edge"));
    const gwToken = stack.store((s) => s.createGatewayToken(site.id).token);
    const gwIf = `g2${stack.tun}`.slice(0, 15);
    const colocated: Proc = stack.dev.start(
      "gateway-2",
      stack.world.client,
      [
        BUN,
        join(ROOT, "devstack/gateway/main.ts"),
        "--portal",
        `ws://${stack.world.portalFromClient}:8080`,
        "--endpoint",
        "10.77.1.2:51821",
        "--listen-port",
        "51821",
        "--interface",
        gwIf,
      ],
      { FIREZONE_GATEWAY_TOKEN: gwToken },
    );
    await colocated.out.next(/^ready/, 20_000);
    await signIn();
    await until("the client's routes", async () => (await tableRoutes(table)).length > 10);

    const gwRules = [
      ...((await stack.clientIp(["-4", "rule", "show"])) as IpRule[]),
      ...((await stack.clientIp(["-6", "rule", "show"])) as IpRule[]),
    ].filter((r) => r.fwmark === `0x${GATEWAY_FWMARK.toString(16)}`);
    expect(gwRules).toHaveLength(2);
    for (const r of gwRules) expect(r).toMatchObject({ table: "main" });
    expect(gwRules[0]!.priority).not.toBe(CLIENT_RULE_PRIORITY);
    expect((await inNs(stack.world.client, ["wg", "show", gwIf, "fwmark"])).trim()).toBe(
      `0x${GATEWAY_FWMARK.toString(16)}`,
    );
    expect((await inNs(stack.world.client, ["wg", "show", stack.tun, "fwmark"])).trim()).toBe(MARK);
    const gwRoutes = (await stack.clientIp(["route", "show", "table", "main", "dev", gwIf])) as Array<{
      dst: string;
    }>;
    expect(gwRoutes.map((r) => r.dst)).toContain("100.64.0.0/11");
    expect(await inNs(stack.world.client, ["nft", "list", "tables"])).toContain("fz_gateway");
    expect(await stack.fetchFromClient(stack.seed.web.address, 3000)).toContain("hello from web");

    // The client signing out (its sweep) leaves the gateway's interface, routes, rules and firewall.
    expect((await stack.ctl(["sign-out"])).code).toBe(0);
    expect(await clientRules(table)).toEqual([]);
    expect(await stack.clientIp(["link", "show", "dev", gwIf])).toHaveLength(1);
    expect(
      ((await stack.clientIp(["route", "show", "table", "main", "dev", gwIf])) as unknown[]).length,
    ).toBe(gwRoutes.length);
    expect(await inNs(stack.world.client, ["nft", "list", "tables"])).toContain("fz_gateway");
    expect(colocated.proc.exitCode).toBeNull();

    // And the gateway stopping leaves a signed-in client working.
    await signIn();
    await DevWorld.stop(colocated);
    expect(await stack.clientIp(["link", "show", "dev", gwIf])).toEqual([]);
    expect(await clientRules(table)).toHaveLength(2);
    expect(await stack.fetchFromClient(stack.seed.web.address, 3000)).toContain("hello from web");
  }, 90_000);
});
