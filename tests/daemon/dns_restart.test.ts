// The restart that lets the unit's sandbox open a /etc/resolv.conf another program renamed over
// ours: asked for only under systemd, and at most once per RESTART_SPACING_MS.
import { afterAll, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { RESTART_SPACING_MS, restartToFollowResolvConf } from "../../lib/daemon/dns_restart.ts";
import { createLogger } from "../../lib/util/index.ts";

const stateDir = mkdtempSync(join(tmpdir(), "fz-dns-restart-"));
afterAll(() => rmSync(stateDir, { recursive: true, force: true }));
const logger = createLogger({ name: "test", level: "error" });

test("under systemd it stops the daemon once, then not again within the spacing, then again after it", () => {
  let stops = 0;
  let now = 1_000_000;
  const ask = () =>
    restartToFollowResolvConf({ stateDir, underSystemd: true, logger, stop: () => stops++, now: () => now });
  expect(ask()).toBe(true);
  expect(stops).toBe(1);
  // The restarted daemon (a new process) reads the stamp the last one left.
  now += RESTART_SPACING_MS - 1;
  expect(ask()).toBe(false);
  expect(stops).toBe(1);
  now += 1;
  expect(ask()).toBe(true);
  expect(stops).toBe(2);
});

test("outside systemd nothing would bring the daemon back: it only warns", () => {
  let stops = 0;
  const dir = mkdtempSync(join(stateDir, "plain-"));
  expect(restartToFollowResolvConf({ stateDir: dir, underSystemd: false, logger, stop: () => stops++ })).toBe(
    false,
  );
  expect(stops).toBe(0);
});
