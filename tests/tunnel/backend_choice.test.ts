// Which backend a Tunnel picks: "auto" uses the kernel module when a wireguard link can be created
// and wireguard-go otherwise; "kernel" without the module fails and leaves nothing behind.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { CLIENT_V4, Lab, type TunnelHost, tryRun } from "./_lab.ts";

const lab = new Lab();
let host: TunnelHost;
// Probed while the tests are collected, so a test that does not apply is counted as skipped; the
// throwaway network namespace takes the probe link with it.
const kernelModule =
  tryRun(["unshare", "--net", "ip", "link", "add", "fzprobe", "type", "wireguard"]).code === 0;

beforeAll(async () => {
  lab.setUp();
});
afterAll(async () => {
  await lab.tearDown();
});

describe("backend choice", () => {
  test("auto picks the kernel module when it exists, wireguard-go otherwise", async () => {
    host = await lab.startHost({ BACKEND: "auto" });
    await host.call("up", { privateKey: lab.clientKeys.privateKey, addresses: [CLIENT_V4] });
    const info = await host.call<{ backend: string }>("info");
    expect(info.backend).toBe(kernelModule ? "kernel" : "userspace");
    const [link] = JSON.parse(lab.inClient(["ip", "-j", "-d", "link", "show", lab.tunName]));
    expect(link.linkinfo.info_kind).toBe(kernelModule ? "wireguard" : "tun");
    expect(lab.inClient(["wg", "show", lab.tunName, "public-key"]).trim()).toBe(lab.clientKeys.publicKey);
    await host.call("down");
  });

  // Where the module exists, tests/tunnel/kernel_smoke.ts covers the kernel backend instead.
  test.skipIf(kernelModule)(
    "kernel without the module fails with the kernel's reason and leaves no interface",
    async () => {
      const strict = await lab.startHost({ BACKEND: "kernel" });
      const err = (await strict
        .call("up", { privateKey: lab.clientKeys.privateKey, addresses: [CLIENT_V4] })
        .then(
          () => null,
          (e: unknown) => e,
        )) as Error & { errorClass?: string };
      expect(err.errorClass).toBe("NotSupportedError");
      expect(err.message).toContain("Unknown device type");
      expect(lab.inClient(["ip", "-j", "link"])).not.toContain(lab.tunName);
    },
  );
});
