// DNS benchmark: dnsperf against the stub and against dnsmasq doing the same jobs, in the same run,
// in one network namespace of its own:
//   upstream  dnsmasq at 127.0.0.2, authoritative for fwd.example (both servers forward to it)
//   stub      DnsStub at 127.0.0.10 (resource **.corp.example, upstream 127.0.0.2)
//   baseline  dnsmasq at 127.0.0.11: address=/corp.example/ for the resource names, server=127.0.0.2
//             with cache-size=0 for the forwarded ones (the stub has no cache; a cache measures another job)
// Rounds alternate stub and dnsmasq so load changes on a shared machine hit both alike; the ratio
// reported is the median of the rounds' ratios (each round's stub run against the dnsmasq run
// right after it), with the best round of each beside it. The stub runs with its per-source rate limit raised: dnsperf is one
// source sending far more than the shipped 2,000 queries/s.
// Run as root: bun run bench:dns   (BENCH_SECONDS per round, BENCH_ROUNDS rounds)
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import type { Subprocess } from "bun";

const SECONDS = Number(process.env.BENCH_SECONDS ?? 3);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const LATENCY_QPS = 2000;
const ns = `fzbdns-${Math.random().toString(36).slice(2, 7)}`;
const tmp = mkdtempSync(join(tmpdir(), "fz-bench-dns-"));
const procs: Subprocess[] = [];

function sh(cmd: string[]): string {
  const r = Bun.spawnSync(cmd, { stdout: "pipe", stderr: "pipe" });
  if (r.exitCode !== 0) throw new Error(`${cmd.join(" ")} failed: ${r.stderr.toString()}`);
  return r.stdout.toString();
}
const inNs = (cmd: string[]) => ["ip", "netns", "exec", ns, ...cmd];

function dnsmasq(name: string, lines: string[]) {
  const conf = join(tmp, `${name}.conf`);
  writeFileSync(conf, ["no-resolv", "no-hosts", "bind-interfaces", ...lines, ""].join("\n"));
  procs.push(
    Bun.spawn(inNs(["dnsmasq", "--keep-in-foreground", `--conf-file=${conf}`, "--pid-file="]), {
      stdout: "ignore",
      stderr: "inherit",
    }),
  );
}

async function waitFor(server: string, name: string) {
  for (let i = 0; i < 100; i++) {
    const r = Bun.spawnSync(inNs(["dig", `@${server}`, "+short", "+time=1", "+tries=1", name]), {
      stdout: "pipe",
    });
    if (r.stdout.toString().trim() !== "") return;
    await Bun.sleep(100);
  }
  throw new Error(`${server} does not answer ${name}`);
}

interface Result {
  qps: number;
  lost: number;
  avgMs: number;
  p99Ms: number;
}

/** Throughput: as many queries as the server takes (dnsperf without -v, which would slow dnsperf itself). */
function dnsperf(server: string, file: string): Result {
  const out = sh(inNs(["dnsperf", "-s", server, "-d", file, "-l", String(SECONDS), "-c", "4", "-q", "200"]));
  const num = (re: RegExp) => Number(re.exec(out)?.[1] ?? Number.NaN);
  return {
    qps: num(/Queries per second:\s+([\d.]+)/),
    lost: num(/Queries lost:\s+(\d+)/),
    avgMs: num(/Average Latency \(s\):\s+([\d.]+)/) * 1000,
    p99Ms: Number.NaN,
  };
}

/** Latency at a fixed rate well under both servers' limits: p50 and p99 from dnsperf's per-query lines. */
function latency(server: string, file: string): { p50Ms: number; p99Ms: number } {
  const out = sh(inNs(["dnsperf", "-s", server, "-d", file, "-l", "2", "-Q", String(LATENCY_QPS), "-v"]));
  const ms: number[] = [];
  for (const m of out.matchAll(/^> \S+ .* ([\d.]+)$/gm)) ms.push(Number(m[1]) * 1000);
  ms.sort((a, b) => a - b);
  const at = (p: number) => ms[Math.min(ms.length - 1, Math.floor(ms.length * p))] ?? Number.NaN;
  return { p50Ms: at(0.5), p99Ms: at(0.99) };
}

const best = (rs: Result[]) => rs.reduce((a, b) => (b.qps > a.qps ? b : a));
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? Number.NaN;
const fmt = (n: number, d = 0) => n.toFixed(d);

try {
  sh(["ip", "netns", "add", ns]);
  sh(inNs(["ip", "link", "set", "lo", "up"]));
  dnsmasq("upstream", [
    "listen-address=127.0.0.2",
    "cache-size=0",
    "local=/fwd.example/",
    "address=/fwd.example/192.0.2.1",
  ]);
  dnsmasq("baseline", [
    "listen-address=127.0.0.11",
    "cache-size=0",
    "server=127.0.0.2",
    "address=/corp.example/100.96.0.1",
  ]);
  const stub = Bun.spawn(
    inNs([
      process.execPath,
      resolve(import.meta.dir, "../tests/dns/fixtures/stub_host.ts"),
      JSON.stringify({
        listen: [{ address: "127.0.0.10", port: 53 }],
        upstreams: [{ address: "127.0.0.2", port: 53 }],
        resources: [{ id: "bench", pattern: "**.corp.example" }],
        hook: "none",
        limits: { perSourceQps: 10_000_000, perSourceBurst: 10_000_000, maxInFlight: 4096 },
      }),
    ]),
    { stdin: "pipe", stdout: "ignore", stderr: "inherit" },
  );
  procs.push(stub);
  await waitFor("127.0.0.2", "a.fwd.example");
  await waitFor("127.0.0.11", "a.fwd.example");
  await waitFor("127.0.0.10", "a.fwd.example");

  const resourceFile = join(tmp, "resource.txt");
  const forwardFile = join(tmp, "forward.txt");
  writeFileSync(resourceFile, Array.from({ length: 1000 }, (_, i) => `h${i}.corp.example A\n`).join(""));
  writeFileSync(forwardFile, Array.from({ length: 1000 }, (_, i) => `h${i}.fwd.example A\n`).join(""));

  const runs = {
    resource: { stub: [] as Result[], dnsmasq: [] as Result[] },
    forward: { stub: [] as Result[], dnsmasq: [] as Result[] },
  };
  // A warm-up: the stub's JIT and its proxy table (one allocation per name) past their first queries.
  dnsperf("127.0.0.10", resourceFile);
  dnsperf("127.0.0.10", forwardFile);
  console.log(`load average before: ${sh(["cat", "/proc/loadavg"]).trim()}`);
  for (let r = 0; r < ROUNDS; r++)
    for (const job of ["resource", "forward"] as const) {
      const file = job === "resource" ? resourceFile : forwardFile;
      runs[job].stub.push(dnsperf("127.0.0.10", file));
      runs[job].dnsmasq.push(dnsperf("127.0.0.11", file));
    }
  const lat = {
    resource: { stub: latency("127.0.0.10", resourceFile), dnsmasq: latency("127.0.0.11", resourceFile) },
    forward: { stub: latency("127.0.0.10", forwardFile), dnsmasq: latency("127.0.0.11", forwardFile) },
  };

  console.log(
    `DNS benchmark: dnsperf -c 4 -q 200, ${SECONDS} s x ${ROUNDS} rounds (best round shown); latency at ${LATENCY_QPS} q/s`,
  );
  for (const job of ["resource", "forward"] as const) {
    const s = best(runs[job].stub);
    const d = best(runs[job].dnsmasq);
    const ratio = median(runs[job].stub.map((r, i) => r.qps / runs[job].dnsmasq[i]!.qps));
    const goal = job === "resource" ? 1 : 0.8;
    const l = lat[job];
    console.log(
      `  ${job === "resource" ? "resource names " : "forwarded names"}` +
        ` | stub ${fmt(s.qps).padStart(6)} q/s, p50 ${fmt(l.stub.p50Ms, 2)} ms, p99 ${fmt(l.stub.p99Ms, 2)} ms` +
        ` | dnsmasq ${fmt(d.qps).padStart(6)} q/s, p50 ${fmt(l.dnsmasq.p50Ms, 2)} ms, p99 ${fmt(l.dnsmasq.p99Ms, 2)} ms` +
        ` | ratio ${fmt(ratio, 2)} (median of rounds; goal >= ${goal.toFixed(1)})`,
    );
  }
  for (const job of ["resource", "forward"] as const)
    console.log(
      `  rounds, ${job}: stub ${runs[job].stub.map((r) => fmt(r.qps)).join(", ")}; dnsmasq ${runs[job].dnsmasq.map((r) => fmt(r.qps)).join(", ")}`,
    );
} finally {
  for (const p of procs) p.kill("SIGKILL");
  Bun.spawnSync(["ip", "netns", "del", ns]);
  rmSync(tmp, { recursive: true, force: true });
}
