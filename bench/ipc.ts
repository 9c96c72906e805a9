// IPC benchmark: status requests per second and latency against a real firezoned, each figure next
// to a baseline measured in the same run, because these machines are noisy.
//   - throughput/latency baseline: a bare Bun Unix-socket echo of the same bytes (no framing, no schema)
//   - process baseline: a compiled Bun hello-world, against `firezonectl status` as a whole process
// Run as root: bun run bench:ipc
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connectDaemon } from "../lib/ipc/index.ts";
import { ensureBuilt, FIREZONECTL } from "../tests/_support/build.ts";
import { startDaemon } from "../tests/_support/daemon.ts";
import { TestAccounts } from "../tests/_support/users.ts";

const DURATION_MS = Number(process.env.BENCH_MS ?? 3000);
const tmp = mkdtempSync(join(tmpdir(), "fzbench-"));
const accounts = new TestAccounts();

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN;
}

/** Runs `once` back to back on `conns` parallel loops for DURATION_MS; returns rate and latencies. */
async function load(conns: number, once: (i: number) => Promise<unknown>) {
  const latencies: number[] = [];
  const until = performance.now() + DURATION_MS;
  await Promise.all(
    Array.from({ length: conns }, async (_, i) => {
      while (performance.now() < until) {
        const t = performance.now();
        await once(i);
        latencies.push(performance.now() - t);
      }
    }),
  );
  latencies.sort((a, b) => a - b);
  return {
    rps: latencies.length / (DURATION_MS / 1000),
    p50: percentile(latencies, 50),
    p99: percentile(latencies, 99),
  };
}

/** The baseline: one Unix-socket round trip of the same request bytes, echoed back untouched. */
async function echoClients(n: number) {
  const path = join(tmp, "echo.sock");
  const server = Bun.listen({ unix: path, socket: { data: (s, d) => void s.write(d) } });
  const payload = Buffer.from(JSON.stringify({ type: "request", id: 1, method: "status", params: {} }));
  const clients = await Promise.all(
    Array.from({ length: n }, async () => {
      let wake: (() => void) | null = null;
      const sock = await Bun.connect({ unix: path, socket: { data: () => wake?.() } });
      return () =>
        new Promise<void>((resolve) => {
          wake = resolve;
          sock.write(payload);
        });
    }),
  );
  return { clients, stop: () => server.stop(true) };
}

function timeProcess(cmd: string[], env: Record<string, string>, runs: number): number {
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t = performance.now();
    const r = Bun.spawnSync(cmd, { env, stdout: "ignore", stderr: "ignore" });
    times.push(performance.now() - t);
    if (r.exitCode !== 0) throw new Error(`${cmd.join(" ")} exited ${r.exitCode}`);
  }
  times.sort((a, b) => a - b);
  return percentile(times, 50);
}

const fmt = (n: number, d = 0) => n.toFixed(d);

try {
  ensureBuilt();
  const daemon = await startDaemon(accounts.group());
  try {
    const rows: string[] = [];
    for (const conns of [1, 32]) {
      const clients = await Promise.all(
        Array.from({ length: conns }, () => connectDaemon({ socketPath: daemon.socketPath })),
      );
      const ours = await load(conns, (i) => clients[i]!.call("status", {}));
      for (const c of clients) c.close();
      const echo = await echoClients(conns);
      const base = await load(conns, (i) => echo.clients[i]!());
      echo.stop();
      rows.push(
        `status, ${String(conns).padStart(2)} conn: ${fmt(ours.rps).padStart(7)} req/s  p50 ${fmt(ours.p50, 3)} ms  p99 ${fmt(ours.p99, 3)} ms` +
          `  | bare echo ${fmt(base.rps).padStart(7)} req/s p50 ${fmt(base.p50, 3)} ms  | ratio ${fmt(ours.rps / base.rps, 2)}`,
      );
    }

    // A compiled hello-world is the floor for any compiled Bun program's start.
    const hello = join(tmp, "hello.ts");
    writeFileSync(hello, 'console.log("hello");\n');
    const helloBin = join(tmp, "hello");
    Bun.spawnSync([process.execPath, "build", "--compile", "--minify", hello, "--outfile", helloBin]);
    const env = { FIREZONE_SOCKET: daemon.socketPath, PATH: "/usr/bin:/bin" };
    const runs = Number(process.env.BENCH_RUNS ?? 40);
    timeProcess([helloBin], env, 5);
    timeProcess([FIREZONECTL, "status"], env, 5);
    const helloMs = timeProcess([helloBin], env, runs);
    const ctlMs = timeProcess([FIREZONECTL, "status"], env, runs);
    const helloMs2 = timeProcess([helloBin], env, runs);
    const baseline = Math.min(helloMs, helloMs2);
    console.log(`IPC benchmark (${DURATION_MS} ms per figure)`);
    for (const r of rows) console.log(r);
    console.log(
      `firezonectl status, whole process: ${fmt(ctlMs, 2)} ms median of ${runs}  | compiled hello-world ${fmt(baseline, 2)} ms` +
        `  | ratio ${fmt(ctlMs / baseline, 2)} (goal <= 2.00)`,
    );
  } finally {
    await daemon.stop();
  }
} finally {
  accounts.cleanup();
  rmSync(tmp, { recursive: true, force: true });
}
