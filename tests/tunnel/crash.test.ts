// Crashes: the process owning the tunnel killed with SIGKILL, then a new start cleans up; and
// wireguard-go killed under a running tunnel, detected within a second, restarted, traffic resumes.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, rmSync } from "node:fs";
import { resolve } from "node:path";
import { CLIENT_V4, CLIENT_V6, Lab, RESOURCE_V4, runIn, TunnelHost, tryRun } from "./_lab.ts";

const lab = new Lab();
const routes = ["10.99.0.0/24", "10.50.0.0/16", "fd99::/64"];

beforeAll(() => {
  lab.setUp();
});
afterAll(async () => {
  await lab.tearDown();
});

async function bringUp(host: TunnelHost): Promise<void> {
  await host.call("cleanupStale");
  await host.call("up", { privateKey: lab.clientKeys.privateKey, addresses: [CLIENT_V4, CLIENT_V6] });
  await host.call("setPeers", [lab.gatewayPeer(["10.99.0.0/24", "10.50.0.0/16", "fd99::/64"])], {
    replace: true,
  });
  await host.call("setRoutes", routes);
}

const ping = async (count = 2) =>
  (await runIn(lab.client, ["ping", "-c", String(count), "-i", "0.2", "-W", "2", RESOURCE_V4])).out;
const ourRoutes = () =>
  [
    ...JSON.parse(lab.inClient(["ip", "-j", "route", "show", "proto", "122"])),
    ...JSON.parse(lab.inClient(["ip", "-j", "-6", "route", "show", "proto", "122"])),
  ].map((r: { dst: string }) => r.dst);
const wireguardGoInClient = () =>
  tryRun(["ip", "netns", "pids", lab.client])
    .out.split(/\s+/)
    .filter(Boolean)
    .filter((pid) => tryRun(["cat", `/proc/${pid}/comm`]).out.trim() === "wireguard-go");

async function waitForEvent(
  host: TunnelHost,
  type: string,
  timeoutMs: number,
): Promise<Record<string, unknown>> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const e = host.events.find((x) => x.type === type);
    if (e) return e;
    if (Date.now() > until)
      throw new Error(`no ${type} event within ${timeoutMs} ms; events: ${JSON.stringify(host.events)}`);
    await Bun.sleep(5);
  }
}

describe("the owning process is killed with SIGKILL", () => {
  test("a new start removes the stale device, its routes, wireguard-go and the UAPI socket", async () => {
    const first = await lab.startHost();
    await bringUp(first);
    expect(await ping()).toContain("2 received");
    // A route of ours on another device, as an interrupted run could leave in the table.
    lab.inClient(["ip", "route", "add", "10.77.0.0/24", "dev", "lo", "proto", "122"]);
    first.proc.kill("SIGKILL");
    await first.proc.exited;

    // What the dead process left behind: the orphaned wireguard-go keeps the device and routes.
    expect(wireguardGoInClient()).toHaveLength(1);
    expect(lab.inClient(["ip", "-j", "link"])).toContain(lab.tunName);
    expect(ourRoutes().sort()).toEqual([...routes, "10.77.0.0/24"].sort());

    const second = await lab.startHost();
    const removed = await second.call<string[]>("cleanupStale");
    expect(removed.some((r) => r.startsWith("wireguard-go pid"))).toBe(true);
    expect(removed).toContain("route 10.77.0.0/24");
    expect(lab.inClient(["ip", "-j", "link"])).not.toContain(lab.tunName);
    expect(ourRoutes()).toEqual([]);
    expect(wireguardGoInClient()).toEqual([]);
    expect(existsSync(`/var/run/wireguard/${lab.tunName}.sock`)).toBe(false);

    // And the new owner brings the tunnel up again.
    await bringUp(second);
    expect(await ping()).toContain("2 received");
    await second.call("down");
    second.proc.kill();
  });
});

describe("wireguard-go dies under a running tunnel", () => {
  test("the death is reported within a second, wireguard-go restarts and traffic resumes", async () => {
    const host = await lab.startHost();
    await bringUp(host);
    expect(await ping()).toContain("2 received");
    const { backendPid } = await host.call<{ backendPid: number }>("info");

    const killedAt = Date.now();
    process.kill(backendPid, "SIGKILL");
    const died = await waitForEvent(host, "backend_died", 1000);
    expect(Date.now() - killedAt).toBeLessThan(1000);
    expect(died.signal).toBe("SIGKILL");
    expect(died.restarting).toBe(true);

    await waitForEvent(host, "backend_restarted", 5000);
    const after = await host.call<{ backendPid: number }>("info");
    expect(after.backendPid).not.toBe(backendPid);
    // The device, its MTU, addresses and routes survived: this process holds the TUN fd.
    const [link] = JSON.parse(lab.inClient(["ip", "-j", "link", "show", lab.tunName]));
    expect(link.mtu).toBe(1280);
    expect(ourRoutes().sort()).toEqual(routes.slice().sort());
    expect(lab.inClient(["wg", "show", lab.tunName, "peers"]).trim()).toBe(lab.gatewayKeys.publicKey);
    expect(await ping(3)).toContain("3 received");
    await host.call("down");
    host.proc.kill();
  });

  test("with restarts off the death is reported within a second and nothing restarts it", async () => {
    const host = await lab.startHost({ RESTART: "0" });
    await bringUp(host);
    const { backendPid } = await host.call<{ backendPid: number }>("info");
    const killedAt = Date.now();
    process.kill(backendPid, "SIGKILL");
    const died = await waitForEvent(host, "backend_died", 1000);
    expect(Date.now() - killedAt).toBeLessThan(1000);
    expect(died.restarting).toBe(false);
    await Bun.sleep(300);
    expect(host.events.some((e) => e.type === "backend_restarted")).toBe(false);
    expect(wireguardGoInClient()).toEqual([]);
    await host.call("down");
    expect(lab.inClient(["ip", "-j", "link"])).not.toContain(lab.tunName);
    host.proc.kill();
  });

  test("when restarts keep failing, backend_failed is reported and calls say what to do", async () => {
    const marker = `/tmp/fz-flaky-${lab.tunName}`;
    rmSync(marker, { force: true });
    const host = await lab.startHost({
      WIREGUARD_GO: resolve(import.meta.dir, "fixtures/flaky_wireguard_go.sh"),
    });
    try {
      await bringUp(host);
      const { backendPid } = await host.call<{ backendPid: number }>("info");
      process.kill(backendPid, "SIGKILL");
      expect((await waitForEvent(host, "backend_died", 1000)).restarting).toBe(true);
      const failed = await waitForEvent(host, "backend_failed", 10_000);
      expect(String(failed.message)).toContain("could not be restarted after 5 attempts");
      expect(host.events.some((e) => e.type === "backend_restarted")).toBe(false);
      await expect(host.call("setPeers", [lab.gatewayPeer()])).rejects.toThrow(
        /take the tunnel down and up again/,
      );
      await host.call("down");
      expect(lab.inClient(["ip", "-j", "link"])).not.toContain(lab.tunName);
    } finally {
      rmSync(marker, { force: true });
      host.proc.kill();
    }
  });
});

describe("another network namespace uses the same interface name", () => {
  test("its cleanup and up() leave our wireguard-go and UAPI socket alone, and say why up() failed", async () => {
    const ours = await lab.startHost();
    await bringUp(ours);
    const { backendPid } = await ours.call<{ backendPid: number }>("info");
    // A second owner in the gateway namespace, with the same name (and so the same socket path).
    const other = await TunnelHost.start(lab.gateway, { TUN_NAME: lab.tunName });
    lab.hosts.push(other);
    expect(await other.call<string[]>("cleanupStale")).toEqual([]);
    await expect(
      other.call("up", { privateKey: lab.gatewayKeys.privateKey, addresses: ["100.64.0.9/32"] }),
    ).rejects.toThrow(/in use by another wireguard-go/);
    expect(() => process.kill(backendPid, 0)).not.toThrow();
    expect(existsSync(`/var/run/wireguard/${lab.tunName}.sock`)).toBe(true);
    expect(lab.inGateway(["ip", "-j", "link"])).not.toContain(lab.tunName);
    expect(await ping()).toContain("2 received");
    await ours.call("down");
  });
});
