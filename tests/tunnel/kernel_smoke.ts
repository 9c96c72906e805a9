// Kernel WireGuard smoke test, for a machine (or VM) with the wireguard module: the project's Tunnel
// with backend "kernel" in a client namespace, a gateway namespace configured with `ip link add ...
// type wireguard` and `wg`, then ping, a TCP transfer with checksums, `wg show dump`, stats and down.
// Run as root from the repository: bun tests/tunnel/kernel_smoke.ts   Exit 0 when every check
// passed, 1 otherwise (also when the module is missing). Needs: the wireguard module, iproute2,
// wireguard-tools (`wg`), iputils-ping; no wireguard-go and no npm packages. Takes a few seconds.
import { resolve } from "node:path";
import type { PeerStats } from "../../lib/wireguard/index.ts";
import { BUN, CLIENT_V4, CLIENT_V6, Lab, RESOURCE_V4, RESOURCE_V6, runIn, tryRun } from "./_lab.ts";

let failures = 0;
function check(what: string, ok: boolean, detail = ""): void {
  console.log(`${ok ? "ok  " : "FAIL"} ${what}${detail && !ok ? `: ${detail}` : ""}`);
  if (!ok) failures++;
}

const probe = tryRun(["ip", "link", "add", "fz-wgprobe0", "type", "wireguard"]);
if (probe.code !== 0) {
  console.log(
    `FAIL kernel WireGuard is not available here (ip link add type wireguard: ${probe.err.trim()})`,
  );
  process.exit(1);
}
tryRun(["ip", "link", "del", "fz-wgprobe0"]);

const lab = new Lab();
try {
  lab.setUp("kernel");
  const host = await lab.startHost({ BACKEND: "kernel" });
  await host.call("cleanupStale");
  const started = Date.now();
  await host.call("up", { privateKey: lab.clientKeys.privateKey, addresses: [CLIENT_V4, CLIENT_V6] });
  await host.call("setPeers", [lab.gatewayPeer(["10.99.0.0/24", "fd99::/64"])], { replace: true });
  await host.call("setRoutes", ["10.99.0.0/24", "fd99::/64"]);
  console.log(`     tunnel configured in ${Date.now() - started} ms`);
  const info = await host.call<{ backend: string }>("info");
  check("the Tunnel chose the kernel backend", info.backend === "kernel", info.backend);
  const [link] = JSON.parse(lab.inClient(["ip", "-j", "-d", "link", "show", lab.tunName]));
  check(
    "the interface is a wireguard link with MTU 1280",
    link?.linkinfo?.info_kind === "wireguard" && link.mtu === 1280,
  );

  const v4 = await runIn(lab.client, ["ping", "-c", "3", "-i", "0.2", "-W", "2", RESOURCE_V4]);
  check("IPv4 ping through the tunnel", v4.out.includes("3 received"), v4.out);
  const v6 = await runIn(lab.client, ["ping", "-c", "3", "-i", "0.2", "-W", "2", RESOURCE_V6]);
  check("IPv6 ping through the tunnel", v6.out.includes("3 received"), v6.out);

  const sink = Bun.spawn(
    ["ip", "netns", "exec", lab.gateway, BUN, resolve(import.meta.dir, "fixtures/tcp_sink.ts")],
    {
      stdout: "pipe",
      env: { PATH: process.env.PATH ?? "", PORT: "5001", HOST: RESOURCE_V4 },
    },
  );
  const reader = sink.stdout.getReader();
  await reader.read(); // "listening"
  const sent = await runIn(lab.client, [BUN, resolve(import.meta.dir, "fixtures/tcp_send.ts")], {
    HOST: RESOURCE_V4,
    PORT: "5001",
    MIB: "4",
  });
  let received = "";
  for (let r = await reader.read(); !r.done; r = await reader.read())
    received += new TextDecoder().decode(r.value);
  check(
    "4 MiB over TCP with matching SHA-256",
    sent.code === 0 && received.trim() === sent.out.trim(),
    `${sent.out} vs ${received}`,
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

  await host.call("down");
  check("down removes the link", !lab.inClient(["ip", "-j", "link"]).includes(lab.tunName));
} catch (e) {
  check("no exception", false, (e as Error).stack ?? String(e));
} finally {
  await lab.tearDown();
}
console.log(failures === 0 ? "kernel smoke: all checks passed" : `kernel smoke: ${failures} check(s) failed`);
process.exit(failures === 0 ? 0 : 1);
