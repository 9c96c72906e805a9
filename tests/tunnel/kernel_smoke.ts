// Kernel WireGuard smoke test, for a machine (or VM) with the wireguard module: the project's Tunnel
// with backend "kernel" in a client namespace, a gateway namespace configured with `ip link add ...
// type wireguard` and `wg`, then ping, a TCP transfer with checksums, `wg show dump`, stats and down.
// Run as root from the repository: bun tests/tunnel/kernel_smoke.ts   Exit 0 when every check
// passed, 1 otherwise (also when the module is missing). Needs: the wireguard module, iproute2,
// wireguard-tools (`wg`), iputils-ping; no wireguard-go and no npm packages. Takes a few seconds.
// It also works compiled (`bun build --compile`): it then runs its helpers as itself with
// --fz-role=<fixture>. FZ_SMOKE_BACKEND=userspace runs the same checks on wireguard-go instead.
import type { PeerStats, WgDevice, WgPeer } from "../../lib/wireguard/index.ts";
import {
  CLIENT_V4,
  CLIENT_V6,
  Lab,
  RESOURCE_V4,
  RESOURCE_V6,
  runIn,
  transferThroughTunnel,
  tryRun,
} from "./_lab.ts";
import { runSend } from "./fixtures/tcp_send.ts";
import { runSink } from "./fixtures/tcp_sink.ts";
import { runTunnelHost } from "./fixtures/tunnel_host.ts";

const kernel = process.env.FZ_SMOKE_BACKEND !== "userspace";
let failures = 0;
function check(what: string, ok: boolean, detail = ""): void {
  console.log(`${ok ? "ok  " : "FAIL"} ${what}${detail && !ok ? `: ${detail}` : ""}`);
  if (!ok) failures++;
}

async function smoke(): Promise<number> {
  if (kernel) {
    const probe = tryRun(["ip", "link", "add", "fz-wgprobe0", "type", "wireguard"]);
    if (probe.code !== 0) {
      console.log(
        `FAIL kernel WireGuard is not available here (ip link add type wireguard: ${probe.err.trim()})`,
      );
      return 1;
    }
    tryRun(["ip", "link", "del", "fz-wgprobe0"]);
  }
  const lab = new Lab();
  const ourRules = () =>
    ["-4", "-6"]
      .flatMap((f) => JSON.parse(lab.inClient(["ip", "-j", f, "rule", "show"])) as Array<{ fwmark?: string }>)
      .filter((r) => r.fwmark === "0xfd002021").length;
  try {
    lab.setUp(kernel ? "kernel" : "wireguard-go");
    const host = await lab.startHost({ BACKEND: kernel ? "kernel" : "userspace", POLICY: "client" });
    await host.call("cleanupStale");
    const started = Date.now();
    await host.call("up", { privateKey: lab.clientKeys.privateKey, addresses: [CLIENT_V4, CLIENT_V6] });
    await host.call("setPeers", [lab.gatewayPeer(["10.99.0.0/24", "fd99::/64"])], { replace: true });
    await host.call("setRoutes", ["10.99.0.0/24", "fd99::/64"]);
    console.log(`     tunnel configured in ${Date.now() - started} ms`);
    const info = await host.call<{ backend: string }>("info");
    const want = kernel ? "kernel" : "userspace";
    check(`the Tunnel chose the ${want} backend`, info.backend === want, info.backend);
    const [link] = JSON.parse(lab.inClient(["ip", "-j", "-d", "link", "show", lab.tunName]));
    const kind = kernel ? "wireguard" : "tun";
    check(
      `the interface is a ${kind} link with MTU 1280`,
      link?.linkinfo?.info_kind === kind && link.mtu === 1280,
    );

    // Policy routing as firezoned sets it up: the socket's mark and one rule per family.
    const fwmark = lab.inClient(["wg", "show", lab.tunName, "fwmark"]).trim();
    check("the WireGuard socket carries the mark 0xfd002021", fwmark === "0xfd002021", fwmark);
    check("one rule per family sends unmarked traffic to the client's table", ourRules() === 2);
    const v4 = await runIn(lab.client, ["ping", "-c", "3", "-i", "0.2", "-W", "2", RESOURCE_V4]);
    check("IPv4 ping through the tunnel", v4.out.includes("3 received"), v4.out);
    const v6 = await runIn(lab.client, ["ping", "-c", "3", "-i", "0.2", "-W", "2", RESOURCE_V6]);
    check("IPv6 ping through the tunnel", v6.out.includes("3 received"), v6.out);
    const t = await transferThroughTunnel(lab, 4);
    check(
      "4 MiB over TCP with matching SHA-256",
      t.code === 0 && t.sent !== "" && t.received === t.sent,
      `${t.sent} vs ${t.received}`,
    );

    const dump = lab
      .inClient(["wg", "show", lab.tunName, "dump"])
      .trim()
      .split("\n")
      .map((l) => l.split("\t"));
    check("wg show dump: our public key", dump[0]?.[1] === lab.clientKeys.publicKey);
    check(
      "wg show dump: the gateway peer and endpoint",
      dump[1]?.[0] === lab.gatewayKeys.publicKey && dump[1]?.[2] === "192.0.2.2:51820",
    );
    const [stats] = await host.call<PeerStats[]>("stats");
    check(
      "stats: handshake and bytes",
      !!stats && stats.lastHandshakeAgeMs !== null && stats.txBytes > 4 * 1024 * 1024,
    );

    // Many peers: more than one netlink message each way on the kernel backend.
    const bulk: WgPeer[] = Array.from({ length: 400 }, (_, i) => ({
      publicKey: Buffer.alloc(32, 0)
        .fill(i & 0xff, 0, 1)
        .fill(i >> 8, 1, 2)
        .fill(7, 2)
        .toString("base64"),
      allowedIps: [0, 1, 2, 3].map((j) => `10.${100 + (i >> 6)}.${((i & 63) << 2) | j}.0/24`),
    }));
    await host.call("configure", { peers: bulk });
    const device = await host.call<WgDevice>("device");
    const byKey = new Map((device.peers ?? []).map((p) => [p.publicKey, p.allowedIps ?? []]));
    check(
      "400 more peers with 4 allowed IPs each are set and read back intact",
      byKey.size === 401 &&
        bulk.every((p) => JSON.stringify(byKey.get(p.publicKey)) === JSON.stringify(p.allowedIps)),
      `${byKey.size} peers`,
    );
    const lines = lab.inClient(["wg", "show", lab.tunName, "dump"]).trim().split("\n").length;
    check("wg show dump lists all 401 peers", lines === 402, `${lines - 1} peers`);
    await host.call("setPeers", [lab.gatewayPeer(["10.99.0.0/24", "fd99::/64"])], { replace: true });
    const peers = lab.inClient(["wg", "show", lab.tunName, "peers"]).trim().split("\n");
    check(
      "replacing the peers leaves only the gateway",
      peers.length === 1 && peers[0] === lab.gatewayKeys.publicKey,
    );
    const again = await runIn(lab.client, ["ping", "-c", "2", "-i", "0.2", "-W", "2", RESOURCE_V4]);
    check("traffic still flows after the peer churn", again.out.includes("2 received"), again.out);

    await host.call("down");
    check("down removes the link", !lab.inClient(["ip", "-j", "link"]).includes(lab.tunName));

    // A crashed owner: its interface and routes outlive it until the next start cleans them up.
    await host.call("up", { privateKey: lab.clientKeys.privateKey, addresses: [CLIENT_V4] });
    await host.call("setRoutes", ["10.99.0.0/24"]);
    host.proc.kill("SIGKILL");
    await host.proc.exited;
    const ours = () =>
      JSON.parse(lab.inClient(["ip", "-j", "route", "show", "table", "all", "proto", "122"])).length;
    check(
      "after SIGKILL of the owner the interface, its route and its rules are still there",
      lab.inClient(["ip", "-j", "link"]).includes(lab.tunName) && ours() === 1 && ourRules() === 2,
    );
    const next = await lab.startHost({ BACKEND: kernel ? "kernel" : "userspace", POLICY: "client" });
    const removed = await next.call<string[]>("cleanupStale");
    check(
      "the next owner's cleanupStale removes them",
      !lab.inClient(["ip", "-j", "link"]).includes(lab.tunName) && ours() === 0 && ourRules() === 0,
      removed.join(", "),
    );
  } catch (e) {
    check("no exception", false, (e as Error).stack ?? String(e));
  } finally {
    await lab.tearDown();
  }
  console.log(failures === 0 ? "smoke: all checks passed" : `smoke: ${failures} check(s) failed`);
  return failures === 0 ? 0 : 1;
}

// Compiled, this binary is also its own helpers (see fixtureCommand in _lab.ts).
const role = process.argv.find((a) => a.startsWith("--fz-role="))?.slice("--fz-role=".length);
if (role === "tunnel_host") await runTunnelHost();
else if (role === "tcp_sink") runSink();
else if (role === "tcp_send") runSend();
else process.exit(await smoke());
