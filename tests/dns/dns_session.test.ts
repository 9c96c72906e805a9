// The daemon's DNS session in a real network namespace: a TUN device (without a reader) stands in for the tunnel
// device (the sentinel addresses go on it), a real dnsmasq in another namespace is the system's
// original resolver, and the resolv.conf being managed is a file of the test's own (the same code
// path as /etc/resolv.conf, without touching the host's). Asked with dig, as an application would.
import { afterAll, afterEach, beforeAll, describe, expect, test } from "bun:test";
import { mkdirSync, readFileSync, renameSync, statSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { resolvConfIsManaged } from "../../lib/dns/index.ts";
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

  function host(config: Record<string, unknown>, wrap: string[] = []): StubProcess {
    const proc = Bun.spawn(
      [
        "ip",
        "netns",
        "exec",
        lab.client,
        ...wrap,
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
  async function tell(p: StubProcess, command: string, prefix: string): Promise<string> {
    p.proc.stdin.write(`${command}\n`);
    p.proc.stdin.flush();
    return p.waitFor(prefix);
  }
  const ask = async (p: StubProcess, command: string, prefix: string): Promise<unknown> =>
    JSON.parse(await tell(p, command, prefix));
  type Status = { dnsUpstreams: string[] } | null;
  /** Asks for status until `ok` holds: the file watch acts a debounce after the change. */
  async function until(p: StubProcess, ok: (s: Status) => boolean): Promise<Status> {
    let last: Status = null;
    for (let i = 0; i < 100; i++) {
      last = (await ask(p, "status", "status")) as Status;
      if (ok(last)) return last;
      await Bun.sleep(100);
    }
    throw new Error(`status never got there: ${JSON.stringify(last)}`);
  }
  /** Another program replacing the file the way DHCP clients do: a new file renamed over it. */
  function renameOver(path: string, text: string): void {
    writeFileSync(`${path}.dhcp-new`, text, { mode: 0o644 });
    renameSync(`${path}.dhcp-new`, path);
  }
  const dig = (name: string, type = "A", server = SENTINEL4) =>
    lab.dig([`@${server}`, "+short", "+time=3", "+tries=1", name, type]).out.trim();
  const sentinelsOnLink = () =>
    Bun.spawnSync(["ip", "-n", lab.client, "addr", "show", "dev", "fzt0"]).stdout.toString();

  beforeAll(async () => {
    lab = new DnsLab().setUp();
    await lab.startDnsmasq();
    Bun.spawnSync(["ip", "-n", lab.client, "tuntap", "add", "dev", "fzt0", "mode", "tun"]);
    Bun.spawnSync(["ip", "-n", lab.client, "link", "set", "fzt0", "up"]);
    resolvConf = join(lab.tmp, "resolv.conf");
    stateDir = join(lab.tmp, "state");
  });
  // A test that failed half-way must not leave its stub holding the sentinels for the next one.
  afterEach(async () => {
    for (const p of live.splice(0)) {
      p.proc.kill("SIGKILL");
      await p.proc.exited;
    }
  });
  afterAll(() => {
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

  describe("when the network changes", () => {
    const NEW = "# from the new network's DHCP server\nnameserver 10.53.0.9\nsearch hotel.example\n";

    test("resolv-conf: a file renamed over ours is adopted without a reset (its servers are the upstreams, stop restores it); the stub is back in charge and keeps its proxy addresses", async () => {
      writeFileSync(resolvConf, ORIGINAL, { mode: 0o644 });
      const p = host({ mode: "resolv-conf" });
      await p.waitFor("ready");
      expect(dig("app.corp.example")).toBe("100.96.0.1");

      renameOver(resolvConf, NEW);
      expect((await until(p, (s) => s?.dnsUpstreams[0] === "10.53.0.9"))?.dnsUpstreams).toEqual([
        "10.53.0.9",
      ]);
      const written = readFileSync(resolvConf, "utf8");
      expect(written).toContain(`nameserver ${SENTINEL4}\nnameserver ${SENTINEL6}\n`);
      expect(written).toContain("search hotel.example");
      expect(written).not.toContain("lan.example");
      // The name keeps the address it had: connections opened through it go on.
      expect(dig("app.corp.example")).toBe("100.96.0.1");
      expect(await ask(p, "allowed res-app", "allowed")).toEqual([
        "100.96.0.1/32",
        "fd00:2021:1111:8000::1/128",
      ]);

      await tell(p, "stop", "stopped");
      expect(readFileSync(resolvConf, "utf8")).toBe(NEW);
      await p.stop();
    });

    test("resolv-conf: a rewrite in place (same inode, as dhcpcd does) is adopted too; a reset finds it at the latest", async () => {
      writeFileSync(resolvConf, ORIGINAL, { mode: 0o644 });
      const p = host({ mode: "resolv-conf" });
      await p.waitFor("ready");
      const inode = statSync(resolvConf).ino;
      writeFileSync(resolvConf, NEW);
      expect(statSync(resolvConf).ino).toBe(inode);
      await tell(p, "reset", "refreshed");
      expect(((await ask(p, "status", "status")) as Status)?.dnsUpstreams).toEqual(["10.53.0.9"]);
      expect(readFileSync(resolvConf, "utf8")).toContain(`nameserver ${SENTINEL4}`);
      await tell(p, "stop", "stopped");
      expect(readFileSync(resolvConf, "utf8")).toBe(NEW);
      await p.stop();
    });

    test("resolv-conf: a program that keeps rewriting the file is left alone after five times a minute, with a warning, until the next reset", async () => {
      writeFileSync(resolvConf, ORIGINAL, { mode: 0o644 });
      const p = host({ mode: "resolv-conf" });
      await p.waitFor("ready");
      for (let i = 1; i <= 5; i++) {
        renameOver(resolvConf, `nameserver 10.53.0.${20 + i}\n`);
        await until(p, (s) => s?.dnsUpstreams[0] === `10.53.0.${20 + i}`);
      }
      const sixth = "nameserver 10.53.0.26\n";
      renameOver(resolvConf, sixth);
      expect(await p.waitFor("warning")).toContain("keeps rewriting");
      expect(readFileSync(resolvConf, "utf8")).toBe(sixth);
      // A network change starts over: the file is adopted and the warning goes.
      await tell(p, "reset", "refreshed");
      expect(await p.waitFor("warning")).toBe("null");
      expect(((await ask(p, "status", "status")) as Status)?.dnsUpstreams).toEqual(["10.53.0.26"]);
      await tell(p, "stop", "stopped");
      expect(readFileSync(resolvConf, "utf8")).toBe(sixth);
      await p.stop();
    });

    test("resolv-conf in the unit's sandbox (/etc read-only, the file a writable bind mount): a file renamed over it on the host cannot be followed; the daemon is told, the warning names the fix, and stop leaves the new file", async () => {
      writeFileSync(resolvConf, ORIGINAL, { mode: 0o644 });
      mkdirSync(stateDir, { recursive: true });
      // As ReadWritePaths= under ProtectSystem=strict: the file and the state directory writable,
      // the directory holding the file read-only, in a mount namespace of the stub's own.
      const setUp = [
        'mount --bind "$0" "$0"',
        'mount --bind "$1" "$1"',
        'mount --bind "$2" "$2"',
        'mount -o remount,bind,ro "$0"',
        'shift 2; exec "$@"',
      ].join(" && ");
      const wrap = [
        "unshare",
        "-m",
        "--propagation",
        "private",
        "sh",
        "-c",
        setUp,
        lab.tmp,
        resolvConf,
        stateDir,
      ];
      const p = host({ mode: "resolv-conf" }, wrap);
      await p.waitFor("ready");
      expect(readFileSync(resolvConf, "utf8")).toContain(`nameserver ${SENTINEL4}`);
      // dhclient's way: a new file renamed over it. The kernel detaches the bind mount in the
      // stub's namespace, which now sees the new file on the read-only directory.
      renameOver(resolvConf, NEW);
      await p.waitFor("unfollowable");
      const warning = await p.waitFor("warning");
      expect(warning).toContain("was replaced by another program");
      expect(warning).toContain("systemctl restart firezoned");
      await tell(p, "stop", "stopped");
      expect(readFileSync(resolvConf, "utf8")).toBe(NEW);
      expect(resolvConfIsManaged(stateDir)).toBe(false);
      await p.stop();
    });

    test("off: the stub follows the system's servers when the file changes", async () => {
      writeFileSync(resolvConf, ORIGINAL);
      const p = host({ mode: "off" });
      await p.waitFor("ready");
      renameOver(resolvConf, NEW);
      await until(p, (s) => s?.dnsUpstreams[0] === "10.53.0.9");
      expect(readFileSync(resolvConf, "utf8")).toBe(NEW);
      await p.stop();
    });
  });
});
