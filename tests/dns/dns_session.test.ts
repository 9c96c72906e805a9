// The daemon's DNS session in a real network namespace: a TUN device (without a reader) stands in for the tunnel
// device (the sentinel addresses go on it), a real dnsmasq in another namespace is the system's
// original resolver, and the resolv.conf being managed is a file of the test's own (the same code
// path as /etc/resolv.conf, without touching the host's). Asked with dig, as an application would.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { readFileSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { canRun, DnsLab, StubProcess, UPSTREAM_IP } from "./_lab.ts";

const SENTINEL4 = "100.100.111.1";
const SENTINEL6 = "fd00:2021:1111:8000:100:100:111:1";
const ORIGINAL = `# the system's own\nnameserver ${UPSTREAM_IP}\nsearch lan.example\noptions edns0 timeout:2\n`;
const RESOURCES = [
  { id: "res-app", pattern: "app.corp.example" },
  { id: "res-wild", pattern: "*.internal.example" },
];

describe.skipIf(!canRun)("DnsSession (namespaces, dnsmasq as the system's resolver)", () => {
  let lab: DnsLab;
  let resolvConf: string;
  let stateDir: string;
  const live: StubProcess[] = [];

  function host(config: Record<string, unknown>): StubProcess {
    const proc = Bun.spawn(
      [
        "ip",
        "netns",
        "exec",
        lab.client,
        process.execPath,
        resolve(import.meta.dir, "fixtures/dns_session_host.ts"),
        JSON.stringify({ stateDir, resolvConfPath: resolvConf, resources: RESOURCES, ...config }),
      ],
      { stdin: "pipe", stdout: "pipe", stderr: "inherit" },
    );
    const p = new StubProcess(proc);
    live.push(p);
    return p;
  }
  async function ask(p: StubProcess, command: string, prefix: string): Promise<unknown> {
    p.proc.stdin.write(`${command}\n`);
    p.proc.stdin.flush();
    return JSON.parse(await p.waitFor(prefix));
  }
  const dig = (name: string, type = "A", server = SENTINEL4) =>
    lab.dig([`@${server}`, "+short", "+time=3", "+tries=1", name, type]).out.trim();
  const sentinelsOnLink = () =>
    Bun.spawnSync(["ip", "-n", lab.client, "addr", "show", "dev", "fzt0"]).stdout.toString();

  beforeAll(() => {
    lab = new DnsLab().setUp();
    lab.startDnsmasq();
    Bun.spawnSync(["ip", "-n", lab.client, "tuntap", "add", "dev", "fzt0", "mode", "tun"]);
    Bun.spawnSync(["ip", "-n", lab.client, "link", "set", "fzt0", "up"]);
    resolvConf = join(lab.tmp, "resolv.conf");
    stateDir = join(lab.tmp, "state");
  });
  afterAll(() => {
    for (const p of live) p.proc.kill("SIGKILL");
    lab?.tearDown();
  });

  test("resolv-conf: the file names the stub, resource names get proxy addresses, the rest the system's resolver; stop puts everything back", async () => {
    writeFileSync(resolvConf, ORIGINAL, { mode: 0o644 });
    const p = host({ mode: "resolv-conf", searchDomains: ["corp.example"] });
    const ready = JSON.parse(await p.waitFor("ready"));
    expect(ready).toEqual({
      dnsMode: "resolv-conf",
      dnsServers: [SENTINEL4, SENTINEL6],
      dnsUpstreams: [UPSTREAM_IP],
      dnsSearchDomains: ["corp.example"],
    });
    const written = readFileSync(resolvConf, "utf8");
    expect(written).toContain(`nameserver ${SENTINEL4}\nnameserver ${SENTINEL6}\n`);
    expect(written).toContain("search corp.example lan.example");
    expect(written).not.toContain(`nameserver ${UPSTREAM_IP}`);
    expect(sentinelsOnLink()).toContain(`${SENTINEL4}/32`);
    // The IPv6 sentinel is never the source of the client's packets (gateways accept only its
    // tunnel address): it is deprecated, preferred lifetime 0.
    const v6 = Bun.spawnSync(["ip", "-n", lab.client, "-6", "addr", "show", "dev", "fzt0"]).stdout.toString();
    expect(v6).toMatch(new RegExp(`${SENTINEL6}/128[^\n]*deprecated`));

    // dnsmasq knows app.corp.example as 198.51.100.1; the stub never asks it.
    expect(dig("app.corp.example")).toBe("100.96.0.1");
    expect(dig("app.corp.example", "AAAA", SENTINEL6)).toBe("fd00:2021:1111:8000::1");
    expect(await p.hookFor("app.corp.example")).toMatchObject({ resourceId: "res-app" });
    expect(await ask(p, "allowed res-app", "allowed")).toEqual([
      "100.96.0.1/32",
      "fd00:2021:1111:8000::1/128",
    ]);
    expect(dig("db.internal.example")).toBe("100.96.0.2");
    expect(await ask(p, "allowed res-wild", "allowed")).toEqual([
      "100.96.0.2/32",
      "fd00:2021:1111:8000::2/128",
    ]);
    // Not a resource: forwarded to the resolver the system had before.
    expect(dig("web.upstream.example")).toBe("192.0.2.80");

    p.proc.stdin.write("stop\n");
    p.proc.stdin.flush();
    await p.waitFor("stopped");
    expect(readFileSync(resolvConf, "utf8")).toBe(ORIGINAL);
    expect(sentinelsOnLink()).not.toContain(SENTINEL4);
    await ask(p, "status", "status").then((s) => expect(s).toBeNull());
    await p.stop();
  });

  test("the portal's upstream_dns replaces the system's servers; an entry that is not an address is skipped", async () => {
    // The system's file names a server that does not exist: only the portal's list can answer.
    const original = "nameserver 192.0.2.1\n";
    writeFileSync(resolvConf, original);
    const p = host({ mode: "resolv-conf", upstreamDns: ["not an address;", UPSTREAM_IP] });
    expect(JSON.parse(await p.waitFor("ready")).dnsUpstreams).toEqual([UPSTREAM_IP]);
    expect(dig("web.upstream.example")).toBe("192.0.2.80");
    await ask(p, "stop", "stopped").catch(() => {});
    await p.stop();
    expect(readFileSync(resolvConf, "utf8")).toBe(original);
  });

  test("kill -9 while the file is replaced: the next start's recovery restores it byte for byte", async () => {
    writeFileSync(resolvConf, ORIGINAL);
    const p = host({ mode: "resolv-conf" });
    await p.waitFor("ready");
    expect(readFileSync(resolvConf, "utf8")).not.toBe(ORIGINAL);
    p.proc.kill("SIGKILL");
    await p.proc.exited;
    const next = host({ recoverOnly: true });
    expect(await next.waitFor("recovered")).toBe("true");
    expect(readFileSync(resolvConf, "utf8")).toBe(ORIGINAL);
    // Nothing left to do the time after.
    const again = host({ recoverOnly: true });
    expect(await again.waitFor("recovered")).toBe("false");
  });

  test("off: the system's file is not touched; the stub still answers on the sentinels, forwarding to the file's servers", async () => {
    writeFileSync(resolvConf, ORIGINAL);
    const p = host({ mode: "off" });
    expect(JSON.parse(await p.waitFor("ready"))).toMatchObject({
      dnsMode: "off",
      dnsUpstreams: [UPSTREAM_IP],
    });
    expect(readFileSync(resolvConf, "utf8")).toBe(ORIGINAL);
    expect(dig("app.corp.example")).toBe("100.96.0.1");
    expect(dig("web.upstream.example")).toBe("192.0.2.80");
    await p.stop();
    expect(readFileSync(resolvConf, "utf8")).toBe(ORIGINAL);
  });
});
