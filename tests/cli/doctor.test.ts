// `firezonectl doctor` in set-ups broken for real: a stopped daemon, a user outside the group, a user
// added to the group after their session started, a daemon that cannot see /dev/net/tun (a mount
// namespace hides it), an unreachable portal and a bad configuration file. Each run must name the
// fix for what is broken.
import { afterAll, describe, expect, test } from "bun:test";
import { chmodSync, existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ensureBuilt, FIREZONECTL } from "../_support/build.ts";
import { startDaemon, type TestDaemon } from "../_support/daemon.ts";
import { runAs, TestAccounts } from "../_support/users.ts";
import { UserShell } from "../ipc/_user_shell.ts";

const accounts = new TestAccounts();
const tmp = mkdtempSync(join(tmpdir(), "fzdoc-"));
chmodSync(tmp, 0o755);
const daemons: TestDaemon[] = [];
const isRoot = process.getuid?.() === 0;
const hasUnshare = Bun.which("unshare") !== null;

afterAll(async () => {
  for (const d of daemons) await d.stop();
  accounts.cleanup();
  rmSync(tmp, { recursive: true, force: true });
});

interface Check {
  id: string;
  status: "pass" | "fail" | "skip";
  detail: string;
  fix?: string;
}

function doctor(socket: string): { code: number; out: string; report: { ok: boolean; checks: Check[] } } {
  ensureBuilt();
  const env = { PATH: "/usr/bin:/bin", FIREZONE_SOCKET: socket };
  const human = Bun.spawnSync([FIREZONECTL, "doctor"], { env, stdin: "ignore" });
  const json = Bun.spawnSync([FIREZONECTL, "doctor", "--json"], { env, stdin: "ignore" });
  return {
    code: human.exitCode ?? -1,
    out: human.stdout.toString(),
    report: JSON.parse(json.stdout.toString()),
  };
}

function check(report: { checks: Check[] }, id: string): Check {
  const c = report.checks.find((x) => x.id === id);
  if (!c) throw new Error(`no check '${id}' in ${JSON.stringify(report.checks.map((x) => x.id))}`);
  return c;
}

/** `doctor --json` as `user` in a fresh session of theirs; the parsed report. */
async function doctorAs(
  user: string,
  socket: string,
): Promise<{ code: number; report: { checks: Check[] } }> {
  const r = await runAs(user, [FIREZONECTL, "doctor", "--json"], { FIREZONE_SOCKET: socket });
  return { code: r.code, report: JSON.parse(r.stdout) };
}

/** `script` run by sh in a mount namespace of its own, whose mounts the rest of the machine never sees. */
function inMountNs(script: string): string[] {
  return ["unshare", "--mount", "--propagation", "private", "sh", "-c", script];
}

/** A `wrap` for startDaemon: the daemon runs in a mount namespace of its own with an empty tmpfs over `dir`. */
function hiding(dir: string): string[] {
  return inMountNs(`mount -t tmpfs tmpfs ${dir} && exec "$0"`);
}

/** Runs `fn` with a network namespace made for it, removed afterwards with whatever `fn` left in it. */
async function inNetns(fn: (ns: string) => Promise<void>): Promise<void> {
  const ns = `fzdoc${Math.random().toString(36).slice(2, 8)}`;
  expect(Bun.spawnSync(["ip", "netns", "add", ns]).exitCode).toBe(0);
  try {
    await fn(ns);
  } finally {
    Bun.spawnSync(["ip", "netns", "del", ns]);
  }
}

async function daemon(env: Record<string, string> = {}, wrap?: string[]): Promise<TestDaemon> {
  const group = accounts.group();
  const d = await startDaemon(group, env, wrap ? { wrap } : {});
  daemons.push(d);
  return d;
}

describe("firezonectl doctor", () => {
  test("daemon stopped: the socket and the daemon fail with 'sudo systemctl start firezoned', exit 1", () => {
    const r = doctor(join(tmp, "none", "ipc.sock"));
    expect(r.code).toBe(1);
    expect(r.report.ok).toBe(false);
    expect(r.report).toHaveProperty("schemaVersion", 1);
    expect(check(r.report, "socket")).toMatchObject({
      status: "fail",
      fix: "sudo systemctl start firezoned",
    });
    expect(check(r.report, "daemon")).toMatchObject({
      status: "fail",
      fix: "sudo systemctl start firezoned",
    });
    expect(r.out).toContain("[FAIL] Socket");
    expect(r.out).toContain("Fix: sudo systemctl start firezoned");
  });

  test.skipIf(!isRoot)(
    "portal unreachable: TCP fails from the daemon's side with the port named",
    async () => {
      const d = await daemon({ FIREZONE_API_URL: "ws://127.0.0.1:9" });
      const r = doctor(d.socketPath);
      expect(r.code).toBe(1);
      expect(check(r.report, "daemon").status).toBe("pass");
      expect(check(r.report, "portal_dns").status).toBe("pass");
      const tcp = check(r.report, "portal_tcp");
      expect(tcp.status).toBe("fail");
      expect(tcp.detail).toContain("127.0.0.1 port 9");
      expect(tcp.fix).toContain("nc -vz 127.0.0.1 9");
      expect(check(r.report, "portal_websocket").status).toBe("skip");
      expect(r.out).toContain("[FAIL] Portal accepts TCP");
    },
  );

  test.skipIf(!isRoot)(
    "bad configuration file: the line is named and the fix is to edit that file",
    async () => {
      const dir = mkdtempSync(join(tmp, "conf-"));
      const conf = join(dir, "firezoned.conf");
      writeFileSync(conf, "portal_url = wss://portal.example.com\nportal_ulr = typo\n", { mode: 0o644 });
      const d = await daemon({ FIREZONE_CONFIG: conf, FIREZONE_API_URL: "" });
      const r = doctor(d.socketPath);
      expect(r.code).toBe(1);
      const c = check(r.report, "config");
      expect(c.status).toBe("fail");
      expect(c.detail).toContain("line 2");
      expect(c.detail).toContain("portal_ulr");
      expect(c.fix).toContain(`sudoedit ${conf}`);
    },
  );

  test.skipIf(!isRoot)(
    "user not in the group: the fix is usermod with the user's and the group's names",
    async () => {
      const d = await daemon();
      const group = d.env.FIREZONE_GROUP!;
      const user = accounts.user();
      const { code, report } = await doctorAs(user, d.socketPath);
      expect(code).toBe(1);
      const g = check(report, "group");
      expect(g.status).toBe("fail");
      expect(g.detail).toContain(`${user} is not in group '${group}'`);
      expect(g.fix).toStartWith(`sudo usermod -aG ${group} ${user}`);
      expect(check(report, "daemon").status).toBe("fail");
    },
  );

  test.skipIf(!isRoot)(
    "user added to the group after login: the fix is newgrp (or logging in again)",
    async () => {
      const d = await daemon();
      const group = d.env.FIREZONE_GROUP!;
      const user = accounts.user();
      const shell = await UserShell.start(user, { FIREZONE_SOCKET: d.socketPath });
      try {
        const add = Bun.spawnSync(["usermod", "-aG", group, user]);
        expect(add.exitCode).toBe(0);
        const r = await shell.run(`${FIREZONECTL} doctor --json`);
        expect(r.code).toBe(1);
        const report = JSON.parse(r.out);
        const g = check(report, "group");
        expect(g.status).toBe("fail");
        expect(g.detail).toContain("after this session started");
        expect(g.fix).toStartWith(`newgrp ${group}`);
        // A fresh session of the same user holds the group: the check passes there.
        expect(check((await doctorAs(user, d.socketPath)).report, "group").status).toBe("pass");
      } finally {
        shell.close();
      }
    },
  );

  test.skipIf(!isRoot || !hasUnshare)(
    "no /dev/net/tun in the daemon's mount namespace: the TUN check fails with the command that makes it",
    async () => {
      // The daemon runs in a mount namespace of its own where an empty tmpfs covers /dev/net.
      const d = await daemon({}, hiding("/dev/net"));
      const r = doctor(d.socketPath);
      expect(r.code).toBe(1);
      const tun = check(r.report, "tun");
      expect(tun.status).toBe("fail");
      expect(tun.detail).toContain("/dev/net/tun does not exist");
      const kernelHasTun = existsSync("/sys/module/tun") || existsSync("/sys/devices/virtual/misc/tun");
      expect(tun.fix).toContain(kernelHasTun ? "mknod -m 0666 /dev/net/tun c 10 200" : "modprobe tun");
      // Outside that namespace the device is there: the test broke only the daemon's view.
      expect(existsSync("/dev/net/tun")).toBe(true);
    },
  );

  test.skipIf(!isRoot || !hasUnshare)(
    "a group database that never answers makes the access check say so; doctor still finishes",
    async () => {
      const d = await daemon();
      const user = accounts.user();
      const ids = (flag: string) => Bun.spawnSync(["id", flag, user]).stdout.toString().trim();
      // In a mount namespace of its own, /etc/group is a FIFO nobody writes: every lookup of a group
      // (getent, id, glibc in-process) blocks, as an LDAP or SSSD that stopped answering would. A
      // holder process keeps the namespace; nsenter switches to the user by number, reading no
      // group database itself.
      const ns = mkdtempSync(join(tmp, "nss-"));
      for (const sub of ["upper", "work"]) Bun.spawnSync(["mkdir", join(ns, sub)]);
      Bun.spawnSync(["mkfifo", "-m", "644", join(ns, "upper", "group")]);
      const holder = Bun.spawn(
        inMountNs(
          `mount -t overlay overlay -o lowerdir=/etc,upperdir=${ns}/upper,workdir=${ns}/work /etc && echo ready && exec sleep 300`,
        ),
        { stdout: "pipe", stdin: "ignore" },
      );
      try {
        await holder.stdout.getReader().read();
        const proc = Bun.spawn(
          [
            "nsenter",
            "--mount",
            `--target=${holder.pid}`,
            `--setuid=${ids("-u")}`,
            `--setgid=${ids("-g")}`,
            "env",
            "-i",
            "PATH=/usr/bin:/bin",
            `FIREZONE_SOCKET=${d.socketPath}`,
            FIREZONECTL,
            "doctor",
            "--json",
          ],
          { stdout: "pipe", stderr: "pipe", stdin: "ignore" },
        );
        // A guard only: a doctor that hangs is killed here, and the assertions below then fail.
        const guard = setTimeout(() => proc.kill("SIGKILL"), 60_000);
        const [out, code] = await Promise.all([new Response(proc.stdout).text(), proc.exited]);
        clearTimeout(guard);
        expect(proc.signalCode).toBeNull();
        expect(code).toBe(1);
        const report = JSON.parse(out);
        const g = check(report, "group");
        expect(g.status).toBe("fail");
        expect(g.detail).toContain("did not answer");
        expect(g.fix).toContain(`sudo usermod -aG`);
        expect(check(report, "daemon")).toMatchObject({ status: "fail", fix: "see the access check above" });
      } finally {
        holder.kill("SIGKILL");
      }
    },
  );

  test.skipIf(!isRoot || !hasUnshare)(
    "rp_filter is read from the daemon's network namespace over rtnetlink, with /proc/sys hidden as the unit hides it",
    async () => {
      await inNetns(async (ns) => {
        Bun.spawnSync(["ip", "netns", "exec", ns, "sysctl", "-qw", "net.ipv4.conf.all.rp_filter=2"]);
        // The unit's ProcSubset=pid leaves no /proc/sys; an empty tmpfs over it does the same here.
        const d = await daemon({}, ["ip", "netns", "exec", ns, ...hiding("/proc/sys")]);
        const rp = check(doctor(d.socketPath).report, "rp_filter");
        expect(rp.status).toBe("pass");
        expect(rp.detail).toStartWith("loose (all=2");
        await d.stop();
        daemons.splice(daemons.indexOf(d), 1);
      });
    },
  );

  test.skipIf(!isRoot)(
    "another interface in the tunnel's address range is a route conflict naming it",
    async () => {
      await inNetns(async (ns) => {
        // What another VPN using CGNAT space (as Tailscale's 100.64.0.0/10 does) leaves on a host.
        for (const cmd of [
          ["ip", "link", "add", "othervpn0", "type", "veth", "peer", "name", "othervpn1"],
          ["ip", "addr", "add", "100.64.7.1/24", "dev", "othervpn0"],
          ["ip", "link", "set", "othervpn0", "up"],
          ["ip", "link", "set", "othervpn1", "up"],
        ])
          expect(Bun.spawnSync(["ip", "netns", "exec", ns, ...cmd]).exitCode).toBe(0);
        const d = await daemon({}, ["ip", "netns", "exec", ns]);
        const routes = check(doctor(d.socketPath).report, "routes");
        expect(routes.status).toBe("fail");
        expect(routes.detail).toContain("othervpn0 has address 100.64.7.1/24 inside 100.64.0.0/11");
        expect(routes.detail).toContain("100.64.7.0/24 in table 254 goes through othervpn0");
        expect(routes.fix).toContain("ip rule");
        await d.stop();
        daemons.splice(daemons.indexOf(d), 1);
      });
    },
  );

  test("every failed check carries a fix, and the human output prints it under the failure", () => {
    const r = doctor(join(tmp, "none", "ipc.sock"));
    for (const c of r.report.checks) if (c.status === "fail") expect(c.fix).toBeTruthy();
    const lines = r.out.split("\n");
    lines.forEach((line, i) => {
      if (line.startsWith("[FAIL]")) expect(lines[i + 1]).toStartWith("       Fix: ");
    });
  });

  test("--help lists doctor, logs and debug bundle; debug needs its subcommand (64); each has its own --help", () => {
    ensureBuilt();
    const run = (args: string[]) => {
      const r = Bun.spawnSync([FIREZONECTL, ...args], { env: { PATH: "/usr/bin:/bin" }, stdin: "ignore" });
      return { code: r.exitCode, out: r.stdout.toString(), err: r.stderr.toString() };
    };
    const help = run(["--help"]);
    for (const word of [
      "doctor",
      "logs [--follow] [--since 10m]",
      "debug bundle [--output FILE] [--anonymize]",
    ])
      expect(help.out).toContain(word);
    const bare = run(["debug"]);
    expect(bare.code).toBe(64);
    expect(bare.err).toContain("'debug' needs a command: bundle");
    expect(run(["debug", "frob"]).code).toBe(64);
    const bundleHelp = run(["debug", "bundle", "--help"]);
    expect(bundleHelp.code).toBe(0);
    expect(bundleHelp.out).toContain("firezonectl debug bundle");
    expect(bundleHelp.out).toContain("--anonymize");
    expect(run(["debug", "bundle", "--frob"]).code).toBe(64);
    expect(run(["doctor", "extra"]).code).toBe(64);
  });
});
