// What "on", "allow-LAN" and "not offered" put into the Internet Resource's table, checked address
// by address: every address outside the holes is covered once, every hole is not covered at all.
import { describe, expect, test } from "bun:test";
import { ALWAYS_DIRECT, planInternet, subtract } from "../../lib/daemon/internet_plan.ts";
import { networkOf, parseCidr } from "../../lib/util/index.ts";

const covers = (routes: string[], ip: string): number => {
  const addr = parseCidr(ip);
  return routes.filter((r) => {
    const net = parseCidr(r);
    if (net.family !== addr.family) return false;
    const a = networkOf({ ...addr, prefix: net.prefix });
    return a.bytes.every((b, i) => b === networkOf(net).bytes[i]);
  }).length;
};

describe("planInternet", () => {
  test("off, or not offered by the portal: nothing goes in", () => {
    for (const [enabled, available] of [
      [false, true],
      [true, false],
      [false, false],
    ] as const) {
      expect(planInternet({ enabled, available, allowLan: true, protect: [] })).toEqual({
        active: false,
        routes: [],
        allowLan: false,
      });
    }
  });

  test("on: both default routes, minus link-local, the portal and the gateway endpoint", () => {
    const plan = planInternet({
      enabled: true,
      available: true,
      allowLan: false,
      protect: ["10.77.1.1", "10.77.2.2", "fd00:77::1"],
    });
    expect(plan.active).toBe(true);
    expect(plan.allowLan).toBe(false);
    for (const kept of ["10.77.1.1", "10.77.2.2", "169.254.169.254", "fd00:77::1", "fe80::1"])
      expect(covers(plan.routes, kept)).toBe(0);
    for (const tunneled of [
      "203.0.113.10",
      "10.77.1.50",
      "10.77.2.3",
      "8.8.8.8",
      "255.255.255.254",
      "0.0.0.1",
    ])
      expect(covers(plan.routes, tunneled)).toBe(1);
    for (const tunneled of ["2001:db8::1", "fd00:77::2", "fe00::1", "::1"])
      expect(covers(plan.routes, tunneled)).toBe(1);
    // 16 pieces around 169.254/16; the /1 holding 10.77.1.1 becomes 31 (+30); the /23 that then holds
    // 10.77.2.2 becomes 9 (+8). Few routes, as the cut promises.
    expect(plan.routes.filter((r) => !r.includes(":")).length).toBe(16 + 30 + 8);
  });

  test("allow-LAN is passed through only while the Internet Resource is in force", () => {
    expect(planInternet({ enabled: true, available: true, allowLan: true, protect: [] }).allowLan).toBe(true);
    expect(planInternet({ enabled: false, available: true, allowLan: true, protect: [] }).allowLan).toBe(
      false,
    );
  });

  test("subtract: a hole that covers a piece removes it, a bad hole is ignored, an outside hole changes nothing", () => {
    expect(subtract(["10.0.0.0/8"], ["10.0.0.0/7"])).toEqual([]);
    expect(subtract(["10.0.0.0/8"], ["not an address", "192.168.0.0/16"])).toEqual(["10.0.0.0/8"]);
    expect(subtract(["10.0.0.0/30"], ["10.0.0.1"])).toEqual(["10.0.0.2/31", "10.0.0.0/32"]);
    expect(ALWAYS_DIRECT).toContain("169.254.0.0/16");
  });
});
