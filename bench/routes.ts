// Route benchmark (run as root: bun bench/routes.ts), in namespaces with the test portal and a
// wireguard-go peer (tests/_support/portal_lab.ts):
//   - 20,000 resources in one init, from the moment the portal sends it until every route is in the
//     kernel (each resource's request_connection answered at once with its own /32);
//   - `firezonectl resources --json` with those 20,000 (median of 5);
//   - the daemon's RSS afterwards (VmRSS and VmHWM, the peak).
// Baseline from the same run: the same 20,000 routes added by one `ip -batch` to a veth device in a
// namespace of their own. Goal: at most 1.5x `ip -batch`, and the daemon under 150 MiB.
import { readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { capture } from "../devstack/shared/capture.ts";
import { inNs } from "../devstack/shared/netns.ts";
import { initPayload, PortalLab } from "../tests/_support/portal_lab.ts";

const COUNT = Number(process.env.BENCH_RESOURCES ?? 20_000);
const addressOf = (i: number) => `10.${100 + (i >> 16)}.${(i >> 8) & 255}.${i & 255}`;
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const fmt = (ms: number) => `${ms.toFixed(0).padStart(7)} ms`;

async function routeCount(ns: string, dev: string): Promise<number> {
  const out = await inNs(ns, ["ip", "-4", "route", "show", "dev", dev]).catch(() => "");
  return out ? out.trimEnd().split("\n").length : 0;
}

/** CPU time (user + system) a process has used so far, in ms, from /proc/PID/stat. */
function cpuMs(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ");
  // utime and stime are fields 14 and 15 of stat(5), in clock ticks (100 per second here).
  return (Number(fields[11]) + Number(fields[12])) * 10;
}

function rssMiB(pid: number): number {
  const m = /VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  return Number(m?.[1] ?? 0) / 1024;
}

/** The floor: one `ip -batch` adding the same routes to a veth device, in a namespace of its own. */
async function ipBatch(): Promise<{ wall: number; cpu: number }> {
  const ns = `fzb${Math.random().toString(36).slice(2, 7)}`;
  const file = join(tmpdir(), `${ns}.batch`);
  writeFileSync(
    file,
    Array.from({ length: COUNT }, (_, i) => `route add ${addressOf(i)}/32 dev dummy0 proto 122\n`).join(""),
  );
  try {
    await capture(["ip", "netns", "add", ns]);
    // No dummy driver on these machines: one end of a veth pair serves as the device.
    await inNs(ns, ["ip", "link", "add", "dummy0", "type", "veth", "peer", "name", "dummy1"]);
    await inNs(ns, ["ip", "link", "set", "dummy1", "up"]);
    await inNs(ns, ["ip", "link", "set", "dummy0", "up"]);
    const t = performance.now();
    const p = Bun.spawn(["ip", "netns", "exec", ns, "ip", "-batch", file], {
      stdout: "ignore",
      stderr: "pipe",
    });
    if ((await p.exited) !== 0) throw new Error(`ip -batch failed: ${await new Response(p.stderr).text()}`);
    const wall = performance.now() - t;
    const usage = p.resourceUsage();
    const cpu = usage ? Number(usage.cpuTime.user + usage.cpuTime.system) / 1000 : Number.NaN;
    const n = await routeCount(ns, "dummy0");
    if (n !== COUNT) throw new Error(`ip -batch installed ${n} routes, not ${COUNT}`);
    return { wall, cpu };
  } finally {
    await capture(["ip", "netns", "del", ns]);
    rmSync(file, { force: true });
  }
}

const lab = await PortalLab.create();
try {
  const site = { id: "site-1", name: "hq" };
  const resources = Array.from({ length: COUNT }, (_, i) => ({
    id: `r${i}`,
    name: `resource ${String(i).padStart(5, "0")}`,
    type: "ip",
    address: addressOf(i),
    site,
  }));
  await lab.portal({
    replies: resources.map((r) => ({
      id: r.id,
      status: "ok",
      response: lab.details(r.id, [`${r.address}/32`]),
    })),
  });
  // Signed in with no resources first, so the figure is the init alone, not the sign-in.
  await lab.portal({ init: initPayload([]) });
  await lab.startDaemon();
  const signIn = lab.dev.ctl(["sign-in", "--token-stdin"], "bench-token\n");
  await lab.allowClient(await lab.nextJoin());
  if ((await signIn).code !== 0) throw new Error("sign-in failed");
  await lab.dev.waitForState("connected", 20_000);

  const pid = lab.daemon!.proc.pid;
  const cpu0 = cpuMs(pid);
  const t0 = performance.now();
  await lab.portal({ init: initPayload(resources) });
  for (;;) {
    const n = await routeCount(lab.dev.world.client, lab.tun);
    if (n >= COUNT) break;
    if (performance.now() - t0 > 300_000) throw new Error(`only ${n} of ${COUNT} routes after 300 s`);
    await Bun.sleep(50);
  }
  const install = performance.now() - t0;
  const installCpu = cpuMs(pid) - cpu0;
  const rssAfterInstall = rssMiB(pid);

  const list: number[] = [];
  for (let i = 0; i < 5; i++) {
    const t = performance.now();
    const r = await lab.dev.ctl(["resources", "--json"]);
    list.push(performance.now() - t);
    if (r.code !== 0 || (JSON.parse(r.out).resources as unknown[]).length !== COUNT)
      throw new Error(`resources --json failed: ${r.err}`);
  }
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const kib = (key: string) => Number(new RegExp(`${key}:\\s+(\\d+)`).exec(status)?.[1] ?? 0);
  const runs = [await ipBatch(), await ipBatch(), await ipBatch()];
  const batch = median(runs.map((r) => r.wall));
  const batchCpu = median(runs.map((r) => r.cpu));

  // Wall time on a shared machine counts other people's load; CPU time is what each side spent.
  console.log(`Route benchmark: ${COUNT} resources in one init (ip -batch: median of 3)`);
  console.log(`ip -batch, ${COUNT} routes            ${fmt(batch)}  (CPU ${batchCpu.toFixed(0)} ms)`);
  console.log(
    `init -> every route installed      ${fmt(install)}  | ratio to ip -batch ${(install / batch).toFixed(2)}` +
      `  (firezoned CPU ${installCpu.toFixed(0)} ms, ratio ${(installCpu / batchCpu).toFixed(2)})`,
  );
  console.log(`firezonectl resources --json       ${fmt(median(list))}  (median of 5)`);
  console.log(
    `firezoned RSS after                ${(kib("VmRSS") / 1024).toFixed(0).padStart(7)} MiB  (right after the routes ${rssAfterInstall.toFixed(0)} MiB; peak ${(kib("VmHWM") / 1024).toFixed(0)} MiB)`,
  );
} finally {
  await lab.destroy();
}
