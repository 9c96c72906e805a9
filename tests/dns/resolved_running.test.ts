// Whether systemd-resolved runs is asked of the bus (its bus name has an owner), not read from its
// runtime directory, which its unit keeps after it stops. Against a real dbus-daemon of the test's
// own: no owner, then a connection holding org.freedesktop.resolve1, then that connection gone.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { resolvedIsRunning } from "../../lib/dns/index.ts";
import { closeUnixBus, openUnixBus } from "../../lib/util/index.ts";

const canRun = Bun.which("dbus-daemon") !== null && existsSync("/usr/share/dbus-1/session.conf");

describe.skipIf(!canRun)("resolvedIsRunning (a real dbus-daemon)", () => {
  let dir: string;
  let socket: string;
  let daemon: Bun.Subprocess;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "fz-bus-"));
    socket = join(dir, "bus");
    daemon = Bun.spawn(
      [
        "dbus-daemon",
        "--config-file=/usr/share/dbus-1/session.conf",
        "--nofork",
        `--address=unix:path=${socket}`,
      ],
      { stdout: "ignore", stderr: "inherit" },
    );
    for (let i = 0; i < 100 && !existsSync(socket); i++) await Bun.sleep(50);
  });
  afterAll(() => {
    daemon?.kill();
    rmSync(dir, { recursive: true, force: true });
  });

  test("no owner of org.freedesktop.resolve1: false; while a connection holds it: true; after it left: false", async () => {
    const asker = openUnixBus(socket, "test bus");
    try {
      expect(await resolvedIsRunning(asker)).toBe(false);
      const resolved = openUnixBus(socket, "test bus");
      await resolved.requestName("org.freedesktop.resolve1", 0);
      expect(await resolvedIsRunning(asker)).toBe(true);
      closeUnixBus(resolved);
      let gone = true;
      for (let i = 0; i < 50 && gone; i++) {
        gone = (await resolvedIsRunning(asker)) === true;
        if (gone) await Bun.sleep(50);
      }
      expect(await resolvedIsRunning(asker)).toBe(false);
    } finally {
      closeUnixBus(asker);
    }
  });

  test("a bus that does not answer in time: null, so the caller falls back to the files", async () => {
    const silent = join(dir, "silent");
    const server = Bun.listen({ unix: silent, socket: { data() {} } });
    try {
      const bus = openUnixBus(silent, "silent bus");
      bus.on("error", () => {});
      expect(await resolvedIsRunning(bus, 300)).toBeNull();
      closeUnixBus(bus);
    } finally {
      server.stop(true);
    }
  });
});
