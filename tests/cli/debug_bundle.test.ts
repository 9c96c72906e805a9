// The debug bundle from a signed-in devstack session: the expected files are there, and neither the
// sign-in token nor the tunnel's private key survives anywhere in it, even when a log it collects
// held them. --anonymize also replaces names, outside addresses and the home directory.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { hostname, tmpdir } from "node:os";
import { join } from "node:path";
import { FIREZONECTL } from "../_support/build.ts";
import { Stack } from "../_support/stack.ts";

const isRoot = process.getuid?.() === 0;
let stack: Stack;
let token = "";
let privateKey = "";
const tmp = mkdtempSync(join(tmpdir(), "fzbundle-"));
const home = join(tmp, "home", "alice-home");

beforeAll(async () => {
  if (!isRoot) return;
  stack = await Stack.create();
  token = stack.store((s) => s.createClientToken(stack.seed.aliceId)).token;
  const r = await stack.ctl(["sign-in", "--token-stdin"], `${token}\n`);
  expect(r.code).toBe(0);
  await stack.waitForState("connected", 15_000);
  // "connected" is the portal's answer; the device gets its key in the tunnel pass that follows.
  const readKey = () =>
    Bun.spawnSync(["ip", "netns", "exec", stack.world.client, "wg", "show", stack.tun, "private-key"])
      .stdout.toString()
      .trim();
  for (let i = 0; i < 150 && !/^[A-Za-z0-9+/]{43}=$/.test(privateKey); i++) {
    privateKey = readKey();
    if (!/^[A-Za-z0-9+/]{43}=$/.test(privateKey)) await Bun.sleep(100);
  }
  // A tray log that leaked both secrets, as a careless version might: the bundle must still hold neither.
  const state = join(home, ".local", "state", "firezone");
  mkdirSync(state, { recursive: true });
  writeFileSync(
    join(state, "gui.log"),
    `2026-01-01T00:00:00.000Z INFO firezone-gui: signing in token=${token}\n` +
      `2026-01-01T00:00:01.000Z DEBUG firezone-gui: header X-Authorization: Bearer ${token}\n` +
      `2026-01-01T00:00:02.000Z DEBUG firezone-gui: private_key=${privateKey}\n` +
      `2026-01-01T00:00:03.000Z INFO firezone-gui: raw ${token} and ${privateKey} in ${home}/notes\n`,
  );
}, 180_000);

afterAll(async () => {
  await stack?.destroy();
  rmSync(tmp, { recursive: true, force: true });
});

async function bundle(name: string, extra: string[] = []): Promise<string> {
  const out = join(tmp, `${name}.tar.gz`);
  const p = Bun.spawn([FIREZONECTL, "debug", "bundle", "--output", out, ...extra], {
    env: { PATH: "/usr/bin:/bin", FIREZONE_SOCKET: stack.socket, HOME: home, USER: "alice-desk" },
    stdin: "ignore",
    stdout: "pipe",
    stderr: "pipe",
  });
  const [code, err] = await Promise.all([p.exited, new Response(p.stderr).text()]);
  expect(err).toBe("");
  expect(code).toBe(0);
  expect(statSync(out).mode & 0o777).toBe(0o600);
  const dir = join(tmp, name);
  mkdirSync(dir);
  const x = Bun.spawnSync(["tar", "xzf", out, "-C", dir]);
  expect(x.exitCode).toBe(0);
  return join(dir, "firezone-debug");
}

function allText(dir: string): string {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => readFileSync(join(e.parentPath, e.name), "utf8"))
    .join("\n");
}

describe("firezonectl debug bundle", () => {
  test.skipIf(!isRoot)(
    "from a signed-in session it holds the expected files and neither the token nor the private key",
    async () => {
      expect(token.length).toBeGreaterThan(20);
      expect(privateKey).toMatch(/^[A-Za-z0-9+/]{43}=$/);
      const dir = await bundle("plain");
      for (const f of [
        "manifest.json",
        "doctor.txt",
        "doctor.json",
        "versions.txt",
        "unit-status.txt",
        "daemon/daemon-status.json",
        "daemon/daemon-resources.json",
        "daemon/interfaces.txt",
        "daemon/routes.txt",
        "daemon/rules.txt",
        "daemon/dns.txt",
        "daemon/config.txt",
        "daemon/versions.txt",
        "daemon/firezoned.log",
        "gui/gui.log",
      ]) {
        expect(statSync(join(dir, f)).isFile()).toBe(true);
      }
      expect(JSON.parse(readFileSync(join(dir, "daemon/daemon-status.json"), "utf8")).state).toBe(
        "connected",
      );
      expect(readFileSync(join(dir, "daemon/daemon-resources.json"), "utf8")).toContain('"web"');
      expect(readFileSync(join(dir, "daemon/interfaces.txt"), "utf8")).toContain(stack.tun);
      expect(readFileSync(join(dir, "daemon/firezoned.log"), "utf8")).toContain("listening");
      expect(JSON.parse(readFileSync(join(dir, "manifest.json"), "utf8"))).toMatchObject({
        schemaVersion: 1,
        anonymized: false,
        problems: [],
      });
      const everything = allText(dir);
      expect(everything).not.toContain(token);
      expect(everything).not.toContain(privateKey);
      // The tray's log is there, with the secrets cut out of it.
      expect(readFileSync(join(dir, "gui/gui.log"), "utf8")).toContain("token=[REDACTED]");
      // grep as a person would, over the unpacked files.
      for (const secret of [token, privateKey]) {
        const g = Bun.spawnSync(["grep", "-rF", "--", secret, dir]);
        expect(g.exitCode).toBe(1);
      }
    },
  );

  test.skipIf(!isRoot)(
    "in a signed-in session doctor passes the portal, token and clock checks and exits 0",
    async () => {
      const dir = join(tmp, "plain", "firezone-debug");
      const report = JSON.parse(readFileSync(join(dir, "doctor.json"), "utf8"));
      const status = (id: string) => report.checks.find((c: { id: string }) => c.id === id)?.status;
      for (const id of [
        "daemon",
        "config",
        "portal_dns",
        "portal_tcp",
        "portal_websocket",
        "portal_token",
        "clock",
        "routes",
      ])
        expect(`${id}: ${status(id)}`).toBe(`${id}: pass`);
      const live = await stack.ctl(["doctor"]);
      expect(live.out).toContain("All checks passed");
      expect(live.code).toBe(0);
    },
  );

  test.skipIf(!isRoot)(
    "--anonymize replaces names, addresses outside the tunnel ranges and the home directory",
    async () => {
      const dir = await bundle("anon", ["--anonymize"]);
      const everything = allText(dir);
      expect(everything).not.toContain(token);
      expect(everything).not.toContain(privateKey);
      const st = JSON.parse(readFileSync(join(dir, "daemon/daemon-status.json"), "utf8"));
      expect(st.actor).toMatch(/^name-\d+$/);
      expect(everything).not.toContain(stack.seed.web.address);
      expect(everything).not.toContain(home);
      expect(everything).toContain("~/notes");
      expect(everything).not.toMatch(/\balice\b/);
      expect(everything).not.toContain(hostname());
      // The tunnel's own addresses stay: they identify nobody outside it.
      expect(st.addresses.some((a: string) => a.startsWith("100."))).toBe(true);
      expect(JSON.parse(readFileSync(join(dir, "manifest.json"), "utf8")).anonymized).toBe(true);
    },
  );

  test.skipIf(!isRoot)("an existing file is never overwritten (exit 65)", async () => {
    const out = join(tmp, "exists.tar.gz");
    writeFileSync(out, "keep me");
    const r = await stack.ctl(["debug", "bundle", "--output", out]);
    expect(r.code).toBe(65);
    expect(r.err).toContain("exists already");
    expect(readFileSync(out, "utf8")).toBe("keep me");
  });
});
