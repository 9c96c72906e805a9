// The Docker entrypoint, run in a fresh network + mount namespace standing in for the container
// (quick, and it runs where dockerd cannot; tests/docker/container.test.ts runs the real image): private /run, /var/lib, /var/log, an /etc/group with group firezone as the
// image has it, secrets under /run/secrets. firezonectl runs inside the same namespaces, as
// `docker exec` would, including the Dockerfile's own HEALTHCHECK command.
import { afterEach, describe, expect, test } from "bun:test";
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import type { Subprocess } from "bun";
import { ensureBuilt } from "../_support/build.ts";

const ROOT = resolve(import.meta.dir, "../..");
const ENTRYPOINT = join(ROOT, "docker/entrypoint.sh");
const DIST = join(ROOT, "dist");
const TOKEN = "fz-test-service-token-do-not-log";
const canRun = process.getuid?.() === 0 && Bun.which("unshare") !== null && Bun.which("nsenter") !== null;

/** The HEALTHCHECK's CMD from the Dockerfile, in exec form, with the script at its place in the checkout. */
function healthcheckArgv(): string[] {
  const text = readFileSync(join(ROOT, "Dockerfile"), "utf8").replace(/\\\n/g, " ");
  const m = /^HEALTHCHECK\b.*?\bCMD\s+(\[.*\])\s*$/m.exec(text);
  if (!m?.[1]) throw new Error("no HEALTHCHECK ... CMD [...] in the Dockerfile");
  const argv = JSON.parse(m[1]) as string[];
  if (argv[0] !== "/usr/local/bin/firezone-healthcheck") throw new Error(`unexpected HEALTHCHECK ${argv[0]}`);
  return ["sh", join(ROOT, "docker/healthcheck.sh"), ...argv.slice(1)];
}

interface Container {
  proc: Subprocess<"ignore", "pipe", "pipe">;
  /** pid of the container's main process (the entrypoint, then firezoned) in the host's pid space. */
  pid(): number;
  exec(argv: string[]): { code: number; out: string };
  stderr(): string;
  dir: string;
}

const running: Container[] = [];
afterEach(async () => {
  for (const c of running.splice(0)) {
    c.proc.kill("SIGKILL");
    await c.proc.exited;
    rmSync(c.dir, { recursive: true, force: true });
  }
});

function groupFileWithFirezone(): string {
  const lines = readFileSync("/etc/group", "utf8").trimEnd().split("\n");
  if (lines.some((l) => l.startsWith("firezone:"))) return `${lines.join("\n")}\n`;
  const used = new Set(lines.map((l) => Number(l.split(":")[2])));
  let gid = 990;
  while (used.has(gid)) gid--;
  return `${lines.join("\n")}\nfirezone:x:${gid}:\n`;
}

async function startContainer(
  env: Record<string, string>,
  opts: { noTun?: boolean; secret?: string } = {},
): Promise<Container> {
  ensureBuilt();
  const dir = mkdtempSync(join(tmpdir(), "fz-docker-"));
  chmodSync(dir, 0o755);
  // /etc/group with the image's group, as an overlay upper layer: a bind mount of the file alone is
  // detached when another process's useradd renames a new /etc/group into place on the host.
  for (const d of ["etc-upper", "etc-work"]) Bun.spawnSync(["mkdir", "-m", "0755", join(dir, d)]);
  writeFileSync(join(dir, "etc-upper", "group"), groupFileWithFirezone(), { mode: 0o644 });
  const secrets = join(dir, "secrets");
  Bun.spawnSync(["mkdir", "-m", "0700", secrets]);
  if (opts.secret !== undefined) writeFileSync(join(secrets, "firezone_token"), opts.secret, { mode: 0o400 });
  // What the image and `docker run --cap-add NET_ADMIN --device /dev/net/tun` give the container.
  const setup = [
    "set -e",
    "ip link set lo up",
    `mount -t overlay overlay -o lowerdir=/etc,upperdir=${dir}/etc-upper,workdir=${dir}/etc-work /etc`,
    "mount -t tmpfs -o mode=0755 tmpfs /run",
    "mkdir -p /run/secrets",
    `mount --bind ${secrets} /run/secrets`,
    "mount -t tmpfs -o mode=0755 tmpfs /var/lib",
    "mount -t tmpfs -o mode=0755 tmpfs /var/log",
    "install -d -m 0700 /var/lib/firezoned /var/log/firezoned",
    opts.noTun ? "mount -t tmpfs tmpfs /dev/net" : "true",
    `exec ${ENTRYPOINT}`,
  ].join("\n");
  const proc = Bun.spawn(
    ["unshare", "--net", "--mount", "--propagation", "private", "--fork", "--kill-child", "sh", "-c", setup],
    {
      env: { PATH: `${DIST}:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin`, ...env },
      stdin: "ignore",
      stdout: "pipe",
      stderr: "pipe",
    },
  );
  let err = "";
  void (async () => {
    for await (const chunk of proc.stderr) err += new TextDecoder().decode(chunk);
  })();
  const pid = (): number => {
    const children = readFileSync(`/proc/${proc.pid}/task/${proc.pid}/children`, "utf8").trim();
    return Number(children.split(" ")[0]);
  };
  const c: Container = {
    proc,
    dir,
    pid,
    stderr: () => err,
    exec: (argv) => {
      const r = Bun.spawnSync(["nsenter", "-t", String(pid()), "-n", "-m", "--", ...argv], {
        env: { PATH: `${DIST}:/usr/bin:/bin` },
        stdout: "pipe",
        stderr: "pipe",
      });
      return { code: r.exitCode ?? -1, out: r.stdout.toString() + r.stderr.toString() };
    },
  };
  running.push(c);
  return c;
}

async function untilHealthy(c: Container): Promise<void> {
  const until = Date.now() + 15_000;
  while (Date.now() < until) {
    if (c.proc.exitCode !== null) throw new Error(`the container exited ${c.proc.exitCode}: ${c.stderr()}`);
    if (c.exec(["test", "-S", "/run/firezoned/ipc.sock"]).code === 0) return;
    await Bun.sleep(50);
  }
  throw new Error(`firezoned did not listen: ${c.stderr()}`);
}

describe.skipIf(!canRun)("Docker entrypoint in a namespace standing in for the container", () => {
  test("with FIREZONE_TOKEN as a value, firezoned runs in service mode; not connected, the HEALTHCHECK fails", async () => {
    const c = await startContainer({ FIREZONE_TOKEN: TOKEN });
    await untilHealthy(c);
    // No portal here: the session is not connected, which is unhealthy (tests/docker/container.test.ts
    // sees it healthy once connected).
    const health = c.exec(healthcheckArgv());
    expect(health.out).toContain("not connected");
    expect(health.out).toContain('"state": "not_configured"');
    expect(health.code).toBe(1);
    const st = c.exec(["firezonectl", "status", "--json"]);
    expect(st.code).toBe(0);
    expect(JSON.parse(st.out).mode).toBe("service");
    expect(st.out).not.toContain(TOKEN);
    expect(c.stderr()).not.toContain(TOKEN);
  });

  test("with FIREZONE_TOKEN naming a Docker secret file, firezoned runs in service mode", async () => {
    const c = await startContainer(
      { FIREZONE_TOKEN: "/run/secrets/firezone_token" },
      { secret: `${TOKEN}\n` },
    );
    await untilHealthy(c);
    const st = c.exec(["firezonectl", "status", "--json"]);
    expect(JSON.parse(st.out).mode).toBe("service");
    // A refused token file is service mode too, with the refusal as lastError: this one was accepted.
    expect(JSON.parse(st.out).lastError ?? "").not.toContain("refusing the service token");
    expect(c.stderr()).not.toContain(TOKEN);
  });

  test("the container's firezoned made /run/firezoned 0750 and the socket 0660, both group firezone", async () => {
    const c = await startContainer({});
    await untilHealthy(c);
    const dir = c.exec(["stat", "-c", "%a %U:%G", "/run/firezoned"]);
    const sock = c.exec(["stat", "-c", "%a %U:%G %F", "/run/firezoned/ipc.sock"]);
    expect(dir.out.trim()).toBe("750 root:firezone");
    expect(sock.out.trim()).toBe("660 root:firezone socket");
  });

  test("without a token it starts interactive and says how to sign in with docker exec", async () => {
    const c = await startContainer({});
    await untilHealthy(c);
    expect(c.exec(healthcheckArgv()).code).toBe(1);
    expect(JSON.parse(c.exec(["firezonectl", "status", "--json"]).out).mode).toBe("interactive");
    expect(c.stderr()).toContain("docker exec -i <container> firezonectl sign-in --token-stdin");
  });

  test("without FIREZONE_API_URL the entrypoint says so and firezoned reports not_configured; with it, the portal shows", async () => {
    const bare = await startContainer({ FIREZONE_TOKEN: TOKEN });
    await untilHealthy(bare);
    expect(bare.stderr()).toContain("-e FIREZONE_API_URL=wss://<your portal>");
    const st = JSON.parse(bare.exec(["firezonectl", "status", "--json"]).out);
    expect(st).toMatchObject({ state: "not_configured", mode: "service" });
    expect(bare.exec(healthcheckArgv()).code).toBe(1);
    const set = await startContainer({ FIREZONE_API_URL: "wss://portal.example.test" });
    await untilHealthy(set);
    expect(set.stderr()).not.toContain("no portal configured");
    expect(JSON.parse(set.exec(["firezonectl", "status", "--json"]).out).portalUrl).toBe(
      "https://portal.example.test",
    );
  });

  test("firezoned stopped, the HEALTHCHECK says it does not answer", async () => {
    const c = await startContainer({ FIREZONE_TOKEN: TOKEN });
    await untilHealthy(c);
    c.exec(["rm", "/run/firezoned/ipc.sock"]);
    const health = c.exec(healthcheckArgv());
    expect(health.code).toBe(1);
    expect(health.out).toContain("firezoned does not answer");
  });

  test("docker stop (SIGTERM to the main process) stops firezoned cleanly with exit 0", async () => {
    const c = await startContainer({ FIREZONE_TOKEN: TOKEN });
    await untilHealthy(c);
    process.kill(c.pid(), "SIGTERM");
    expect(await c.proc.exited).toBe(0);
  });

  test("without --device /dev/net/tun the entrypoint exits 78 and names the docker run flags", async () => {
    const c = await startContainer({ FIREZONE_TOKEN: TOKEN }, { noTun: true });
    expect(await c.proc.exited).toBe(78);
    expect(c.stderr()).toContain("--cap-add NET_ADMIN --device /dev/net/tun");
  });

  test("FIREZONE_TOKEN naming a missing secret file exits 78 and says to mount it", async () => {
    const c = await startContainer({ FIREZONE_TOKEN: "/run/secrets/missing" });
    expect(await c.proc.exited).toBe(78);
    expect(c.stderr()).toContain("/run/secrets/missing, which is not a readable file");
  });
});

test.skipIf(Bun.which("shellcheck") === null)("the image's sh scripts pass shellcheck", () => {
  const scripts = ["entrypoint.sh", "healthcheck.sh", "rootfs.sh"].map((f) => join(ROOT, "docker", f));
  const r = Bun.spawnSync(["shellcheck", "--shell=sh", ...scripts], { stdout: "pipe", stderr: "pipe" });
  expect(r.stdout.toString() + r.stderr.toString()).toBe("");
  expect(r.exitCode).toBe(0);
});
