// What a member who is not the session's owner gets from DNS resources with scope `user`. The stub
// answers every process alike: behind systemd-resolved every query comes from resolved's own uid,
// so it cannot tell users apart. The non-owner learns the resource's proxy address, and the kernel
// refuses their connection to it all the same. Set-up as in dns.test.ts: dnsmasq on the resource
// network (the gateway's resolver) and the client namespace's resolv.conf naming the stub.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { chmodSync, mkdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { capture } from "../../devstack/shared/capture.ts";
import { FIREZONECTL } from "../_support/build.ts";
import { type Dnsmasq, startDnsmasq } from "../_support/dnsmasq.ts";
import { Stack } from "../_support/stack.ts";
import { TestAccounts } from "../_support/users.ts";

const canRun =
  process.getuid?.() === 0 &&
  Bun.which("dnsmasq") !== null &&
  Bun.which("dig") !== null &&
  Bun.which("curl") !== null &&
  Bun.which("nft") !== null;

const accounts = new TestAccounts();
let stack: Stack;
let owner: string;
let other: string;
let dnsmasq: Dnsmasq | undefined;
const netnsDirs: string[] = [];

function netnsResolvConf(ns: string, text: string): void {
  const dir = `/etc/netns/${ns}`;
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, "resolv.conf"), text);
  netnsDirs.push(dir);
}

/** A command as `user` in the client namespace (whose resolv.conf names the stub). */
function asUser(user: string, cmd: string[]) {
  return capture(["ip", "netns", "exec", stack.world.client, "runuser", "-u", user, "--", ...cmd]);
}

describe.skipIf(!canRun)("DNS resources and a non-owner, scope user", () => {
  beforeAll(async () => {
    const group = accounts.group();
    owner = accounts.user(undefined, [group]);
    other = accounts.user(undefined, [group]);
    stack = await Stack.create();
    const w = stack.world;
    dnsmasq = await startDnsmasq({
      ns: w.resource,
      listen: [w.resourceAddress],
      dir: stack.tmp,
      lines: ["local=/corp.example/", `address=/app.corp.example/${w.resourceAddress}`],
    });
    netnsResolvConf(w.gateway, `nameserver ${w.resourceAddress}\n`);
    await Stack.kill(stack.gateway);
    await stack.startGateway();
    netnsResolvConf(w.client, "nameserver 100.100.111.1\n");
    stack.store((s) => {
      const app = s.createResource(stack.seed.accountId, stack.seed.siteId, {
        name: "app",
        type: "dns",
        address: "app.corp.example",
      });
      s.createPolicy(stack.seed.accountId, stack.seed.everyone, app.id);
    });
    await Stack.kill(stack.daemon);
    chmodSync(stack.tmp, 0o755);
    await stack.startDaemon({ FIREZONE_GROUP: group });
    const token = stack.store((s) => s.createClientToken(stack.seed.aliceId));
    const r = await capture(
      [
        "runuser",
        "-u",
        owner,
        "--",
        "env",
        "-i",
        `FIREZONE_SOCKET=${stack.socket}`,
        FIREZONECTL,
        "sign-in",
        "--token-stdin",
      ],
      { stdin: `${token.token}\n` },
    );
    expect(r.code).toBe(0);
    await stack.waitForState("connected", 15_000);
  }, 180_000);

  afterAll(async () => {
    await dnsmasq?.stop();
    for (const d of netnsDirs) rmSync(d, { recursive: true, force: true });
    await stack?.destroy();
    accounts.cleanup();
  });

  test("the owner resolves the name and curl by name reaches the resource", async () => {
    let r = await asUser(owner, ["curl", "-s", "--max-time", "5", "http://app.corp.example/"]);
    for (let i = 0; i < 20 && r.code !== 0; i++) {
      await Bun.sleep(250);
      r = await asUser(owner, ["curl", "-s", "--max-time", "5", "http://app.corp.example/"]);
    }
    expect(r.code).toBe(0);
  });

  test("a non-owner's query is answered with the same proxy address (the stub cannot tell users apart)", async () => {
    const mine = (
      await asUser(owner, ["dig", "+short", "+time=3", "+tries=1", "app.corp.example"])
    ).out.trim();
    const theirs = (
      await asUser(other, ["dig", "+short", "+time=3", "+tries=1", "app.corp.example"])
    ).out.trim();
    expect(theirs).toMatch(/^100\.(9[6-9]|1[01]\d|12[0-7])\.\d+\.\d+$/);
    expect(theirs).toBe(mine);
  });

  test("but the non-owner's curl by name is refused at once: the name resolves, the address does not take them anywhere", async () => {
    const r = await asUser(other, ["curl", "-s", "--max-time", "8", "http://app.corp.example/"]);
    expect(r.code).toBe(7);
  });
});
