// The devstack gateway's DNS NAT in namespaces: client -> gateway -> resource, with a real dnsmasq
// as the gateway's resolver. Traffic to the client's proxy address reaches the name's real address;
// when the name's address changes, new connections follow it after the TTL.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import type { Subprocess } from "bun";
import { type Dnsmasq, startDnsmasq } from "../_support/dnsmasq.ts";
import { canRun, has, StubProcess } from "./_lab.ts";

const id = Math.random().toString(36).slice(2, 7);
const C = `fznc-${id}`;
const G = `fzng-${id}`;
const R = `fznr-${id}`;
const tmp = mkdtempSync(join(tmpdir(), "fz-dnsnat-"));
// dnsmasq reads its hosts file after dropping root, as user dnsmasq/nobody.
chmodSync(tmp, 0o755);
const procs: Subprocess[] = [];

function sh(cmd: string[]): string {
  const r = Bun.spawnSync(cmd, { stdout: "pipe", stderr: "pipe" });
  if (r.exitCode !== 0) throw new Error(`${cmd.join(" ")} failed: ${r.stderr.toString()}`);
  return r.stdout.toString();
}
const curl = (ns: string, url: string) =>
  Bun.spawnSync(["ip", "netns", "exec", ns, "curl", "-s", "--max-time", "3", url], {
    stdout: "pipe",
  }).stdout.toString();

describe.skipIf(!canRun || !has("nft") || !has("curl"))("gateway DNS NAT (namespaces, dnsmasq)", () => {
  let nat: StubProcess;
  const hosts = join(tmp, "hosts");
  let dnsmasq: Dnsmasq | undefined;

  beforeAll(async () => {
    for (const ns of [C, G, R]) {
      sh(["ip", "netns", "add", ns]);
      sh(["ip", "-n", ns, "link", "set", "lo", "up"]);
    }
    sh(["ip", "link", "add", `nc-${id}`, "netns", C, "type", "veth", "peer", "name", `ng-${id}`, "netns", G]);
    sh(["ip", "link", "add", `nr-${id}`, "netns", R, "type", "veth", "peer", "name", `nh-${id}`, "netns", G]);
    sh(["ip", "-n", C, "addr", "add", "10.60.0.1/24", "dev", `nc-${id}`]);
    sh(["ip", "-n", C, "addr", "add", "100.64.0.2/32", "dev", `nc-${id}`]);
    sh(["ip", "-n", G, "addr", "add", "10.60.0.2/24", "dev", `ng-${id}`]);
    sh(["ip", "-n", G, "addr", "add", "10.61.0.1/24", "dev", `nh-${id}`]);
    sh(["ip", "-n", R, "addr", "add", "10.61.0.10/24", "dev", `nr-${id}`]);
    sh(["ip", "-n", R, "addr", "add", "10.61.0.11/24", "dev", `nr-${id}`]);
    for (const [ns, dev] of [
      [C, `nc-${id}`],
      [G, `ng-${id}`],
      [G, `nh-${id}`],
      [R, `nr-${id}`],
    ] as const)
      sh(["ip", "-n", ns, "link", "set", dev, "up"]);
    // The client sends proxy-address traffic from its tunnel address, as through the tunnel.
    sh(["ip", "-n", C, "route", "add", "100.96.0.0/11", "via", "10.60.0.2", "src", "100.64.0.2"]);
    sh(["ip", "-n", G, "route", "add", "100.64.0.2/32", "via", "10.60.0.1"]);
    sh(["ip", "-n", R, "route", "add", "default", "via", "10.61.0.1"]);
    sh(["ip", "netns", "exec", G, "sysctl", "-qw", "net.ipv4.ip_forward=1"]);
    writeFileSync(hosts, "10.61.0.10 app.corp.example\n");
    dnsmasq = await startDnsmasq({
      ns: R,
      listen: ["10.61.0.10"],
      dir: tmp,
      lines: [`addn-hosts=${hosts}`, "local-ttl=2"],
    });
    const webs = Bun.spawn(
      ["ip", "netns", "exec", R, process.execPath, resolve(import.meta.dir, "fixtures/two_webs.ts")],
      {
        stdout: "pipe",
        stderr: "inherit",
      },
    );
    procs.push(webs);
    await webs.stdout.getReader().read();
    await Bun.sleep(300);
    const host = Bun.spawn(
      ["ip", "netns", "exec", G, process.execPath, resolve(import.meta.dir, "fixtures/gateway_nat_host.ts")],
      {
        stdin: "pipe",
        stdout: "pipe",
        stderr: "inherit",
      },
    );
    procs.push(host);
    nat = new StubProcess(host);
  });

  afterAll(async () => {
    await nat?.stop();
    await dnsmasq?.stop();
    for (const p of procs) p.kill("SIGKILL");
    for (const ns of [C, G, R]) Bun.spawnSync(["ip", "netns", "del", ns]);
    rmSync(tmp, { recursive: true, force: true });
  });

  test("traffic to the client's proxy address reaches the name's real address", async () => {
    expect(JSON.parse(await nat.waitFor("ready"))).toEqual({ v4: "10.61.0.10", v6: null });
    expect(curl(C, "http://100.96.0.1/")).toBe("one");
    // The rule is the client's: the gateway's own traffic to the proxy address is not translated.
    expect(sh(["ip", "netns", "exec", G, "nft", "list", "table", "inet", "fz_gateway_dns"])).toContain(
      "ip saddr 100.64.0.2 ip daddr 100.96.0.1 dnat ip to 10.61.0.10",
    );
  });

  test("when the name's address changes, new connections follow it after the TTL", async () => {
    writeFileSync(hosts, "10.61.0.11 app.corp.example\n");
    await dnsmasq!.reload();
    let now = "";
    for (let i = 0; i < 40 && !now.includes("10.61.0.11"); i++) {
      await Bun.sleep(250);
      nat.proc.stdin.write("current\n");
      nat.proc.stdin.flush();
      now = await nat.waitFor("current");
    }
    expect(JSON.parse(now)).toEqual({ v4: "10.61.0.11", v6: null });
    expect(curl(C, "http://100.96.0.1/")).toBe("two");
  });
});
