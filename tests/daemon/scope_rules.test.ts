// The scope's nftables rules from typed values, and the tunnel wrapper that puts them in before the
// device and takes them out after it. The kernel is real: each test loads the rules into a network
// namespace of its own with the real nft; the device is a stand-in that records what the kernel's
// table held at the moment it was brought up and down (a TUN device adds nothing to that question).
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import {
  appRules,
  cgroup2Mount,
  checkIfname,
  loadDaemonConfig,
  nftRunner,
  ScopedTunnel,
  scopeRules,
  type TunnelControl,
  tableName,
} from "../../lib/daemon/index.ts";
import { silentLogger } from "../../lib/util/index.ts";

const canRun = process.getuid?.() === 0 && Bun.which("nft") !== null;
const ns = `fzsr${Math.random().toString(36).slice(2, 8)}`;
const run = nftRunner(["ip", "netns", "exec", ns, "nft"]);

function ruleset(): string {
  return Bun.spawnSync(["ip", "netns", "exec", ns, "nft", "list", "ruleset"]).stdout.toString();
}

/** A device that notes whether the scope's table existed when it went up and when it went down. */
function recordingDevice(name: string, fail = false) {
  const seen: string[] = [];
  const device: TunnelControl = {
    name,
    cleanupStale: async () => [],
    up: async () => {
      seen.push(`up with table: ${ruleset().includes(`table inet ${tableName(name)}`)}`);
      if (fail) throw new Error("device failed");
    },
    setPeers: async () => {},
    setRoutes: async () => [],
    setFullTunnel: async () => null,
    down: async () => {
      seen.push(`down with table: ${ruleset().includes(`table inet ${tableName(name)}`)}`);
    },
  };
  return { device, seen };
}

describe("rules from typed values", () => {
  test("interface names outside [A-Za-z0-9_.-]{1,15} are refused before nft sees them", () => {
    for (const bad of ["a b", 'x"y', "x;y", "sixteen-chars-xx", "..", "", "tun\nx"])
      expect(() => checkIfname(bad)).toThrow("is not an interface name");
    expect(checkIfname("tun-firezone")).toBe("tun-firezone");
    expect(tableName("tun-firezone")).toBe("firezone");
    expect(tableName("tfzabc")).toBe("firezone-tfzabc");
  });

  test("a uid that is not an integer in range is refused", () => {
    for (const uid of [-1, 1.5, 2 ** 32, Number.NaN])
      expect(() => scopeRules("tun-firezone", { scope: "user", uid })).toThrow("is not a uid");
  });

  test("cgroup paths with '..', quotes, spaces or a leading slash are refused; the level is the depth", () => {
    for (const bad of ["../etc", "a/../b", 'a"b', "a b", "/user.slice", "a//b", ".", "a/./b", "x\ny"])
      expect(() => appRules("tun-firezone", bad, "")).toThrow();
    const script = appRules("tun-firezone", "user.slice/user-1000.slice/app.scope", "unified/");
    expect(script).toContain('socket cgroupv2 level 3 "unified/user.slice/user-1000.slice/app.scope" accept');
  });

  test("the cgroup v2 hierarchy is found at /sys/fs/cgroup or below it, else not", () => {
    const pure = "30 24 0:26 / /sys/fs/cgroup rw,nosuid shared:9 - cgroup2 cgroup2 rw,nsdelegate";
    const hybrid = "31 25 0:27 / /sys/fs/cgroup/unified rw shared:10 - cgroup2 cgroup2 rw";
    const v1 = "32 25 0:28 / /sys/fs/cgroup/cpu rw shared:11 - cgroup cgroup rw,cpu";
    const elsewhere = "33 25 0:29 / /tmp/cg rw - cgroup2 none rw";
    expect(cgroup2Mount(pure)).toEqual({ mountPoint: "/sys/fs/cgroup", prefix: "" });
    expect(cgroup2Mount(`${v1}\n${hybrid}`)).toEqual({
      mountPoint: "/sys/fs/cgroup/unified",
      prefix: "unified/",
    });
    expect(cgroup2Mount(`${v1}\n${elsewhere}`)).toBeNull();
  });

  test("a bad default_scope in the environment stops the daemon's start with the accepted values", () => {
    expect(() =>
      loadDaemonConfig({
        FIREZONE_CONFIG: "/nonexistent/firezoned.conf",
        FIREZONE_DEFAULT_SCOPE: "everyone",
      }),
    ).toThrow("FIREZONE_DEFAULT_SCOPE 'everyone' is not one of user, system");
    expect(loadDaemonConfig({ FIREZONE_CONFIG: "/nonexistent/firezoned.conf" }).defaultScope).toBe("user");
  });
});

describe.skipIf(!canRun)("the scoped tunnel, against the kernel", () => {
  beforeAll(() => {
    Bun.spawnSync(["ip", "netns", "add", ns]);
  });
  afterAll(() => {
    Bun.spawnSync(["ip", "netns", "del", ns]);
  });

  test("scope user: the table is there before the device comes up and gone after it went down", async () => {
    const { device, seen } = recordingDevice("tfzrec1");
    const tunnel = new ScopedTunnel(device, { logger: silentLogger, run });
    await tunnel.setPolicy({ scope: "user", uid: 4242 });
    expect(ruleset()).not.toContain("tfzrec1");
    await tunnel.up({ privateKey: "k", addresses: [] });
    expect(ruleset()).toMatch(/meta skuid != \{ 0, 4242 \} meta l4proto tcp reject with tcp reset/);
    await tunnel.down();
    expect(seen).toEqual(["up with table: true", "down with table: true"]);
    expect(ruleset()).not.toContain("firezone-tfzrec1");
  });

  test("a device that fails to come up leaves no table behind", async () => {
    const { device } = recordingDevice("tfzrec2", true);
    const tunnel = new ScopedTunnel(device, { logger: silentLogger, run });
    await tunnel.setPolicy({ scope: "user", uid: 4242 });
    await expect(tunnel.up({ privateKey: "k", addresses: [] })).rejects.toThrow("device failed");
    expect(ruleset()).not.toContain("firezone-tfzrec2");
  });

  test("nft failing keeps the device down: the scope fails closed", async () => {
    const { device, seen } = recordingDevice("tfzrec3");
    const broken = nftRunner(["ip", "netns", "exec", ns, "false"]);
    const tunnel = new ScopedTunnel(device, { logger: silentLogger, run: broken });
    await tunnel.setPolicy({ scope: "user", uid: 4242 });
    await expect(tunnel.up({ privateKey: "k", addresses: [] })).rejects.toThrow("nft refused");
    expect(seen).toEqual([]);
  });

  test("scope system needs no nft: with none installed (a container image) the device comes up", async () => {
    const { device, seen } = recordingDevice("tfzrec6");
    const missing = nftRunner(["/nonexistent/nft"]);
    const tunnel = new ScopedTunnel(device, { logger: silentLogger, run: missing });
    await tunnel.setPolicy({ scope: "system" });
    await tunnel.up({ privateKey: "k", addresses: [] });
    await tunnel.down();
    expect(seen).toEqual(["up with table: false", "down with table: false"]);
  });

  test("start-up cleanup deletes a table a crashed predecessor left", async () => {
    await run({ json: scopeRules("tfzrec4", { scope: "user", uid: 7 }) });
    expect(ruleset()).toContain("firezone-tfzrec4");
    const { device } = recordingDevice("tfzrec4");
    await new ScopedTunnel(device, { logger: silentLogger, run }).cleanupStale();
    expect(ruleset()).not.toContain("firezone-tfzrec4");
  });

  test("scope app with a cgroup that does not exist is refused with how to make one, before nft", async () => {
    const { device } = recordingDevice("tfzrec5");
    const tunnel = new ScopedTunnel(device, {
      logger: silentLogger,
      run,
      mountinfo: () => "30 24 0:26 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw",
    });
    await expect(tunnel.setPolicy({ scope: "app", uid: 7, cgroup: "no-such-cgroup-fz" })).rejects.toThrow(
      "there is no cgroup no-such-cgroup-fz; start the application in it first",
    );
    const none = new ScopedTunnel(device, { logger: silentLogger, run, mountinfo: () => "" });
    await expect(none.setPolicy({ scope: "app", uid: 7, cgroup: "x" })).rejects.toThrow(
      "scope app needs the cgroup v2 hierarchy mounted",
    );
  });
});
