// Tunnel benchmark: the project's Tunnel (wireguard-go backend, configured through netlink and UAPI)
// against the same wireguard-go set up by hand with `ip` and `wg`, in the same run and the same
// namespaces, alternating rounds because these machines are noisy.
//   - iperf3 TCP throughput, 1 and 4 streams, client namespace -> resource behind the gateway
//   - time from Tunnel.up() (or the first hand-made command) to the first ping reply
//   - CPU and RSS of the process owning the tunnel while it carries traffic
// Run as root: bun run bench:tunnel   (BENCH_SECONDS per iperf3 run, default 4; BENCH_ROUNDS, default 6)

import { readFileSync } from "node:fs";
import type { Subprocess } from "bun";
import {
  CLIENT_V4,
  CLIENT_V6,
  Lab,
  RESOURCE_V4,
  runIn,
  type TunnelHost,
  tryRun,
} from "../tests/tunnel/_lab.ts";

const SECONDS = Number(process.env.BENCH_SECONDS ?? 4);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 6);
const ROUTES = ["10.99.0.0/24", "fd99::/64"];
const TICKS = 100; // USER_HZ

const lab = new Lab();
const handName = `wg-hd-${lab.id}`;

function cpuTicks(pid: number): number {
  // Fields after the ")" of comm: state is [0], utime [11], stime [12].
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return Number(f[11]) + Number(f[12]);
}
function rssKiB(pid: number): number {
  return Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1] ?? Number.NaN);
}

async function iperf(streams: number): Promise<number> {
  const r = await runIn(lab.client, [
    "iperf3",
    "-c",
    RESOURCE_V4,
    "-t",
    String(SECONDS),
    // Leave TCP slow start out of the figure.
    "-O",
    "1",
    "-P",
    String(streams),
    "-J",
  ]);
  if (r.code !== 0) throw new Error(`iperf3 failed: ${r.out.slice(0, 500)} ${r.err}`);
  return JSON.parse(r.out).end.sum_received.bits_per_second / 1e9;
}

/** Sends one ping and waits for its reply (the first packet also triggers the handshake). */
async function firstPing(): Promise<void> {
  for (let i = 0; i < 20; i++) {
    if ((await runIn(lab.client, ["ping", "-c", "1", "-W", "1", RESOURCE_V4])).code === 0) return;
  }
  throw new Error("no ping reply through the tunnel");
}

async function oursUp(): Promise<{ host: TunnelHost; ms: number }> {
  const host = await lab.startHost();
  await host.call("cleanupStale");
  const t = performance.now();
  await host.call("up", { privateKey: lab.clientKeys.privateKey, addresses: [CLIENT_V4, CLIENT_V6] });
  await host.call("setPeers", [lab.gatewayPeer(ROUTES)], { replace: true });
  await host.call("setRoutes", ROUTES);
  await firstPing();
  return { host, ms: performance.now() - t };
}

async function oursDown(host: TunnelHost): Promise<void> {
  await host.call("down");
  host.proc.kill();
  await host.proc.exited;
}

async function handUp(): Promise<number> {
  const key = `/tmp/${handName}.key`;
  await Bun.write(key, `${lab.clientKeys.privateKey}\n`);
  const t = performance.now();
  lab.inClient(["wireguard-go", handName]);
  lab.inClient([
    "wg",
    "set",
    handName,
    "private-key",
    key,
    "peer",
    lab.gatewayKeys.publicKey,
    "endpoint",
    "192.0.2.2:51820",
    "allowed-ips",
    ROUTES.join(","),
    "persistent-keepalive",
    "25",
  ]);
  lab.inClient(["ip", "addr", "add", CLIENT_V4, "dev", handName]);
  lab.inClient(["ip", "-6", "addr", "add", CLIENT_V6, "dev", handName, "nodad"]);
  lab.inClient(["ip", "link", "set", handName, "mtu", "1280", "up"]);
  lab.inClient(["ip", "route", "add", ROUTES[0]!, "dev", handName]);
  lab.inClient(["ip", "-6", "route", "add", ROUTES[1]!, "dev", handName]);
  await firstPing();
  tryRun(["rm", "-f", key]);
  return performance.now() - t;
}

function handDown(): void {
  lab.inClient(["ip", "link", "del", handName]);
}

const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
/** Medians compare the two sides: one run disturbed by a neighbour on these shared cores moves a mean. */
const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};
const results = {
  ours1: [] as number[],
  hand1: [] as number[],
  ours4: [] as number[],
  hand4: [] as number[],
};
const upMs = { ours: [] as number[], hand: [] as number[] };
const usage: { cpuPct: number; rssKiB: number; wgCpuPct: number }[] = [];
let server: Subprocess | null = null;

try {
  lab.setUp();
  server = Bun.spawn(["ip", "netns", "exec", lab.gateway, "iperf3", "-s", "-B", RESOURCE_V4], {
    stdout: "ignore",
    stderr: "ignore",
  });
  await Bun.sleep(300);
  const ours = async () => {
    // The owner's CPU and memory are sampled over the 4-stream run.
    const { host, ms } = await oursUp();
    upMs.ours.push(ms);
    results.ours1.push(await iperf(1));
    const { backendPid } = await host.call<{ backendPid: number }>("info");
    const [c0, w0, t0] = [cpuTicks(host.proc.pid), cpuTicks(backendPid), performance.now()];
    results.ours4.push(await iperf(4));
    const elapsed = (performance.now() - t0) / 1000;
    usage.push({
      cpuPct: ((cpuTicks(host.proc.pid) - c0) / TICKS / elapsed) * 100,
      rssKiB: rssKiB(host.proc.pid),
      wgCpuPct: ((cpuTicks(backendPid) - w0) / TICKS / elapsed) * 100,
    });
    await oursDown(host);
  };
  const hand = async () => {
    upMs.hand.push(await handUp());
    results.hand1.push(await iperf(1));
    results.hand4.push(await iperf(4));
    handDown();
  };
  // Alternate which goes first, so a drift in machine load does not favour one side.
  for (let round = 0; round < ROUNDS; round++) {
    if (round % 2 === 0) {
      await ours();
      await hand();
    } else {
      await hand();
      await ours();
    }
  }

  const runs = (xs: number[], digits: number) => xs.map((x) => x.toFixed(digits)).join(" ");
  const line = (label: string, ours: number[], hand: number[], unit: string, digits = 3) =>
    console.log(
      `${label.padEnd(24)} ours ${median(ours).toFixed(digits)} ${unit} [${runs(ours, digits)}]   by hand ${median(hand).toFixed(digits)} ${unit} [${runs(hand, digits)}]   ratio ${(median(ours) / median(hand)).toFixed(3)}`,
    );
  console.log(
    `\ntunnel benchmark: ${ROUNDS} rounds, iperf3 ${SECONDS} s per run, TCP over wireguard-go, MTU 1280; medians, each run in []`,
  );
  line("throughput, 1 stream", results.ours1, results.hand1, "Gbit/s");
  line("throughput, 4 streams", results.ours4, results.hand4, "Gbit/s");
  line("up to first ping reply", upMs.ours, upMs.hand, "ms", 1);
  console.log(
    `owner process under load CPU ${mean(usage.map((u) => u.cpuPct)).toFixed(1)} %   RSS ${(mean(usage.map((u) => u.rssKiB)) / 1024).toFixed(1)} MiB   (wireguard-go itself: CPU ${mean(usage.map((u) => u.wgCpuPct)).toFixed(0)} %)`,
  );
  const ratio = Math.min(
    median(results.ours1) / median(results.hand1),
    median(results.ours4) / median(results.hand4),
  );
  console.log(`throughput ratio (worst of 1 and 4 streams): ${ratio.toFixed(3)} (goal >= 0.95)`);
} finally {
  server?.kill();
  tryRun(["ip", "netns", "exec", lab.client, "ip", "link", "del", handName]);
  await lab.tearDown();
}
