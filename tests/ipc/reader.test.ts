// The read-only tier with real users and the compiled programs: a member of the read group (and of
// no other) reaches the socket through the ACL firezoned grants, reads status, and nothing more.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { dirname } from "node:path";
import { FIREZONECTL } from "../_support/build.ts";
import { startDaemon, type TestDaemon } from "../_support/daemon.ts";
import { runAs, TestAccounts } from "../_support/users.ts";

const canRun = process.getuid?.() === 0 && Bun.which("setfacl") !== null;
const accounts = new TestAccounts();
let daemon: TestDaemon;
let group: string;
let readGroup: string;
let reader: string;
let outsider: string;

describe.skipIf(!canRun)("the read-only tier", () => {
  beforeAll(async () => {
    group = accounts.group();
    readGroup = accounts.group();
    reader = accounts.user(undefined, [readGroup]);
    outsider = accounts.user();
    daemon = await startDaemon(group, { FIREZONE_READ_GROUP: readGroup });
  });

  afterAll(async () => {
    await daemon?.stop();
    accounts.cleanup();
  });

  const ctl = (user: string, args: string[]) =>
    runAs(user, [FIREZONECTL, ...args], { FIREZONE_SOCKET: daemon.socketPath });

  test("the socket and its directory carry ACL entries for the read group", () => {
    const dir = Bun.spawnSync(["getfacl", "-p", dirname(daemon.socketPath)]).stdout.toString();
    const sock = Bun.spawnSync(["getfacl", "-p", daemon.socketPath]).stdout.toString();
    expect(dir).toContain(`group:${readGroup}:--x`);
    expect(sock).toContain(`group:${readGroup}:rw-`);
  });

  test("a reader gets status with exit 0", async () => {
    const r = await ctl(reader, ["status", "--json"]);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout).state).toBe("signed_out");
  });

  test("a reader's resources and sign-out are refused with exit 77, naming the group to join", async () => {
    for (const args of [["resources"], ["sign-out"], ["internet-resource", "on"]]) {
      const r = await ctl(reader, args);
      expect(r.code).toBe(77);
      expect(r.stderr).toContain(`is for members of group '${group}'`);
      expect(r.stderr).toContain(`in the read-only group '${readGroup}' (status only)`);
      expect(r.stderr).toContain(`sudo usermod -aG ${group} ${reader}`);
    }
  });

  test("a user in neither group is still refused by the kernel", async () => {
    const r = await ctl(outsider, ["status"]);
    expect(r.code).toBe(77);
  });
});
