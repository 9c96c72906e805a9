// A Docker engine of the test's own: Debian's dockerd with its data root, exec root (and so its own
// containerd), socket and pid file in a temp dir, no iptables rules and no default bridge, in a
// network namespace of its own: the networks it creates (compose's bridges) exist only there, so it
// changes nothing on the host's network. Every docker command goes to its socket with -H; DOCKER_CONFIG
// points into the temp dir so no context or credential of the host's user is read.
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Subprocess } from "bun";

/** The docker CLI: this machine's /usr/local/bin/docker when present, else Debian's. */
export const DOCKER_CLI = ["/usr/local/bin/docker", "/usr/bin/docker"].find((p) => Bun.which(p) !== null);

export interface DockerResult {
  code: number;
  out: string;
  err: string;
}

export class Dockerd {
  readonly host: string;
  readonly #log: string[] = [];

  private constructor(
    readonly dir: string,
    readonly proc: Subprocess<"ignore", "pipe", "pipe">,
    readonly storageDriver: string,
    readonly netns: string,
  ) {
    this.host = `unix://${join(dir, "docker.sock")}`;
    void (async () => {
      const dec = new TextDecoder();
      for await (const chunk of proc.stderr) this.#log.push(...dec.decode(chunk).split("\n"));
    })();
  }

  /**
   * Starts dockerd and waits until it answers; returns the reason instead when it cannot (no
   * dockerd, not root, no usable storage driver), for the test to skip with.
   */
  static async start(): Promise<Dockerd | string> {
    if (process.getuid?.() !== 0) return "dockerd needs root";
    const dockerd = Bun.which("dockerd", { PATH: "/usr/sbin:/usr/bin:/sbin:/bin" });
    if (!dockerd) return "dockerd is not installed (Debian package docker.io; scripts/setup.sh installs it)";
    if (!DOCKER_CLI) return "no docker CLI";
    const reasons: string[] = [];
    // overlay2 where the temp dir's file system allows it, vfs (copies, slower) where it does not.
    for (const driver of ["overlay2", "vfs"]) {
      const dir = mkdtempSync(join(tmpdir(), "fz-dockerd-"));
      mkdirSync(join(dir, "config"));
      const netns = `fzdk-${Math.random().toString(36).slice(2, 8)}`;
      const made = Bun.spawnSync(["ip", "netns", "add", netns], { stderr: "pipe" });
      if (made.exitCode !== 0) return `cannot create a network namespace: ${made.stderr.toString().trim()}`;
      Bun.spawnSync(["ip", "-n", netns, "link", "set", "lo", "up"]);
      const proc = Bun.spawn(
        [
          "nsenter",
          `--net=/run/netns/${netns}`,
          "--",
          dockerd,
          `--data-root=${join(dir, "data")}`,
          `--exec-root=${join(dir, "exec")}`,
          `--pidfile=${join(dir, "docker.pid")}`,
          `--host=unix://${join(dir, "docker.sock")}`,
          `--storage-driver=${driver}`,
          "--iptables=false",
          "--ip6tables=false",
          "--ip-masq=false",
          "--bridge=none",
          "--userland-proxy=false",
          "--log-level=warn",
        ],
        {
          stdin: "ignore",
          stdout: "pipe",
          stderr: "pipe",
          env: { PATH: "/usr/sbin:/usr/bin:/sbin:/bin", HOME: dir },
        },
      ) as Subprocess<"ignore", "pipe", "pipe">;
      const d = new Dockerd(dir, proc, driver, netns);
      const until = Date.now() + 60_000;
      for (;;) {
        if (proc.exitCode !== null) break;
        if ((await d.docker(["version", "--format", "{{.Server.Version}}"])).code === 0) return d;
        if (Date.now() > until) break;
        await Bun.sleep(200);
      }
      reasons.push(`${driver}: ${d.log().slice(-5).join(" | ")}`);
      await d.stop();
    }
    return `dockerd did not start: ${reasons.join("; ")}`;
  }

  log(): string[] {
    return this.#log.filter(Boolean);
  }

  /** One docker command against this engine. */
  async docker(args: string[], options: { stdin?: string; timeoutMs?: number } = {}): Promise<DockerResult> {
    return this.run([DOCKER_CLI!, "-H", this.host, ...args], options);
  }

  /** Any command with this engine as its DOCKER_HOST (docker-compose, for one). */
  async run(argv: string[], options: { stdin?: string; timeoutMs?: number } = {}): Promise<DockerResult> {
    const p = Bun.spawn(argv, {
      stdin: options.stdin === undefined ? "ignore" : new TextEncoder().encode(options.stdin),
      stdout: "pipe",
      stderr: "pipe",
      env: {
        PATH: "/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        HOME: this.dir,
        DOCKER_HOST: this.host,
        DOCKER_CONFIG: join(this.dir, "config"),
        // The classic builder: BuildKit would need the buildx plugin, which Debian's docker.io lacks.
        DOCKER_BUILDKIT: "0",
      },
    });
    const timer = setTimeout(() => p.kill("SIGKILL"), options.timeoutMs ?? 120_000);
    try {
      const [out, err, code] = await Promise.all([
        new Response(p.stdout).text(),
        new Response(p.stderr).text(),
        p.exited,
      ]);
      return { code, out, err };
    } finally {
      clearTimeout(timer);
    }
  }

  /** Like docker(), but throws with docker's own message when the command fails. */
  async ok(args: string[], options: { stdin?: string; timeoutMs?: number } = {}): Promise<string> {
    const r = await this.docker(args, options);
    if (r.code !== 0) throw new Error(`docker ${args.join(" ")} failed (exit ${r.code}): ${r.err.trim()}`);
    return r.out;
  }

  /**
   * Stops dockerd (it stops its containers and its containerd first), unmounts whatever it left
   * under its temp dir, and removes the dir.
   */
  async stop(): Promise<void> {
    if (this.proc.exitCode === null) {
      this.proc.kill("SIGTERM");
      await Promise.race([this.proc.exited, Bun.sleep(30_000)]);
      if (this.proc.exitCode === null) {
        this.proc.kill("SIGKILL");
        await this.proc.exited;
      }
    }
    for (const m of mountsUnder(this.dir).reverse()) Bun.spawnSync(["umount", "-l", m]);
    rmSync(this.dir, { recursive: true, force: true });
    Bun.spawnSync(["ip", "netns", "del", this.netns], { stderr: "ignore" });
  }
}

/** Mount points at or under `dir` in this mount namespace, outermost first. */
export function mountsUnder(dir: string): string[] {
  return readFileSync("/proc/self/mountinfo", "utf8")
    .split("\n")
    .map((l) => l.split(" ")[4] ?? "")
    .map((p) => p.replace(/\\040/g, " "))
    .filter((p) => p === dir || p.startsWith(`${dir}/`));
}
