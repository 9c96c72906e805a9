// The Internet Resource switch on a real firezoned, through firezonectl as root, as a member of the
// group and as an outsider (real users): who may switch it, that the choice survives a restart,
// and what happens to a settings file that cannot be used.
import { afterAll, describe, expect, test } from "bun:test";
import {
  chmodSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connectDaemon } from "../../lib/ipc/index.ts";
import { FzError } from "../../lib/types/index.ts";
import { FIREZONECTL } from "../_support/build.ts";
import { ctl } from "../_support/ctl.ts";
import { startDaemon, type TestDaemon } from "../_support/daemon.ts";
import { runAs, TestAccounts } from "../_support/users.ts";

const accounts = new TestAccounts();
const group = accounts.group();
const member = accounts.user(undefined, [group]);
const outsider = accounts.user();
const tmp = mkdtempSync(join(tmpdir(), "fzir-"));
chmodSync(tmp, 0o755);

afterAll(() => {
  accounts.cleanup();
  rmSync(tmp, { recursive: true, force: true });
});

function stateDir(name: string): string {
  const dir = join(tmp, name);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  return dir;
}

function auditLines(d: TestDaemon): string[] {
  const file = join(d.dir, "log", "audit.log");
  return existsSync(file) ? readFileSync(file, "utf8").trim().split("\n") : [];
}

describe("the Internet Resource switch", () => {
  test("a fresh daemon reports it off, with allow-LAN off and nothing offered", async () => {
    const d = await startDaemon(group, { FIREZONE_STATE_DIR: stateDir("fresh") });
    try {
      const r = await ctl(d.socketPath, ["internet-resource", "--json"]);
      expect(r.code).toBe(0);
      expect(JSON.parse(r.out)).toEqual({
        schemaVersion: 1,
        enabled: false,
        allowLan: false,
        available: false,
        active: false,
      });
      const text = await ctl(d.socketPath, ["internet-resource", "status"]);
      expect(text.out).toContain(
        "Internet Resource off: only traffic to your resources goes through the tunnel",
      );
      const st = JSON.parse((await ctl(d.socketPath, ["status", "--json"])).out);
      expect(st.internetResource).toMatchObject({ enabled: false });
    } finally {
      await d.stop();
    }
  });

  test("a member of the group switches it on with allow-LAN; the choice is saved and survives a restart", async () => {
    const state = stateDir("persist");
    let d = await startDaemon(group, { FIREZONE_STATE_DIR: state });
    try {
      const r = await runAs(member, [FIREZONECTL, "internet-resource", "on", "--allow-lan", "--json"], {
        FIREZONE_SOCKET: d.socketPath,
      });
      expect(r.stderr).toBe("");
      expect(r.code).toBe(0);
      expect(JSON.parse(r.stdout)).toMatchObject({ enabled: true, allowLan: true, available: false });
      const human = await runAs(member, [FIREZONECTL, "internet-resource"], {
        FIREZONE_SOCKET: d.socketPath,
      });
      expect(human.stdout).toContain("on, but signed out");
      expect(human.stdout).toContain("Allow LAN:  yes");
      const file = join(state, "settings.json");
      expect(statSync(file).mode & 0o777).toBe(0o600);
      expect(JSON.parse(readFileSync(file, "utf8"))).toEqual({
        version: 1,
        internet_resource: { enabled: true, allow_lan: true },
      });
      expect(auditLines(d).some((l) => l.includes("set_internet_resource") && l.includes(member))).toBe(true);
    } finally {
      await d.stop();
    }
    d = await startDaemon(group, { FIREZONE_STATE_DIR: state });
    try {
      expect(JSON.parse((await ctl(d.socketPath, ["internet-resource", "--json"])).out)).toMatchObject({
        enabled: true,
        allowLan: true,
      });
      // Switching off keeps the allow-LAN choice for next time.
      const off = await ctl(d.socketPath, ["internet-resource", "off", "--json"]);
      expect(JSON.parse(off.out)).toMatchObject({ enabled: false, allowLan: true });
    } finally {
      await d.stop();
    }
  });

  test("a user outside the group is refused (exit 77) and the switch does not move", async () => {
    const d = await startDaemon(group, { FIREZONE_STATE_DIR: stateDir("outsider") });
    try {
      const r = await runAs(outsider, [FIREZONECTL, "internet-resource", "on"], {
        FIREZONE_SOCKET: d.socketPath,
      });
      expect(r.code).toBe(77);
      expect(JSON.parse((await ctl(d.socketPath, ["internet-resource", "--json"])).out).enabled).toBe(false);
    } finally {
      await d.stop();
    }
  });

  test("in service mode a member is refused with the reason (exit 77); root may switch it", async () => {
    const d = await startDaemon(group, {
      FIREZONE_STATE_DIR: stateDir("service"),
      FIREZONE_TOKEN: "a-service-token-for-no-portal",
      // Nothing listens there: the daemon stays `connecting`, which is all this test needs.
      FIREZONE_API_URL: "ws://127.0.0.1:9",
      FIREZONE_ALLOW_INSECURE_PORTAL: "1",
    });
    try {
      const r = await runAs(member, [FIREZONECTL, "internet-resource", "on"], {
        FIREZONE_SOCKET: d.socketPath,
      });
      expect(r.code).toBe(77);
      expect(r.stderr).toContain("service mode");
      expect(r.stderr).toContain("the Internet Resource switch is managed by the administrator");
      const root = await ctl(d.socketPath, ["internet-resource", "on", "--json"]);
      expect(root.code).toBe(0);
      expect(JSON.parse(root.out).enabled).toBe(true);
    } finally {
      await d.stop();
    }
  });

  test("usage mistakes exit 64 with the right form, and the daemon refuses an empty change", async () => {
    const d = await startDaemon(group, { FIREZONE_STATE_DIR: stateDir("usage") });
    try {
      for (const [args, says] of [
        [["internet-resource", "maybe"], "takes status, on or off, not 'maybe'"],
        [["internet-resource", "status", "--allow-lan"], "--allow-lan goes with on or off"],
        [["internet-resource", "on", "now"], "takes no argument 'now'"],
        [["internet-resource", "on", "--lan"], "unknown option '--lan'"],
      ] as const) {
        const r = await ctl(d.socketPath, [...args]);
        expect(r.code).toBe(64);
        expect(r.err).toContain(says);
      }
      const client = await connectDaemon({ socketPath: d.socketPath });
      try {
        const err = await client.call("set_internet_resource", {}).catch((e: unknown) => e);
        expect(err).toBeInstanceOf(FzError);
        expect((err as FzError).code).toBe("invalid_request");
        expect((err as FzError).message).toContain("give enabled, allowLan or both");
      } finally {
        client.close();
      }
    } finally {
      await d.stop();
    }
  });

  test("firezoned.conf's internet_resource and allow_lan are the default until a user chooses; the choice wins", async () => {
    const state = stateDir("configured");
    const conf = join(tmp, "configured.conf");
    writeFileSync(
      conf,
      "# Full tunnel for this fleet until a user says otherwise\ninternet_resource = on\nallow_lan = yes\n",
      {
        mode: 0o644,
      },
    );
    let d = await startDaemon(group, { FIREZONE_STATE_DIR: state, FIREZONE_CONFIG: conf });
    try {
      expect(JSON.parse((await ctl(d.socketPath, ["internet-resource", "--json"])).out)).toMatchObject({
        enabled: true,
        allowLan: true,
      });
      expect((await ctl(d.socketPath, ["internet-resource", "off", "--no-allow-lan"])).code).toBe(0);
    } finally {
      await d.stop();
    }
    d = await startDaemon(group, { FIREZONE_STATE_DIR: state, FIREZONE_CONFIG: conf });
    try {
      expect(JSON.parse((await ctl(d.socketPath, ["internet-resource", "--json"])).out)).toMatchObject({
        enabled: false,
        allowLan: false,
      });
    } finally {
      await d.stop();
    }
    writeFileSync(conf, "internet_resource = maybe\n", { mode: 0o644 });
    d = await startDaemon(group, { FIREZONE_STATE_DIR: stateDir("badconf"), FIREZONE_CONFIG: conf });
    try {
      const st = JSON.parse((await ctl(d.socketPath, ["status", "--json"])).out);
      expect(st.state).toBe("not_configured");
      expect(st.lastError).toContain("internet_resource 'maybe' is not a boolean");
    } finally {
      await d.stop();
    }
  });

  test("a settings file that is not valid is kept aside as settings.json.bad, logged, and the defaults apply", async () => {
    const state = stateDir("corrupt");
    writeFileSync(join(state, "settings.json"), '{"version": 1, "internet_resource": {"enabled": "yes"}}', {
      mode: 0o600,
    });
    const d = await startDaemon(group, { FIREZONE_STATE_DIR: state });
    try {
      expect(JSON.parse((await ctl(d.socketPath, ["internet-resource", "--json"])).out).enabled).toBe(false);
      expect(readFileSync(join(state, "settings.json.bad"), "utf8")).toContain('"yes"');
      expect(existsSync(join(state, "settings.json"))).toBe(false);
      expect(d.stderr()).toContain("the settings file is not valid (internet_resource.enabled:");
      expect(d.stderr()).toContain("settings.json.bad");
    } finally {
      await d.stop();
    }
  });

  test("a choice that cannot be saved is refused with the file named, and nothing changes", async () => {
    const state = stateDir("unwritable");
    // The temporary file's name is taken by a directory: the write fails, as on a full disk.
    mkdirSync(join(state, "settings.json.tmp"));
    const d = await startDaemon(group, { FIREZONE_STATE_DIR: state });
    try {
      const r = await ctl(d.socketPath, ["internet-resource", "on"]);
      expect(r.code).toBe(1);
      expect(r.err).toContain(`could not save the setting to ${join(state, "settings.json")}`);
      expect(r.err).toContain("nothing was changed");
      expect(JSON.parse((await ctl(d.socketPath, ["internet-resource", "--json"])).out).enabled).toBe(false);
    } finally {
      await d.stop();
    }
  });
});
