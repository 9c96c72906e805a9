// install.sh checks that need no VM: its help, and the early refusals (not root, not systemd). The
// real installs, upgrades and removals run on a booted systemd in `bun run test:vm`.
import { describe, expect, test } from "bun:test";
import { existsSync, readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { stageFile } from "../_support/stage.ts";

const ROOT = resolve(import.meta.dir, "../..");
const INSTALL = join(ROOT, "install.sh");

function sh(args: string[], opts: { asUser?: string; env?: Record<string, string> } = {}) {
  // Another user reads the script from the stage: the checkout may be private (a clone under /root).
  const argv = ["sh", opts.asUser ? stageFile(INSTALL) : INSTALL, ...args];
  const cmd = opts.asUser ? ["runuser", "-u", opts.asUser, "--", ...argv] : argv;
  const r = Bun.spawnSync(cmd, {
    env: { PATH: "/usr/sbin:/usr/bin:/sbin:/bin", ...opts.env },
    stdout: "pipe",
    stderr: "pipe",
  });
  return { code: r.exitCode, out: r.stdout.toString(), err: r.stderr.toString() };
}

/** Every long option the argument parser accepts. */
function parsedOptions(): string[] {
  const text = readFileSync(INSTALL, "utf8");
  return [...new Set([...text.matchAll(/^\t(?:-h \| )?(--[a-z-]+)(?:=\*)?\)/gm)].map((m) => m[1] as string))];
}

describe("install.sh", () => {
  test("--help documents every option the script accepts, and FIREZONE_BASE_URL", () => {
    const r = sh(["--help"]);
    expect(r.code).toBe(0);
    const options = parsedOptions();
    expect(options).toEqual(
      expect.arrayContaining(["--from-dir", "--base-url", "--version", "--uninstall", "--purge", "--help"]),
    );
    for (const o of options) expect(r.out).toMatch(new RegExp(`^\\s+(-h, )?${o}\\b`, "m"));
    expect(r.out).toContain("FIREZONE_BASE_URL");
  });

  test("--api-url is checked before anything else: plaintext needs --allow-insecure-portal, odd characters are refused unechoed", () => {
    const plain = sh(["--api-url", "ws://10.0.0.1:8080"]);
    expect(plain.code).toBe(1);
    expect(plain.err).toContain("is plaintext");
    expect(plain.err).toContain("--allow-insecure-portal");
    for (const [url, why] of [
      ["ftp://portal.example", "must start with wss://"],
      ["wss://user@portal.example", "carries credentials"],
      ["wss://", "has no host"],
    ] as const) {
      const r = sh([`--api-url=${url}`]);
      expect(r.code).toBe(1);
      expect(r.err).toContain(why);
    }
    const hostile = sh(["--api-url", "wss://x$(touch /tmp/fz-pwned)\u001b[2J"]);
    expect(hostile.code).toBe(1);
    expect(hostile.err).toContain("holds characters a portal URL does not need");
    expect(hostile.err).not.toContain("\u001b");
    expect(existsSync("/tmp/fz-pwned")).toBe(false);
    expect(sh(["--uninstall", "--api-url", "wss://p.example"]).err).toContain("is for installing");
  });

  test("an unknown option exits 64 and shows the usage", () => {
    const r = sh(["--frobnicate"]);
    expect(r.code).toBe(64);
    expect(r.err).toContain("unknown option --frobnicate");
    expect(r.err).toContain("Usage: install.sh");
  });

  test.skipIf(process.getuid?.() !== 0)("a user other than root is refused before anything changes", () => {
    const r = sh(["--from-dir", join(ROOT, "dist")], { asUser: "nobody" });
    expect(r.code).toBe(1);
    expect(r.err).toContain("must run as root. Run it with sudo");
  });

  test.skipIf(process.getuid?.() !== 0 || existsSync("/run/systemd/system"))(
    "on a system not booted with systemd it refuses and points to the Docker image",
    () => {
      const r = sh(["--from-dir", join(ROOT, "dist")]);
      expect(r.code).toBe(1);
      expect(r.err).toContain("not booted with systemd");
      expect(r.err).toContain("docs/docker.md");
      expect(existsSync("/etc/systemd/system/firezoned.service")).toBe(false);
    },
  );

  test.skipIf(!Bun.which("shellcheck"))("is shellcheck-clean", () => {
    const r = Bun.spawnSync(["shellcheck", INSTALL, join(ROOT, "docker/entrypoint.sh")], { stdout: "pipe" });
    expect(r.stdout.toString()).toBe("");
    expect(r.exitCode).toBe(0);
  });
});
