// systemd-resolved mode against a real systemd-resolved (Debian's binary, run in a network and
// mount namespace of the test's own with a private system bus): ResolvedControl's D-Bus calls make
// resolved send resource names to the stub and only there, and RevertLink leaves nothing behind.
// The binary comes from an installed systemd-resolved or from the package tree unpacked into
// .cache/systemd-resolved (docs/dns.md says how); without either the test is skipped.
import { describe, expect, test } from "bun:test";
import { existsSync } from "node:fs";
import { resolve } from "node:path";
import { canRun } from "./_lab.ts";

const ROOTS = ["/", resolve(import.meta.dir, "../../.cache/systemd-resolved")];
const root = ROOTS.find(
  (r) => existsSync(`${r}/lib/systemd/systemd-resolved`) && existsSync(`${r}/usr/bin/resolvectl`),
);
const hasTools =
  canRun &&
  root !== undefined &&
  Bun.spawnSync(["sh", "-c", "command -v dbus-daemon unshare"]).exitCode === 0;

async function inResolvedWorld(routing: "all" | "resources"): Promise<Record<string, string>> {
  const ns = `fzres-${Math.random().toString(36).slice(2, 7)}`;
  Bun.spawnSync(["ip", "netns", "add", ns]);
  try {
    const p = Bun.spawn(
      [
        "ip",
        "netns",
        "exec",
        ns,
        "unshare",
        "-m",
        "sh",
        resolve(import.meta.dir, "fixtures/resolved_world.sh"),
        root!,
        process.execPath,
        resolve(import.meta.dir, "fixtures/resolved_case.ts"),
        routing,
      ],
      { stdout: "pipe", stderr: "pipe" },
    );
    const [out, err] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text()]);
    await p.exited;
    const line = out.split("\n").find((l) => l.startsWith("{"));
    if (!line) throw new Error(`no result from the resolved world: ${out}\n${err}`);
    return JSON.parse(line);
  } finally {
    Bun.spawnSync(["ip", "netns", "del", ns]);
  }
}

describe.skipIf(!hasTools)("systemd-resolved DNS control (real resolved, private bus)", () => {
  test("routing all names: the link gets the stub, ~. and the default route; resource names get proxy addresses; RevertLink restores", async () => {
    const r = await inResolvedWorld("all");
    expect(r.status).toContain("DNS Servers: 100.100.111.1");
    expect(r.status).toMatch(/DNS Domain: search\.example ~\./);
    expect(r.status).toContain("+DefaultRoute");
    // The LAN's resolver knows app.corp.example as 198.51.100.1; resolved never asked it.
    expect(r.resource).toContain("100.96.0.1");
    expect(r.resource).toContain("fd00:2021:1111:8000::1");
    expect(r.resource).not.toContain("198.51.100.1");
    // Other names also go through the stub, which forwards them.
    expect(r.other).toContain("192.0.2.80");
    expect(Number(r.stubForwarded)).toBeGreaterThan(0);
    expect(r.statusAfter).not.toContain("100.100.111.1");
    expect(r.statusAfter).toContain("-DefaultRoute");
    expect(r.resourceAfter).toContain("198.51.100.1");
  }, 60_000);

  test("routing only resource zones: resource names reach the stub, other names never do", async () => {
    const r = await inResolvedWorld("resources");
    expect(r.status).toMatch(/DNS Domain: search\.example ~corp\.example/);
    expect(r.status).toContain("-DefaultRoute");
    expect(r.resource).toContain("100.96.0.1");
    expect(r.other).toContain("192.0.2.80");
    expect(r.stubForwarded).toBe("0");
  }, 60_000);
});
