// DNS benchmark: dnsperf against the stub and against dnsmasq doing the same jobs, in the same run,
// in one network namespace of its own:
//   upstream  dnsmasq at 127.0.0.2, authoritative for fwd.example (both servers forward to it)
//   stub      DnsStub at 127.0.0.10 (resource **.corp.example, upstream 127.0.0.2)
//   baseline  dnsmasq at 127.0.0.11: address=/corp.example/ for the resource names, server=127.0.0.2
//             with cache-size=0 for the forwarded ones (the stub has no cache; a cache measures another job)
// Rounds alternate stub and dnsmasq so load changes on a shared machine hit both alike; the best
// round of each is reported. The stub runs with its per-source rate limit raised: dnsperf is one
// source sending far more than the shipped 2,000 queries/s.
// Run as root: bun run bench:dns   (BENCH_SECONDS per round, BENCH_ROUNDS rounds)
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import type { Subprocess } from "bun";

const SECONDS = Number(process.env.BENCH_SECONDS ?? 5);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 2);
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

/** One dnsperf run; p99 from its per-query verbose lines. */
function dnsperf(server: string, file: string): Result {
  const out = sh(
    inNs(["dnsperf", "-s", server, "-d", file, "-l", String(SECONDS), "-c", "4", "-q", "200", "-v"]),
  );
  const latencies: number[] = [];
  for (const m of out.matchAll(/^> \S+ .* ([\d.]+)$/gm)) latencies.push(Number(m[1]) * 1000);
  latencies.sort((a, b) => a - b);
  const num = (re: RegExp) => Number(re.exec(out)?.[1] ?? Number.NaN);
  return {
    qps: num(/Queries per second:\s+([\d.]+)/),
    lost: num(/Queries lost:\s+(\d+)/),
    avgMs: num(/Average Latency \(s\):\s+([\d.]+)/) * 1000,
    p99Ms: latencies[Math.min(latencies.length - 1, Math.floor(latencies.length * 0.99))] ?? Number.NaN,
  };
}

const best = (rs: Result[]) => rs.reduce((a, b) => (b.qps > a.qps ? b : a));
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
  // A warm-up so the stub's JIT and proxy table are past their first queries.
  dnsperfWarm();
  for (let r = 0; r < ROUNDS; r++)
    for (const job of ["resource", "forward"] as const) {
      const file = job === "resource" ? resourceFile : forwardFile;
      runs[job].stub.push(dnsperf("127.0.0.10", file));
      runs[job].dnsmasq.push(dnsperf("127.0.0.11", file));
    }

  console.log(
    `DNS benchmark: dnsperf, 4 clients, 200 outstanding, ${SECONDS} s x ${ROUNDS} rounds (best round)`,
  );
  for (const job of ["resource", "forward"] as const) {
    const s = best(runs[job].stub);
    const d = best(runs[job].dnsmasq);
    const goal = job === "resource" ? 1 : 0.8;
    console.log(
      `  ${job === "resource" ? "resource names " : "forwarded names"} | stub ${fmt(s.qps).padStart(6)} q/s p99 ${fmt(s.p99Ms, 2)} ms lost ${s.lost}` +
        ` | dnsmasq ${fmt(d.qps).padStart(6)} q/s p99 ${fmt(d.p99Ms, 2)} ms lost ${d.lost}` +
        ` | ratio ${fmt(s.qps / d.qps, 2)} (goal >= ${goal.toFixed(1)})`,
    );
  }
  for (const job of ["resource", "forward"] as const)
    console.log(
      `  all rounds, ${job}: stub ${runs[job].stub.map((r) => fmt(r.qps)).join(", ")}; dnsmasq ${runs[job].dnsmasq.map((r) => fmt(r.qps)).join(", ")}`,
    );
} finally {
  for (const p of procs) p.kill("SIGKILL");
  Bun.spawnSync(["ip", "netns", "del", ns]);
  rmSync(tmp, { recursive: true, force: true });
}

function dnsperfWarm() {
  const warm = join(tmp, "warm.txt");
  writeFileSync(warm, "h0.corp.example A\nh0.fwd.example A\n");
  Bun.spawnSync(inNs(["dnsperf", "-s", "127.0.0.10", "-d", warm, "-l", "1"]), { stdout: "ignore" });
}
