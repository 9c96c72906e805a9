// Boots the test image under qemu (TCG; KVM guests fail on these hosts) with a 9p share for input and
// results and the serial console in a file. The base image stays untouched: writes go to an overlay.
import { existsSync } from "node:fs";
import { join } from "node:path";
import type { Kernel } from "./image.ts";

export interface BootOptions {
  image: string;
  kernel: Kernel;
  runDir: string;
  shareDir: string;
  /** Shared read-only as 9p tag "fzrepo", for test scripts that run from the source tree. */
  repoDir?: string;
  timeoutMs: number;
  memoryMb?: number;
  cpus?: number;
}

export interface BootResult {
  exitCode: number | null;
  timedOut: boolean;
  seconds: number;
  console: string;
}

/** A reason qemu cannot be used here, or null when it can. */
export function qemuUnusable(): string | null {
  if (!Bun.which("qemu-system-x86_64"))
    return "qemu-system-x86_64 is not installed (Debian: qemu-system-x86)";
  if (!Bun.which("qemu-img")) return "qemu-img is not installed (Debian: qemu-utils)";
  const probe = Bun.spawnSync(["qemu-system-x86_64", "-accel", "help"], { stdout: "pipe", stderr: "pipe" });
  if (probe.exitCode !== 0 || !probe.stdout.toString().includes("tcg")) return "qemu-system-x86_64 lacks TCG";
  return null;
}

export async function boot(o: BootOptions): Promise<BootResult> {
  const overlay = join(o.runDir, "overlay.qcow2");
  const mk = Bun.spawnSync(["qemu-img", "create", "-q", "-f", "qcow2", "-b", o.image, "-F", "raw", overlay], {
    stderr: "pipe",
  });
  if (mk.exitCode !== 0) throw new Error(`qemu-img create failed: ${mk.stderr.toString()}`);
  const consoleLog = join(o.runDir, "console.log");
  const args = [
    "qemu-system-x86_64",
    "-machine",
    "q35",
    "-accel",
    "tcg,thread=multi",
    "-cpu",
    "max",
    "-smp",
    String(o.cpus ?? 2),
    "-m",
    String(o.memoryMb ?? 2048),
    "-display",
    "none",
    "-monitor",
    "none",
    "-serial",
    `file:${consoleLog}`,
    "-no-reboot",
    "-nic",
    "none",
    "-kernel",
    o.kernel.vmlinuz,
    "-initrd",
    o.kernel.initrd,
    "-append",
    "root=/dev/vda rw console=ttyS0 panic=-1 quiet systemd.show_status=error",
    "-drive",
    `file=${overlay},if=virtio,format=qcow2,cache=unsafe`,
    "-virtfs",
    `local,path=${o.shareDir},mount_tag=fzshare,security_model=none,id=fzshare`,
    "-device",
    "virtio-rng-pci",
  ];
  if (o.repoDir) {
    args.push(
      "-virtfs",
      `local,path=${o.repoDir},mount_tag=fzrepo,security_model=none,readonly=on,id=fzrepo`,
    );
  }
  const started = performance.now();
  const proc = Bun.spawn(args, { stdout: "pipe", stderr: "pipe", stdin: "ignore" });
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    proc.kill("SIGKILL");
  }, o.timeoutMs);
  const [exitCode, , stderr] = await Promise.all([
    proc.exited,
    new Response(proc.stdout).text(),
    new Response(proc.stderr).text(),
  ]);
  clearTimeout(timer);
  if (stderr.trim()) await Bun.write(join(o.runDir, "qemu.stderr"), stderr);
  return {
    exitCode,
    timedOut,
    seconds: Math.round((performance.now() - started) / 1000),
    console: existsSync(consoleLog) ? consoleLog : "",
  };
}
