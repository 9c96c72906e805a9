// The two knobs of the reset triggers, parsed where they enter: a bad value is named in a warning
// that says what is used instead, and never stops the daemon.
import { describe, expect, test } from "bun:test";
import { triggerSettings } from "../../lib/daemon/network_triggers.ts";
import { SYSTEM_BUS_SOCKET } from "../../lib/util/index.ts";

describe("FIREZONE_NETWORK_MONITOR, FIREZONE_NETWORK_MONITOR_BUFFER and DBUS_SYSTEM_BUS_ADDRESS", () => {
  test("unset: the monitor is on and the standard system bus is used", () => {
    expect(triggerSettings({})).toEqual({ monitor: true, systemBus: SYSTEM_BUS_SOCKET, problems: [] });
  });

  test("off, 0 and false turn the monitor off; on, 1 and true keep it on", () => {
    for (const v of ["off", "0", "false", " OFF "])
      expect(triggerSettings({ FIREZONE_NETWORK_MONITOR: v }).monitor).toBe(false);
    for (const v of ["on", "1", "true", ""])
      expect(triggerSettings({ FIREZONE_NETWORK_MONITOR: v }).monitor).toBe(true);
  });

  test("another value keeps the monitor on, with a warning naming the value", () => {
    const s = triggerSettings({ FIREZONE_NETWORK_MONITOR: "sometimes" });
    expect(s.monitor).toBe(true);
    expect(s.problems).toEqual([
      'FIREZONE_NETWORK_MONITOR="sometimes" is not on or off; the network monitor stays on.',
    ]);
  });

  test("FIREZONE_NETWORK_MONITOR_BUFFER: bytes within the bounds are used; anything else is named and ignored", () => {
    expect(triggerSettings({ FIREZONE_NETWORK_MONITOR_BUFFER: "8192" }).monitorBufferBytes).toBe(8192);
    expect(triggerSettings({ FIREZONE_NETWORK_MONITOR_BUFFER: "" }).monitorBufferBytes).toBeUndefined();
    for (const bad of ["1024", "64k", "-8192", "99999999999", "0x2000"]) {
      const s = triggerSettings({ FIREZONE_NETWORK_MONITOR_BUFFER: bad });
      expect(s.monitorBufferBytes).toBeUndefined();
      expect(s.problems).toEqual([
        `FIREZONE_NETWORK_MONITOR_BUFFER="${bad}" is not a number of bytes from 4096 to 67108864; the monitor keeps its default buffer.`,
      ]);
    }
  });

  test("a unix:path= bus address is used; any other falls back to the standard socket, with a warning", () => {
    expect(triggerSettings({ DBUS_SYSTEM_BUS_ADDRESS: "unix:path=/tmp/x/bus,guid=abc" }).systemBus).toBe(
      "/tmp/x/bus",
    );
    const s = triggerSettings({ DBUS_SYSTEM_BUS_ADDRESS: "tcp:host=10.0.0.1,port=1" });
    expect(s.systemBus).toBe(SYSTEM_BUS_SOCKET);
    expect(s.problems[0]).toContain("DBUS_SYSTEM_BUS_ADDRESS has no unix:path= address");
  });
});
