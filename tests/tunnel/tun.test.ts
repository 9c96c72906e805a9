// lib/tun: the interface is tun-firezone by default, a layer-3 TUN without packet information,
// its fd close-on-exec, and it goes away with its last fd.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { resolve } from "node:path";
import { BUN, tryRun } from "./_lab.ts";

const ns = `fztun-${Math.random().toString(36).slice(2, 7)}`;
// biome-ignore lint/suspicious/noExplicitAny: the probe's JSON report, read field by field below
let r: any;

beforeAll(() => {
  tryRun(["ip", "netns", "add", ns]);
  const p = tryRun(["ip", "netns", "exec", ns, BUN, resolve(import.meta.dir, "fixtures/tun_probe.ts")]);
  if (p.code !== 0) throw new Error(`tun probe failed: ${p.err}`);
  r = JSON.parse(p.out);
});
afterAll(() => {
  tryRun(["ip", "netns", "del", ns]);
});

describe("TUN devices", () => {
  test("the default name is tun-firezone, a tun device without packet information, MTU 1280, up", () => {
    expect(r.plain.name).toBe("tun-firezone");
    expect(r.plain.link.ifindex).toBe(r.plain.index);
    expect(r.plain.link.linkinfo.info_kind).toBe("tun");
    expect(r.plain.link.linkinfo.info_data).toMatchObject({ type: "tun", pi: false, persist: false });
    expect(r.plain.link.mtu).toBe(1280);
    expect(r.plain.link.flags).toContain("UP");
  });

  test("the fd is close-on-exec, so no child inherits it by accident", () => {
    expect(r.plain.cloexec).toBe(true);
  });

  test("packetInfo keeps the 4-byte header wireguard-go expects", () => {
    expect(r.withPi.link.linkinfo.info_data.pi).toBe(true);
  });

  test("a name the kernel cannot take is refused with a message before any system call", () => {
    expect(r.badName).toContain("1-15 bytes");
  });

  test("closing the last fd removes the interface", () => {
    expect(r.afterClose).toEqual([null, null]);
  });
});
