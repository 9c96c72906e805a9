// Scope `app`: only the owner's programs inside one cgroup (v2) reach the tunnel. This host has a
// hybrid cgroup layout with no cgroup2 mount, so the test mounts the cgroup2 hierarchy itself: in a
// mount namespace of the daemon's own at /sys/fs/cgroup, where nft looks for cgroup paths (as on a
// pure v2 system such as the VM's Debian), and in throwaway namespaces to create the cgroup and move
// a shell into it. Cgroups are global: the same cgroup is seen from every namespace.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { chmodSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { capture } from "../../devstack/shared/capture.ts";
import { FIREZONED } from "../_support/build.ts";
import { ctl } from "../_support/ctl.ts";
import { Stack } from "../_support/stack.ts";
import { TestAccounts, uniqueName } from "../_support/users.ts";

const canMountCgroup2 = (() => {
  if (process.getuid?.() !== 0 || !Bun.which("nft") || !Bun.which("unshare")) return false;
  const r = Bun.spawnSync([
    "unshare",
    "--mount",
    "sh",
    "-c",
    "mount -t cgroup2 none /mnt && test -f /mnt/cgroup.procs",
  ]);
  return r.exitCode === 0;
})();

const accounts = new TestAccounts();
let stack: Stack;
let owner: string;
let other: string;
const cgroup = uniqueName("fz-app-test-");

/** Runs `script` (sh) with the cgroup2 hierarchy at $CG, in a mount namespace of its own. */
function withCgroup2(script: string, args: string[] = []) {
  return capture([
    "unshare",
    "--mount",
    "--propagation",
    "private",
    "sh",
    "-c",
    `mount -t cgroup2 none /mnt && CG=/mnt && ${script}`,
    "sh",
    ...args,
  ]);
}

/** curl as `user` from a shell inside the test's cgroup (or outside it). */
async function curlAs(user: string | null, inside: boolean): Promise<number> {
  const curl = [
    "ip",
    "netns",
    "exec",
    stack.world.client,
    ...(user ? ["runuser", "-u", user, "--"] : []),
    "curl",
    "-s",
    "--max-time",
    "8",
    `http://${stack.seed.web.address}/`,
  ];
  if (!inside) return (await capture(curl)).code;
  // The shell moves itself into the cgroup, then becomes curl (same pid, same cgroup).
  const r = await withCgroup2('echo $$ > "$CG/$1/cgroup.procs" && shift && exec "$@"', [cgroup, ...curl]);
  return r.code;
}

/** firezonectl as `user` (a real login's groups through runuser); `stdin` is fed to it. */
const ctlAs = (user: string, args: string[], stdin?: string) => ctl(stack.socket, args, stdin, user);

describe.skipIf(!canMountCgroup2)("scope app: a cgroup of the owner's", () => {
  beforeAll(async () => {
    const group = accounts.group();
    owner = accounts.user(undefined, [group]);
    other = accounts.user(undefined, [group]);
    stack = await Stack.create();
    await Stack.kill(stack.daemon);
    chmodSync(stack.tmp, 0o755);
    mkdirSync(join(stack.tmp, "run"), { recursive: true });
    // The stack's daemon, started again inside a mount namespace with cgroup2 at /sys/fs/cgroup.
    stack.daemon = stack.dev.start(
      "firezoned",
      stack.world.client,
      [
        "unshare",
        "--mount",
        "--propagation",
        "private",
        "sh",
        "-c",
        'mount -t cgroup2 none /sys/fs/cgroup && exec "$0"',
        FIREZONED,
      ],
      {
        FIREZONE_API_URL: `ws://${stack.world.portalFromClient}:8080`,
        FIREZONE_ALLOW_INSECURE_PORTAL: "1",
        FIREZONE_CONFIG: join(stack.tmp, "firezoned.conf"),
        FIREZONE_SOCKET: stack.socket,
        FIREZONE_STATE_DIR: join(stack.tmp, "state"),
        FIREZONE_LOG_DIR: join(stack.tmp, "log"),
        FIREZONE_TUN_NAME: stack.tun,
        FIREZONE_DNS_CONTROL: "off",
        FIREZONE_TOKEN_FILE: join(stack.tmp, "no-token"),
        FIREZONE_GROUP: group,
      },
    );
    await stack.daemon.err.next(/listening/);
    const made = await withCgroup2('mkdir "$CG/$1"', [cgroup]);
    expect(made.code).toBe(0);
    const token = stack.store((s) => s.createClientToken(stack.seed.aliceId));
    const r = await ctlAs(
      owner,
      ["sign-in", "--token-stdin", "--scope", "app", "--cgroup", cgroup, "--json"],
      `${token.token}\n`,
    );
    expect(r.err).toBe("");
    expect(r.code).toBe(0);
    await stack.waitForState("connected", 15_000);
    await stack.waitForFetch(stack.seed.web.address, 15_000);
  }, 180_000);

  afterAll(async () => {
    if (process.env.E2E_LOGS && stack?.daemon)
      console.error([...stack.daemon.out.all, ...stack.daemon.err.all].slice(-60).join("\n"));
    await stack?.destroy();
    await withCgroup2('rmdir "$CG/$1"', [cgroup]);
    accounts.cleanup();
  });

  test("status shows scope app with the cgroup", async () => {
    const st = JSON.parse((await ctlAs(other, ["status", "--json"])).out);
    expect(st).toMatchObject({ scope: "app", scopeCgroup: cgroup, owner: { user: owner } });
  });

  test("the owner's curl inside the cgroup reaches the resource", async () => {
    expect(await curlAs(owner, true)).toBe(0);
  });

  test("the owner's curl outside the cgroup is refused at once", async () => {
    expect(await curlAs(owner, false)).toBe(7);
  });

  test("another member's curl inside the same cgroup is refused: the uid counts too", async () => {
    expect(await curlAs(other, true)).toBe(7);
  });

  test("root's curl passes, inside or outside", async () => {
    expect(await curlAs(null, false)).toBe(0);
  });

  test("a cgroup that does not exist is refused with how to make one; the scope in force stays", async () => {
    const r = await ctlAs(owner, ["scope", "app", "--cgroup", `${cgroup}-missing`]);
    expect(r.code).toBe(64);
    expect(r.err).toContain(`there is no cgroup ${cgroup}-missing`);
    expect(r.err).toContain("systemd-run --user --scope");
    expect(await curlAs(owner, true)).toBe(0);
    expect(await curlAs(owner, false)).toBe(7);
  });

  test("a cgroup path with '..' is a usage error, and nothing is sent", async () => {
    const r = await ctlAs(owner, ["scope", "app", "--cgroup", "../etc"]);
    expect(r.code).toBe(64);
    expect(r.err).toContain("without '.' or '..'");
  });
});
