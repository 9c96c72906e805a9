// A session belongs to the user who signed in: with scope `user` the kernel lets only that user's
// programs (and root's) into the tunnel. Real users from useradd, the devstack's portal, gateway
// and resource in their namespaces, the compiled firezoned and firezonectl, curl as each user.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { chmodSync } from "node:fs";
import { capture } from "../../devstack/shared/capture.ts";
import { ctl } from "../_support/ctl.ts";
import { Stack } from "../_support/stack.ts";
import { TestAccounts } from "../_support/users.ts";

const canRun = process.getuid?.() === 0 && Bun.which("nft") !== null && Bun.which("curl") !== null;

const accounts = new TestAccounts();
let stack: Stack;
let group: string;
let owner: string;
let other: string;
let table: string;

/** firezonectl as `user` (a real login's groups through runuser); `stdin` is fed to it. */
const ctlAs = (user: string, args: string[], stdin?: string) => ctl(stack.socket, args, stdin, user);

/**
 * curl as `user` (or root) in the client namespace. curl's exit code says how it failed: 7 is a
 * refused connection (a reset or an ICMP error came back), 28 a timeout (a silent drop).
 */
async function curlAs(user: string | null, address: string): Promise<{ code: number; out: string }> {
  const who = user ? ["runuser", "-u", user, "--"] : [];
  const r = await capture([
    "ip",
    "netns",
    "exec",
    stack.world.client,
    ...who,
    "curl",
    "-s",
    "--max-time",
    "8",
    `http://${address}/`,
  ]);
  return { code: r.code, out: r.out };
}

async function ruleset(): Promise<string> {
  const r = await capture(["ip", "netns", "exec", stack.world.client, "nft", "list", "ruleset"]);
  return r.out;
}

async function signInAsOwner(extra: string[] = []): Promise<void> {
  const token = stack.store((s) => s.createClientToken(stack.seed.aliceId));
  const r = await ctlAs(owner, ["sign-in", "--token-stdin", "--json", ...extra], `${token.token}\n`);
  expect(r.err).toBe("");
  expect(r.code).toBe(0);
  await stack.waitForState("connected", 15_000);
  await stack.waitForFetch(stack.seed.web.address, 15_000);
}

describe.skipIf(!canRun)("session scope: the owner's tunnel", () => {
  beforeAll(async () => {
    group = accounts.group();
    owner = accounts.user(undefined, [group]);
    other = accounts.user(undefined, [group]);
    stack = await Stack.create();
    // The stack's daemon admits group root; this file's needs the real group of its users.
    await Stack.kill(stack.daemon);
    chmodSync(stack.tmp, 0o755);
    await stack.startDaemon({ FIREZONE_GROUP: group });
    table = `firezone-${stack.tun}`;
    await signInAsOwner();
  }, 180_000);

  afterAll(async () => {
    if (process.env.E2E_LOGS && stack?.daemon)
      console.error([...stack.daemon.out.all, ...stack.daemon.err.all].slice(-80).join("\n"));
    await stack?.destroy();
    accounts.cleanup();
  });

  test("status names the owner and scope user, the default of an interactive sign-in", async () => {
    const r = await ctlAs(other, ["status", "--json"]);
    expect(r.code).toBe(0);
    const st = JSON.parse(r.out);
    expect(st.owner.user).toBe(owner);
    expect(st.scope).toBe("user");
    const human = await ctlAs(other, ["status"]);
    expect(human.out).toContain(`Owner:      ${owner} (uid`);
    expect(human.out).toContain(`only ${owner}'s programs and root's may use the tunnel`);
  });

  test("the owner's curl reaches the resource", async () => {
    const r = await curlAs(owner, stack.seed.web.address);
    expect(r.code).toBe(0);
    expect(r.out).toContain("hello from web");
  });

  test("another member's curl is refused at once (connection refused, not a timeout)", async () => {
    const r = await curlAs(other, stack.seed.web.address);
    expect(r.code).toBe(7);
  });

  test("another member's ping gets an error back at once (admin-prohibited), not silence", async () => {
    const ping = await capture([
      "ip",
      "netns",
      "exec",
      stack.world.client,
      "runuser",
      "-u",
      other,
      "--",
      "ping",
      "-c",
      "1",
      "-W",
      "3",
      stack.seed.web.address,
    ]);
    expect(ping.code).not.toBe(0);
    // ping reports the kernel's refusal of its send (EPERM/EACCES), not a lost packet.
    expect(`${ping.out}${ping.err}`).toMatch(/not permitted|prohibited|Permission denied|unreachable/i);
  });

  test("root's curl reaches the resource", async () => {
    const r = await curlAs(null, stack.seed.web.address);
    expect(r.code).toBe(0);
    expect(r.out).toContain("hello from web");
  });

  test("the rules are the daemon's own table, naming the owner's uid and the tunnel", async () => {
    const uid = Number((await capture(["id", "-u", owner])).out.trim());
    const text = await ruleset();
    expect(text).toContain(`table inet ${table}`);
    expect(text).toContain(`oifname "${stack.tun}"`);
    expect(text).toMatch(new RegExp(`meta skuid != \\{ 0, ${uid} \\}`));
    expect(text).toContain("reject with icmpx admin-prohibited");
  });

  test("another member cannot sign the owner out: refused with exit 77, naming the owner; the session stays", async () => {
    const r = await ctlAs(other, ["sign-out"]);
    expect(r.code).toBe(77);
    expect(r.err).toContain(`is for ${owner} (uid`);
    expect(r.err).toContain("or root");
    expect((await stack.status()).state).toBe("connected");
  });

  test("another member cannot replace the owner's session by signing in, nor change its scope", async () => {
    const token = stack.store((s) => s.createClientToken(stack.seed.aliceId));
    const r = await ctlAs(other, ["sign-in", "--token-stdin"], `${token.token}\n`);
    expect(r.code).toBe(77);
    expect(r.err).toContain(`replacing it is for ${owner}`);
    const s = await ctlAs(other, ["scope", "system"]);
    expect(s.code).toBe(77);
    const st = JSON.parse((await ctlAs(other, ["status", "--json"])).out);
    expect(st.owner.user).toBe(owner);
    expect(st.scope).toBe("user");
  });

  test("the owner widens the scope to system: the other member's curl works; back to user: refused again", async () => {
    const wide = await ctlAs(owner, ["scope", "system"]);
    expect(wide.code).toBe(0);
    expect(await ruleset()).not.toContain(`table inet ${table}`);
    expect((await curlAs(other, stack.seed.web.address)).code).toBe(0);
    const narrow = await ctlAs(owner, ["scope", "user", "--json"]);
    expect(narrow.code).toBe(0);
    expect(JSON.parse(narrow.out).scope).toBe("user");
    expect((await curlAs(other, stack.seed.web.address)).code).toBe(7);
    expect((await curlAs(owner, stack.seed.web.address)).code).toBe(0);
  });

  test("after the owner signs out the rules are gone, and the next member may sign in", async () => {
    const r = await ctlAs(owner, ["sign-out"]);
    expect(r.code).toBe(0);
    expect(await ruleset()).not.toContain(`table inet ${table}`);
    const st = JSON.parse((await ctlAs(other, ["status", "--json"])).out);
    expect(st.owner).toBeUndefined();
    const token = stack.store((s) => s.createClientToken(stack.seed.aliceId));
    const mine = await ctlAs(other, ["sign-in", "--token-stdin", "--json"], `${token.token}\n`);
    expect(mine.code).toBe(0);
    expect(JSON.parse(mine.out).owner.user).toBe(other);
    expect((await ctlAs(other, ["sign-out"])).code).toBe(0);
  });

  test("kill -9 of the daemon leaves its table; the restarted daemon removes it before anything else", async () => {
    await signInAsOwner();
    expect(await ruleset()).toContain(`table inet ${table}`);
    await Stack.kill(stack.daemon, "SIGKILL");
    expect(await ruleset()).toContain(`table inet ${table}`);
    await stack.startDaemon({ FIREZONE_GROUP: group });
    expect(await ruleset()).not.toContain(`table inet ${table}`);
    expect((await stack.status()).state).toBe("signed_out");
  });

  test("scope system chosen at sign-in: no rules, and every user's curl works", async () => {
    await signInAsOwner(["--scope", "system"]);
    expect(await ruleset()).not.toContain(`table inet ${table}`);
    expect((await curlAs(other, stack.seed.web.address)).code).toBe(0);
    expect((await ctlAs(owner, ["sign-out"])).code).toBe(0);
  });
});
