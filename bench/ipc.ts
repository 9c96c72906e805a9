// IPC benchmark: status requests per second and latency against a real firezoned, each figure next
// to a baseline measured in the same run, because these machines are noisy.
//   - throughput/latency baseline: a bare Bun Unix-socket echo of the same bytes (no framing, no
//     schema), served by a process of its own as firezoned is, so both pay the same wake-ups
//   - process baseline: a Bun hello-world compiled with the programs' own flags, against
//     `firezonectl status` as a whole process; their runs alternate, so load changes hit both alike
// Run as root: bun run bench:ipc   (BENCH_MS per figure, BENCH_RUNS process runs of each)
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connectDaemon } from "../lib/ipc/index.ts";
import { COMPILE_FLAGS } from "../scripts/build.ts";
import { ensureBuilt, FIREZONECTL } from "../tests/_support/build.ts";
import { startDaemon } from "../tests/_support/daemon.ts";
import { TestAccounts } from "../tests/_support/users.ts";

const DURATION_MS = Number(process.env.BENCH_MS ?? 3000);
const WARMUP_MS = Math.min(500, DURATION_MS / 4);
const RUNS = Number(process.env.BENCH_RUNS ?? 100);
const tmp = mkdtempSync(join(tmpdir(), "fzbench-"));
const accounts = new TestAccounts();

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN;
}

/** Keeps `depth` requests in flight on each of `conns` connections for `ms`; returns rate and latencies. */
async function loadFor(ms: number, conns: number, depth: number, once: (conn: number) => Promise<unknown>) {
  const latencies: number[] = [];
  const until = performance.now() + ms;
  await Promise.all(
    Array.from({ length: conns * depth }, async (_, i) => {
      while (performance.now() < until) {
        const t = performance.now();
        await once(i % conns);
        latencies.push(performance.now() - t);
      }
    }),
  );
  latencies.sort((a, b) => a - b);
  return {
    rps: latencies.length / (ms / 1000),
    p50: percentile(latencies, 50),
    p99: percentile(latencies, 99),
  };
}

/** Warms up (JIT, caches) on both ends first, then measures. */
async function load(conns: number, depth: number, once: (conn: number) => Promise<unknown>) {
  await loadFor(WARMUP_MS, conns, depth, once);
  return loadFor(DURATION_MS, conns, depth, once);
}

const ECHO_SERVER = `
Bun.listen({ unix: process.argv[1], socket: { data: (s, d) => void s.write(d) } });
console.log("ready");
`;

/** The baseline: Unix-socket round trips of the same request bytes, echoed back untouched by another process. */
async function echoClients(n: number) {
  const path = join(tmp, `echo-${n}-${Date.now()}.sock`);
  const server = Bun.spawn([process.execPath, "-e", ECHO_SERVER, path], {
    stdout: "pipe",
    stderr: "inherit",
  });
  await server.stdout.getReader().read();
  const payload = Buffer.from(JSON.stringify({ type: "request", id: 1, method: "status", params: {} }));
  const clients = await Promise.all(
    Array.from({ length: n }, async () => {
      // Echoes come back in order; each whole payload's worth of bytes answers the oldest request.
      const waiting: Array<() => void> = [];
      let received = 0;
      const sock = await Bun.connect({
        unix: path,
        socket: {
          data: (_s, d) => {
            received += d.length;
            while (received >= payload.length && waiting.length > 0) {
              received -= payload.length;
              waiting.shift()!();
            }
          },
        },
      });
      return () =>
        new Promise<void>((resolve) => {
          waiting.push(resolve);
          sock.write(payload);
        });
    }),
  );
  return {
    clients,
    stop: async () => {
      server.kill();
      await server.exited;
    },
  };
}

/**
 * A fresh copy of a binary. How long ago a 110 MB executable was written changes its start by a
 * millisecond or more here (byte-identical copies differ), so both binaries are written the same way.
 */
function freshCopy(path: string, name: string): string {
  const copy = join(tmp, name);
  writeFileSync(copy, readFileSync(path));
  chmodSync(copy, 0o755);
  return copy;
}

/** Median wall time of each command; runs alternate between the commands. */
function timeProcesses(cmds: string[][], env: Record<string, string>, runs: number): number[] {
  const times = cmds.map(() => [] as number[]);
  for (let i = -5; i < runs; i++) {
    cmds.forEach((cmd, c) => {
      const t = performance.now();
      const r = Bun.spawnSync(cmd, { env, stdout: "ignore", stderr: "ignore" });
      if (i >= 0) times[c]!.push(performance.now() - t);
      if (r.exitCode !== 0) throw new Error(`${cmd.join(" ")} exited ${r.exitCode}`);
    });
  }
  return times.map((t) =>
    percentile(
      t.sort((a, b) => a - b),
      50,
    ),
  );
}

const fmt = (n: number, d = 0) => n.toFixed(d);

try {
  ensureBuilt();
  const daemon = await startDaemon(accounts.group());
  try {
    const rows: string[] = [];
    for (const [conns, depth] of [
      [1, 1],
      [1, 32],
      [32, 1],
    ] as const) {
      const clients = await Promise.all(
        Array.from({ length: conns }, () => connectDaemon({ socketPath: daemon.socketPath })),
      );
      const ours = await load(conns, depth, (i) => clients[i]!.call("status", {}));
      for (const c of clients) c.close();
      const echo = await echoClients(conns);
      const base = await load(conns, depth, (i) => echo.clients[i]!());
      await echo.stop();
      const label = `${String(conns).padStart(2)} conn${depth > 1 ? `, ${depth} in flight` : ""}:`;
      rows.push(
        `status, ${label.padEnd(21)} ${fmt(ours.rps).padStart(7)} req/s  p50 ${fmt(ours.p50, 3)} ms  p99 ${fmt(ours.p99, 3)} ms` +
          `  | bare echo ${fmt(base.rps).padStart(7)} req/s p50 ${fmt(base.p50, 3)} ms  | ratio ${fmt(ours.rps / base.rps, 2)}`,
      );
    }

    // A compiled hello-world is the floor for any compiled Bun program's start.
    const hello = join(tmp, "hello.ts");
    writeFileSync(hello, 'console.log("hello");\n');
    const helloBin = join(tmp, "hello");
    const built = Bun.spawnSync([process.execPath, "build", ...COMPILE_FLAGS, hello, "--outfile", helloBin]);
    if (built.exitCode !== 0) throw new Error(`compiling the hello-world failed: ${built.stderr.toString()}`);
    const env = { FIREZONE_SOCKET: daemon.socketPath, PATH: "/usr/bin:/bin" };
    const [helloMs, ctlMs] = timeProcesses(
      [[freshCopy(helloBin, "hello-copy")], [freshCopy(FIREZONECTL, "firezonectl"), "status"]],
      env,
      RUNS,
    ) as [number, number];
    console.log(`IPC benchmark (${DURATION_MS} ms per figure)`);
    for (const r of rows) console.log(r);
    console.log(
      `firezonectl status, whole process: ${fmt(ctlMs, 2)} ms median of ${RUNS}  | compiled hello-world ${fmt(helloMs, 2)} ms` +
        `  | ratio ${fmt(ctlMs / helloMs, 2)} (goal <= 2.00)`,
    );
  } finally {
    await daemon.stop();
  }
} finally {
  accounts.cleanup();
  rmSync(tmp, { recursive: true, force: true });
}
