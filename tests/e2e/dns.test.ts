// DNS resources end to end: the devstack portal, gateway and HTTP resource in their namespaces, a
// real dnsmasq on the resource network holding the resource's name (the gateway's resolver), a
// second dnsmasq on the hub as the account's upstream_dns, and the compiled firezoned in the client
// namespace. The client namespace's resolv.conf names the stub (dns_control is off in tests: the
// namespaces share the host's /etc), so curl resolves through it as any application would.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { capture } from "../../devstack/shared/capture.ts";
import { type Dnsmasq, startDnsmasq } from "../_support/dnsmasq.ts";
import { Stack } from "../_support/stack.ts";

const canRun =
  process.getuid?.() === 0 &&
  Bun.which("dnsmasq") !== null &&
  Bun.which("dig") !== null &&
  Bun.which("curl") !== null;
const HUB_DNS = "10.77.1.1";

let stack: Stack;
const dnsmasqs: Dnsmasq[] = [];
const netnsDirs: string[] = [];

async function dnsmasq(ns: string, listen: string, lines: string[]): Promise<void> {
  dnsmasqs.push(await startDnsmasq({ ns, listen: [listen], lines, dir: stack.tmp }));
}

/** A resolv.conf for every process later started in `ns` with `ip netns exec` (bind-mounted there). */
function netnsResolvConf(ns: string, text: string): void {
  const dir = `/etc/netns/${ns}`;
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, "resolv.conf"), text);
  netnsDirs.push(dir);
}

async function inClient(cmd: string[]): Promise<{ code: number; out: string }> {
  const { code, out, err } = await capture(["ip", "netns", "exec", stack.world.client, ...cmd]);
  return { code, out: out + err };
}
const dig = async (name: string, type = "A") =>
  (await inClient(["dig", "@100.100.111.1", "+short", "+time=3", "+tries=1", name, type])).out.trim();

describe.skipIf(!canRun)("DNS resources end to end", () => {
  let appId = "";

  beforeAll(async () => {
    stack = await Stack.create();
    const w = stack.world;
    // The resource side's DNS: it alone knows app.corp.example's real address.
    await dnsmasq(w.resource, w.resourceAddress, [
      "local=/corp.example/",
      `address=/app.corp.example/${w.resourceAddress}`,
    ]);
    // The "public" upstream, on the hub: a name of its own, and it does not know the corp zone.
    await dnsmasq(w.hub, HUB_DNS, ["address=/web.upstream.example/192.0.2.80", "local=/corp.example/"]);
    // The gateway resolves through the resource network's DNS: restart it with that resolv.conf.
    netnsResolvConf(w.gateway, `nameserver ${w.resourceAddress}\n`);
    await Stack.kill(stack.gateway);
    await stack.startGateway();
    netnsResolvConf(w.client, "nameserver 100.100.111.1\n");
    stack.store((s) => {
      s.setUpstreamDns(stack.seed.accountId, [HUB_DNS]);
      const app = s.createResource(stack.seed.accountId, stack.seed.siteId, {
        name: "app",
        type: "dns",
        address: "App.Corp.Example.",
      });
      appId = app.id;
      s.createPolicy(stack.seed.accountId, stack.seed.everyone, app.id);
      // A dns resource nobody has a policy for.
      s.createResource(stack.seed.accountId, stack.seed.siteId, {
        name: "hidden",
        type: "dns",
        address: "hidden.corp.example",
      });
    });
    const token = stack.store((s) => s.createClientToken(stack.seed.aliceId));
    const r = await stack.ctl(["sign-in", "--token-stdin", "--json"], `${token.token}\n`);
    expect(r.code).toBe(0);
    await stack.waitForState("connected", 15_000);
  }, 180_000);

  afterAll(async () => {
    if (process.env.E2E_LOGS)
      for (const p of [stack?.gateway, stack?.daemon])
        console.error([...(p?.out.all ?? []), ...(p?.err.all ?? [])].slice(-80).join("\n"));
    for (const d of dnsmasqs) await d.stop();
    for (const d of netnsDirs) rmSync(d, { recursive: true, force: true });
    await stack?.destroy();
  });

  test("firezonectl resources lists the dns resource with its pattern; status shows the DNS mode and servers", async () => {
    const list = JSON.parse((await stack.ctl(["resources", "--json"])).out).resources as Array<
      Record<string, unknown>
    >;
    expect(list.find((r) => r.id === appId)).toMatchObject({
      name: "app",
      type: "dns",
      address: "app.corp.example",
    });
    expect(list.some((r) => r.name === "hidden")).toBe(false);
    const st = (await stack.status()) as Record<string, unknown>;
    expect(st).toMatchObject({
      dnsMode: "off",
      dnsUpstreams: [HUB_DNS],
    });
  });

  test("the stub answers the resource name with a proxy address, and curl by name reaches the resource through the gateway", async () => {
    const proxy = await dig("app.corp.example");
    expect(proxy).toMatch(/^100\.(9[6-9]|1[01]\d|12[0-7])\.\d+\.\d+$/);
    const r = await inClient([
      "curl",
      "-s",
      "--max-time",
      "5",
      "-w",
      "\nremote=%{remote_ip}",
      "http://app.corp.example/",
    ]);
    expect(r.code).toBe(0);
    // curl connected to the proxy address (the name never resolved to the real one on the client);
    // the gateway's DNAT took it to the resource, which is reachable only through the gateway.
    expect(r.out).toContain(`remote=${proxy}`);
    expect(r.out.split("\nremote=")[0]!.length).toBeGreaterThan(0);
    // The proxy address went to the gateway's peer, as an allowed IP of that peer only.
    const dump = await inClient(["wg", "show", stack.tun, "allowed-ips"]);
    expect(dump.out).toContain(`${proxy}/32`);
  });

  test("a name that is not a resource resolves through the portal's upstream", async () => {
    expect(await dig("web.upstream.example")).toBe("192.0.2.80");
  });

  test("a dns resource without a policy is not answered with a proxy address", async () => {
    const out = await dig("hidden.corp.example");
    expect(out).not.toMatch(/^100\.(9[6-9]|1[01]\d|12[0-7])\./m);
  });

  test("the portal's search domain, set with the devstack admin CLI, reaches the daemon; a bad one is refused with a warning and the tunnel keeps working", async () => {
    const admin = (domain: string) =>
      Bun.spawnSync(
        [
          process.execPath,
          join(import.meta.dir, "../../devstack/portal/admin.ts"),
          "set-search-domain",
          "--db",
          stack.db,
          "--account",
          stack.seed.accountId,
          "--domain",
          domain,
        ],
        { stdout: "pipe", stderr: "pipe" },
      );
    const statusUntil = async (ok: (st: Record<string, unknown>) => boolean) => {
      const until = Date.now() + 15_000;
      let st = (await stack.status()) as Record<string, unknown>;
      while (!ok(st) && Date.now() < until) {
        await Bun.sleep(200);
        st = (await stack.status()) as Record<string, unknown>;
      }
      return st;
    };
    expect(admin("Corp.Example").exitCode).toBe(0);
    let st = await statusUntil((s) => JSON.stringify(s.dnsSearchDomains) === '["corp.example"]');
    expect(st).toMatchObject({ state: "connected", dnsSearchDomains: ["corp.example"] });
    expect((await stack.ctl(["status"])).out).toContain("search corp.example");

    expect(admin("*.corp.example").exitCode).toBe(0);
    // The warning comes with the portal's message; the stub drops the old domain in the tunnel pass after it.
    st = await statusUntil(
      (s) =>
        JSON.stringify(s.warnings ?? []).includes("search domain") &&
        JSON.stringify(s.dnsSearchDomains) === "[]",
    );
    expect(st.state).toBe("connected");
    expect(st.dnsSearchDomains).toEqual([]);
    expect(JSON.stringify(st.warnings)).toContain('search domain \\"*.corp.example\\" is not a domain name');
    // Names still resolve.
    expect(await dig("web.upstream.example")).toBe("192.0.2.80");

    expect(admin("").exitCode).toBe(0);
    st = await statusUntil((s) => !JSON.stringify(s.warnings ?? []).includes("search domain"));
    expect(st.dnsSearchDomains).toEqual([]);
  });
});
