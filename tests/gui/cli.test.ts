// firezone-gui's command line: help, version, usage errors and the refusal to run as root.
import { beforeAll, describe, expect, test } from "bun:test";
import { ensureGuiBuilt, GUI } from "./fixtures/desktop.ts";

function gui(args: string[], env: Record<string, string> = {}) {
  const r = Bun.spawnSync([GUI, ...args], {
    env: { PATH: "/usr/bin:/bin", ...env },
    stdout: "pipe",
    stderr: "pipe",
  });
  return { code: r.exitCode, stdout: r.stdout.toString(), stderr: r.stderr.toString() };
}

beforeAll(() => ensureGuiBuilt());

describe("firezone-gui command line", () => {
  test("--version prints the version", () => {
    const r = gui(["--version"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^firezone-gui \d+\.\d+\.\d+\n$/);
  });

  test("--help names the deep-link command, the settings file and the environment", () => {
    const r = gui(["--help"]);
    expect(r.code).toBe(0);
    for (const s of [
      "open-deep-link < FILE",
      "~/.config/firezone/gui.json",
      "FIREZONE_AUTH_URL",
      "FIREZONE_ACCOUNT",
    ]) {
      expect(r.stdout).toContain(s);
    }
  });

  test("an unknown argument is a usage error (64)", () => {
    const r = gui(["--frobnicate"]);
    expect(r.code).toBe(64);
    expect(r.stderr).toContain("unknown argument '--frobnicate'");
  });

  test.skipIf(process.getuid?.() !== 0)(
    "refuses to run as root (77), before touching the bus or the keyring",
    () => {
      const r = gui([], {
        XDG_RUNTIME_DIR: "/nonexistent",
        DBUS_SESSION_BUS_ADDRESS: "unix:path=/nonexistent",
      });
      expect(r.code).toBe(77);
      expect(r.stderr).toContain("refusing to run as root");
    },
  );
});
