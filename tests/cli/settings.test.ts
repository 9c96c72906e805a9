// `firezonectl settings` and SIGHUP against the compiled firezoned: values are checked before
// anything is written, the file keeps its comments and other lines, the log level and the portal
// apply at once (a signed-in session moves to the new portal), dns_control says it waits for a
// restart, only root may write, and SIGHUP reloads the file without stopping the daemon.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type Portal, startPortal } from "../../devstack/portal/server.ts";
import { editConfigText } from "../../lib/daemon/index.ts";
import { silentLogger } from "../../lib/util/index.ts";
import { ensureBuilt, FIREZONECTL, FIREZONED } from "../_support/build.ts";
import { ctl } from "../_support/ctl.ts";
import { startDaemon, type TestDaemon, waitFor } from "../_support/daemon.ts";
import { runAs, TestAccounts } from "../_support/users.ts";
import { seed, tempDir } from "../portal/_helpers.ts";

const accounts = new TestAccounts();
const group = accounts.group();
const member = accounts.user(undefined, [group]);
const tmp = tempDir();
let portalA: Portal;
let portalB: Portal;
let token = "";

beforeAll(() => {
  token = seed(tmp.db).aliceToken;
  portalA = startPortal({ dbPath: tmp.db, logger: silentLogger });
  portalB = startPortal({ dbPath: tmp.db, logger: silentLogger });
});

afterAll(async () => {
  await portalA?.stop();
  await portalB?.stop();
  tmp.cleanup();
  accounts.cleanup();
});

const wsUrl = (p: Portal) => p.url.replace("http://", "ws://");

/** A daemon that takes everything from its file: no portal or plaintext opt-in from the environment. */
async function daemonWithFile(text: string, mode = 0o644): Promise<TestDaemon> {
  const d = await startDaemon(group, { FIREZONE_API_URL: "", FIREZONE_ALLOW_INSECURE_PORTAL: "" });
  writeFileSync(d.env.FIREZONE_CONFIG!, text, { mode });
  process.kill(d.proc.pid, "SIGHUP");
  await waitFor(() => d.stderr().includes("configuration reloaded"), 30_000, "the reload");
  return d;
}

async function setting(
  d: TestDaemon,
  key: string,
): Promise<{ value: string | null; effective: string | null }> {
  const r = await ctl(d.socketPath, ["settings", "get", key, "--json"]);
  expect(r.code).toBe(0);
  return JSON.parse(r.out).settings[0];
}

async function status(d: TestDaemon): Promise<{ state: string; portalUrl?: string; lastError?: string }> {
  return JSON.parse((await ctl(d.socketPath, ["status", "--json"])).out);
}

/** A frame that is not JSON: the daemon logs its refusal at debug level only. */
async function sendBadFrame(socketPath: string): Promise<void> {
  const closed = Promise.withResolvers<void>();
  const s = await Bun.connect({
    unix: socketPath,
    socket: { data() {}, close: () => closed.resolve(), error: () => closed.resolve() },
  });
  s.write(new Uint8Array([0, 0, 0, 1, 0x7b]));
  await Promise.race([closed.promise, Bun.sleep(2000)]);
  s.end();
}

const CONF = "# Managed by hand; keep this comment.\n\nlog_level = info\n# the end\n";

describe("editing firezoned.conf", () => {
  test("a key is replaced where it is, comments and other lines stay, a new key goes at the end", () => {
    expect(editConfigText(CONF, "log_level", "debug")).toBe(
      "# Managed by hand; keep this comment.\n\nlog_level = debug\n# the end\n",
    );
    expect(editConfigText(CONF, "dns_control", "off")).toBe(`${CONF}dns_control = off\n`);
    expect(editConfigText(CONF, "log_level", null)).toBe(
      "# Managed by hand; keep this comment.\n\n# the end\n",
    );
    expect(editConfigText("", "log_level", "warn")).toBe("log_level = warn\n");
    // A commented-out key is a comment, not the key.
    expect(editConfigText("# log_level = debug\n", "log_level", "warn")).toBe(
      "# log_level = debug\nlog_level = warn\n",
    );
  });

  test("a value that white space or quotes would change is quoted so it reads back as given", () => {
    expect(editConfigText("", "portal_url", '"x"')).toBe('portal_url = ""x""\n');
    expect(editConfigText("", "portal_url", " x")).toBe('portal_url = " x"\n');
  });
});

describe("firezonectl settings", () => {
  test("get lists every key with its value in use and source; --json carries schemaVersion", async () => {
    const d = await daemonWithFile(CONF);
    try {
      const text = await ctl(d.socketPath, ["settings"]);
      expect(text.code).toBe(0);
      for (const key of ["portal_url", "log_level", "dns_control", "internet_resource"])
        expect(text.out).toContain(key);
      const json = JSON.parse((await ctl(d.socketPath, ["settings", "get", "--json"])).out);
      expect(json.schemaVersion).toBe(1);
      expect(json.file).toBe(d.env.FIREZONE_CONFIG);
      const log = json.settings.find((s: { key: string }) => s.key === "log_level");
      expect(log).toMatchObject({ value: "info", effective: "info", source: "file", applies: "live" });
      const dns = json.settings.find((s: { key: string }) => s.key === "dns_control");
      // The test daemon sets FIREZONE_DNS_CONTROL=off: the environment wins and get says so.
      expect(dns).toMatchObject({ effective: "off", source: "environment", applies: "restart" });
    } finally {
      await d.stop();
    }
  });

  test("set log_level applies at once, keeps the file's comments and mode, and writes no stray file", async () => {
    const d = await daemonWithFile(CONF, 0o600);
    try {
      await sendBadFrame(d.socketPath);
      expect(d.stderr()).not.toContain("closing connection after bad input");
      const r = await ctl(d.socketPath, ["settings", "set", "log_level", "debug"]);
      expect(r.code).toBe(0);
      expect(r.out).toContain("applied now");
      const file = d.env.FIREZONE_CONFIG!;
      expect(readFileSync(file, "utf8")).toBe(
        "# Managed by hand; keep this comment.\n\nlog_level = debug\n# the end\n",
      );
      expect(statSync(file).mode & 0o777).toBe(0o600);
      expect(statSync(file).uid).toBe(0);
      const leftovers = Bun.spawnSync(["find", d.dir, "-maxdepth", "1", "-name", ".*tmp"]).stdout.toString();
      expect(leftovers).toBe("");
      await sendBadFrame(d.socketPath);
      await waitFor(() => d.stderr().includes("closing connection after bad input"), 5000, "a debug line");
      expect(await setting(d, "log_level")).toMatchObject({ value: "debug", effective: "debug" });
      // unset: back to the default, the line removed.
      const u = await ctl(d.socketPath, ["settings", "unset", "log_level", "--json"]);
      expect(u.code).toBe(0);
      expect(JSON.parse(u.out)).toMatchObject({
        schemaVersion: 1,
        setting: { effective: "info", source: "default" },
      });
      expect(readFileSync(file, "utf8")).not.toContain("log_level");
    } finally {
      await d.stop();
    }
  });

  test("a bad value or an unknown key is refused with the fix, and the file is not touched", async () => {
    const d = await daemonWithFile(CONF);
    try {
      const bad = await ctl(d.socketPath, ["settings", "set", "log_level", "loud"]);
      expect(bad.code).toBe(64);
      expect(bad.err).toContain("'loud' is not one of debug, info, warn, error");
      expect(bad.err).toContain("Nothing was changed");
      const unknown = await ctl(d.socketPath, ["settings", "set", "portl_url", "wss://x"]);
      expect(unknown.code).toBe(64);
      expect(unknown.err).toContain("portal_url");
      const missing = await ctl(d.socketPath, ["settings", "set", "log_level"]);
      expect(missing.code).toBe(64);
      expect(missing.err).toContain("needs a VALUE");
      const injected = await ctl(d.socketPath, [
        "settings",
        "set",
        "ca_file",
        "/x\nallow_insecure_portal = true",
      ]);
      expect(injected.code).toBe(64);
      expect(injected.err).toContain("line break");
      const plaintext = await ctl(d.socketPath, ["settings", "set", "portal_url", "ws://127.0.0.1:9"]);
      expect(plaintext.code).toBe(64);
      expect(plaintext.err).toContain("allow_insecure_portal");
      expect(readFileSync(d.env.FIREZONE_CONFIG!, "utf8")).toBe(CONF);
    } finally {
      await d.stop();
    }
  });

  test("a service-mode daemon that gets its portal by settings set signs in with its token at once", async () => {
    const d = await startDaemon(group, {
      FIREZONE_API_URL: "",
      FIREZONE_ALLOW_INSECURE_PORTAL: "1",
      FIREZONE_TOKEN: token,
    });
    try {
      expect((await status(d)).state).toBe("not_configured");
      expect((await ctl(d.socketPath, ["settings", "set", "portal_url", wsUrl(portalA)])).code).toBe(0);
      expect((await ctl(d.socketPath, ["wait", "--connected", "--timeout", "20s"])).code).toBe(0);
    } finally {
      await d.stop();
    }
  });

  test("dns_control is written but waits for a restart, and the answer says why", async () => {
    const d = await startDaemon(group, { FIREZONE_DNS_CONTROL: "" });
    try {
      const r = await ctl(d.socketPath, ["settings", "set", "dns_control", "resolv-conf"]);
      expect(r.code).toBe(0);
      expect(r.out).toContain("takes effect at the next start");
      expect(await setting(d, "dns_control")).toMatchObject({ value: "resolv-conf", effective: "auto" });
    } finally {
      await d.stop();
    }
  });

  test("a member of the group may read the settings but not change them (exit 77, needs root)", async () => {
    const d = await daemonWithFile(CONF);
    try {
      const get = await runAs(member, [FIREZONECTL, "settings", "get", "log_level"], {
        FIREZONE_SOCKET: d.socketPath,
      });
      expect(get.code).toBe(0);
      expect(get.stdout).toContain("log_level");
      const set = await runAs(member, [FIREZONECTL, "settings", "set", "log_level", "debug"], {
        FIREZONE_SOCKET: d.socketPath,
      });
      expect(set.code).toBe(77);
      expect(set.stderr).toContain("needs root");
      expect(readFileSync(d.env.FIREZONE_CONFIG!, "utf8")).toBe(CONF);
    } finally {
      await d.stop();
    }
  });

  test("a portal set on an unconfigured daemon is used at once; a new portal_url moves a signed-in session there", async () => {
    const d = await daemonWithFile("");
    try {
      expect((await status(d)).state).toBe("not_configured");
      expect((await ctl(d.socketPath, ["settings", "set", "allow_insecure_portal", "true"])).code).toBe(0);
      const set = await ctl(d.socketPath, ["settings", "set", "portal_url", wsUrl(portalA)]);
      expect(set.code).toBe(0);
      expect(set.out).toContain("applied");
      expect((await status(d)).state).toBe("signed_out");
      // doctor judges the configuration in use, not the one the daemon started with.
      const doctor = JSON.parse((await ctl(d.socketPath, ["doctor", "--json"])).out) as {
        checks: Array<{ id: string; status: string }>;
      };
      expect(doctor.checks.find((c) => c.id === "config")?.status).toBe("pass");
      const signIn = await ctl(d.socketPath, ["sign-in", "--token-stdin"], `${token}\n`);
      expect(signIn.code).toBe(0);
      expect((await ctl(d.socketPath, ["wait", "--connected", "--timeout", "20s"])).code).toBe(0);
      expect(portalA.counts().clients).toBe(1);

      const move = await ctl(d.socketPath, ["settings", "set", "portal_url", wsUrl(portalB)]);
      expect(move.code).toBe(0);
      expect(move.out).toContain("signs in again at the new portal");
      await waitFor(() => portalB.counts().clients === 1, 20_000, "the session at the new portal");
      await waitFor(() => portalA.counts().clients === 0, 20_000, "the old portal connection to close");
      const st = await status(d);
      expect(st.portalUrl).toBe(portalB.url);
      expect((await ctl(d.socketPath, ["wait", "--connected", "--timeout", "20s"])).code).toBe(0);
    } finally {
      await d.stop();
    }
  });
});

describe("SIGHUP", () => {
  test("SIGHUPs during start-up (from its first log line until it serves) never end the daemon", async () => {
    ensureBuilt();
    const dir = mkdtempSync(join(tmpdir(), "fzd-hup-"));
    chmodSync(dir, 0o755);
    const socket = join(dir, "run", "ipc.sock");
    const proc = Bun.spawn([FIREZONED], {
      env: {
        PATH: "/usr/bin:/bin",
        FIREZONE_SOCKET: socket,
        FIREZONE_GROUP: group,
        FIREZONE_STATE_DIR: join(dir, "state"),
        FIREZONE_LOG_DIR: join(dir, "log"),
        FIREZONE_TOKEN_FILE: join(dir, "token"),
        FIREZONE_CONFIG: join(dir, "firezoned.conf"),
        FIREZONE_API_URL: "",
        FIREZONE_DNS_CONTROL: "off",
        FIREZONE_TUN_NAME: `tfz${Math.random().toString(36).slice(2, 9)}`,
      },
      stdin: "ignore",
      stdout: "ignore",
      stderr: "pipe",
    });
    let err = "";
    const reader = (async () => {
      for await (const chunk of proc.stderr) err += new TextDecoder().decode(chunk);
    })();
    try {
      // Before its first line the process may not have a handler yet (nothing can catch a signal
      // that early); from then on, through the socket's creation, every SIGHUP is caught.
      await waitFor(() => err.length > 0 || proc.exitCode !== null, 30_000, "the first log line");
      const until = Date.now() + 30_000;
      while (!existsSync(socket) && proc.exitCode === null && Date.now() < until) {
        proc.kill("SIGHUP");
        await Bun.sleep(2);
      }
      for (let i = 0; i < 20; i++) proc.kill("SIGHUP");
      await Bun.sleep(200);
      expect(proc.exitCode).toBeNull();
      const st = Bun.spawnSync([FIREZONECTL, "status", "--json"], {
        env: { PATH: "/usr/bin:/bin", FIREZONE_SOCKET: socket },
      });
      expect(JSON.parse(st.stdout.toString()).state).toBe("not_configured");
    } finally {
      proc.kill("SIGTERM");
      await proc.exited;
      await reader;
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test("reloads the file: the new log level is in use and the daemon keeps running", async () => {
    const d = await daemonWithFile(CONF);
    try {
      writeFileSync(d.env.FIREZONE_CONFIG!, "log_level = warn\n", { mode: 0o644 });
      process.kill(d.proc.pid, "SIGHUP");
      // At warn the reload's own info line is no longer written: the level in use is what shows it.
      let effective: string | null = null;
      for (let i = 0; i < 100 && effective !== "warn"; i++) {
        effective = (await setting(d, "log_level")).effective;
        if (effective !== "warn") await Bun.sleep(50);
      }
      expect(effective).toBe("warn");
      expect(d.stderr()).toContain("SIGHUP: reloading the configuration");
      expect(d.proc.exitCode).toBeNull();
    } finally {
      await d.stop();
    }
  });

  test("a portal the reloaded file makes unusable takes the session down and says why (not_configured)", async () => {
    const d = await daemonWithFile(`allow_insecure_portal = true\nportal_url = ${wsUrl(portalA)}\n`);
    try {
      expect((await ctl(d.socketPath, ["sign-in", "--token-stdin"], `${token}\n`)).code).toBe(0);
      expect((await ctl(d.socketPath, ["wait", "--connected", "--timeout", "20s"])).code).toBe(0);
      writeFileSync(d.env.FIREZONE_CONFIG!, `portal_url = ${wsUrl(portalA)}\n`, { mode: 0o644 });
      process.kill(d.proc.pid, "SIGHUP");
      let st = await status(d);
      for (let i = 0; i < 100 && st.state !== "not_configured"; i++) {
        await Bun.sleep(50);
        st = await status(d);
      }
      expect(st.state).toBe("not_configured");
      expect(st.lastError).toContain("allow_insecure_portal");
      await waitFor(() => portalA.counts().clients === 0, 10_000, "the portal connection to close");
    } finally {
      await d.stop();
    }
  });

  test("a file that cannot be used is not applied: the running configuration stays and the error is logged", async () => {
    const d = await daemonWithFile(CONF);
    try {
      writeFileSync(d.env.FIREZONE_CONFIG!, "log_level = loud\n", { mode: 0o644 });
      process.kill(d.proc.pid, "SIGHUP");
      await waitFor(() => d.stderr().includes("was not reloaded"), 5000, "the refusal");
      expect(d.stderr()).toContain("'loud' is not one of");
      expect(await setting(d, "log_level")).toMatchObject({ effective: "info" });
      expect(d.proc.exitCode).toBeNull();
    } finally {
      await d.stop();
    }
  });
});
