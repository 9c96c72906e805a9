// rtnetlink and generic netlink against the running kernel, inside a namespace made for the test:
// what we write, `ip -j` reads back, and kernel refusals arrive as typed errors.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { resolve } from "node:path";

const BUN = resolve(import.meta.dir, "../../node_modules/.bin/bun");
const ns = `fznl-${Math.random().toString(36).slice(2, 8)}`;
// biome-ignore lint/suspicious/noExplicitAny: the probe's JSON report, read field by field below
let report: Record<string, any>;

beforeAll(() => {
  Bun.spawnSync(["ip", "netns", "add", ns]);
  const r = Bun.spawnSync(
    ["ip", "netns", "exec", ns, BUN, resolve(import.meta.dir, "fixtures/rtnl_probe.ts")],
    {
      stdout: "pipe",
      stderr: "pipe",
    },
  );
  if (r.exitCode !== 0) throw new Error(`probe failed: ${r.stderr.toString()}`);
  report = JSON.parse(r.stdout.toString());
});
afterAll(() => {
  Bun.spawnSync(["ip", "netns", "del", ns]);
});

describe("rtnetlink on the real kernel", () => {
  test("a link is created, set up with an MTU, and ip -j agrees", () => {
    expect(report.created.kind).toBe("tun");
    expect(report.created.index).toBe(report.tunIndex);
    expect(report.afterSet).toMatchObject({ name: "probe0", mtu: 1400, up: true });
    expect(report.ipLink.mtu).toBe(1400);
    expect(report.ipLink.flags).toContain("UP");
    expect(report.createAgain.class).toBe("AlreadyExistsError");
    expect(report.unknownKind.class).toBe("NotSupportedError");
    expect(report.unknownKind.message).toContain("Unknown device type");
  });

  test("IPv4 and IPv6 addresses are added; a duplicate is AlreadyExistsError unless replaced", () => {
    expect(report.addresses).toContain("192.0.2.10/24");
    expect(report.addresses).toContain("2001:db8::10/64");
    expect(report.ipAddresses.slice().sort()).toEqual(report.addresses.slice().sort());
    expect(report.addAgain.class).toBe("AlreadyExistsError");
  });

  test("routes go into the main table or table 1000 and dumps read them back", () => {
    expect(report.routesMain.sort()).toEqual(["10.1.0.0/16 0", "2001:db8:1::/48 50"]);
    expect(report.routes1000).toEqual(["10.2.0.0/16"]);
    expect(report.ipRoutes.sort()).toEqual(["10.1.0.0/16 main", "10.2.0.0/16 1000", "2001:db8:1::/48 main"]);
    expect(report.routeAgain.class).toBe("AlreadyExistsError");
  });

  test("deleting a route that is not there is NotFoundError; a missing device is NotFoundError", () => {
    expect(report.afterDelete).toEqual([]);
    expect(report.deleteMissing.class).toBe("NotFoundError");
    expect(report.badOif.class).toBe("NotFoundError");
    expect(report.badOif.message).toContain("ENODEV");
  });

  test("a link set down and deleted is gone for us and for ip", () => {
    expect(report.downFlags).toBe(false);
    expect(report.gone).toBeNull();
    expect(report.ipGone).toBe(false);
  });
});

describe("generic netlink on the real kernel", () => {
  test("the nlctrl family resolves to GENL_ID_CTRL; an unknown family is NotFoundError", () => {
    expect(report.nlctrl).toMatchObject({ id: 0x10, name: "nlctrl" });
    expect(report.noSuchFamily.class).toBe("NotFoundError");
    // Without the wireguard module the lookup fails the same way; with it, it resolves.
    expect(report.wireguard === "present" || report.wireguard.class === "NotFoundError").toBe(true);
  });

  test("a receive with no reply gives up after SO_RCVTIMEO instead of hanging", () => {
    expect(report.timeout.class).toBe("WouldBlockError");
    expect(report.timeoutMs).toBeGreaterThanOrEqual(150);
    expect(report.timeoutMs).toBeLessThan(2000);
  });

  test("batched route adds: each route gets its own result, and one refusal stops none of the others", () => {
    expect(report.batch.errors).toEqual([
      [150, "NotFoundError"],
      [299, "AlreadyExistsError"],
    ]);
    expect(report.batch.installed).toBe(298);
  });
});
