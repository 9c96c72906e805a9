// The tier table, walked method by method over a real socket: every method of the protocol table is
// called by a caller of every tier, signed out and with a session running, and the daemon's answer
// (served or refused) must be what EXPECTED below says. A method added to the table without a row
// here, or without a line in docs/ipc.md's tier table, fails this file. The callers' identities are
// injected (`identify`): this file is about the table, tests/e2e/scope.test.ts has the real users.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  connectDaemon,
  type DaemonClient,
  groupAuthorizer,
  type Handlers,
  IpcServer,
  type KernelPeer,
  type MethodName,
  methods,
  requiredTier,
  type SessionView,
  TIERS,
  type Tier,
} from "../../lib/ipc/index.ts";
import { AccountCache } from "../../lib/sys/index.ts";
import { FzError } from "../../lib/types/index.ts";

const MEMBER_GID = 2001;
const READER_GID = 2002;
const UID = { admin: 0, owner: 1001, member: 1002, reader: 1003 } as const;
const NAMES: Record<number, string> = { 0: "root", 1001: "olive", 1002: "mike", 1003: "rita" };

type Who = keyof typeof UID;
type Answer = "served" | "refused" | "service_mode";
/** Per method: [signed out, signed in by olive] for each caller. `owner` signed out is a plain member. */
const EXPECTED: Record<MethodName, Record<"signedOut" | "signedIn", Record<Who, Answer>>> = {
  status: {
    signedOut: { reader: "served", member: "served", owner: "served", admin: "served" },
    signedIn: { reader: "served", member: "served", owner: "served", admin: "served" },
  },
  version: {
    signedOut: { reader: "served", member: "served", owner: "served", admin: "served" },
    signedIn: { reader: "served", member: "served", owner: "served", admin: "served" },
  },
  subscribe: {
    signedOut: { reader: "served", member: "served", owner: "served", admin: "served" },
    signedIn: { reader: "served", member: "served", owner: "served", admin: "served" },
  },
  resources: {
    signedOut: { reader: "refused", member: "served", owner: "served", admin: "served" },
    signedIn: { reader: "refused", member: "served", owner: "served", admin: "served" },
  },
  diagnose: {
    signedOut: { reader: "refused", member: "served", owner: "served", admin: "served" },
    signedIn: { reader: "refused", member: "served", owner: "served", admin: "served" },
  },
  logs: {
    signedOut: { reader: "refused", member: "served", owner: "served", admin: "served" },
    signedIn: { reader: "refused", member: "served", owner: "served", admin: "served" },
  },
  debug_info: {
    signedOut: { reader: "refused", member: "served", owner: "served", admin: "served" },
    signedIn: { reader: "refused", member: "served", owner: "served", admin: "served" },
  },
  get_settings: {
    signedOut: { reader: "refused", member: "served", owner: "served", admin: "served" },
    signedIn: { reader: "refused", member: "served", owner: "served", admin: "served" },
  },
  set_setting: {
    signedOut: { reader: "refused", member: "refused", owner: "refused", admin: "served" },
    signedIn: { reader: "refused", member: "refused", owner: "refused", admin: "served" },
  },
  sign_in: {
    signedOut: { reader: "refused", member: "served", owner: "served", admin: "served" },
    signedIn: { reader: "refused", member: "refused", owner: "served", admin: "served" },
  },
  sign_out: {
    signedOut: { reader: "refused", member: "served", owner: "served", admin: "served" },
    signedIn: { reader: "refused", member: "refused", owner: "served", admin: "served" },
  },
  set_internet_resource: {
    signedOut: { reader: "refused", member: "served", owner: "served", admin: "served" },
    signedIn: { reader: "refused", member: "refused", owner: "served", admin: "served" },
  },
  set_scope: {
    signedOut: { reader: "refused", member: "served", owner: "served", admin: "served" },
    signedIn: { reader: "refused", member: "refused", owner: "served", admin: "served" },
  },
};

let dir: string;
let server: IpcServer;
let nextUid = 0;
let session: SessionView = { owner: null, active: false, serviceMode: false };

function kernel(uid: number): KernelPeer {
  const groups = uid === UID.reader ? [READER_GID] : uid === 0 ? [0] : [MEMBER_GID];
  return { uid, gid: uid, pid: process.pid, groups, exe: null };
}

/** Every handler answers the same way: the call got past the tier check. */
const reached = () => {
  throw new FzError("internal", "handler reached");
};

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "fz-tiers-"));
  const accounts = new AccountCache(async (uid) => ({
    name: NAMES[uid] ?? `u${uid}`,
    uid,
    gid: uid,
    groups: kernel(uid).groups,
  }));
  server = new IpcServer({
    socketPath: join(dir, "ipc.sock"),
    handlers: Object.fromEntries(Object.keys(methods).map((m) => [m, reached])) as unknown as Handlers,
    authorize: groupAuthorizer(
      { name: "firezone", gid: MEMBER_GID },
      { accounts, readGroup: { name: "firezone-read", gid: READER_GID } },
    ),
    daemonVersion: "test",
    identify: () => kernel(nextUid),
    session: () => session,
    groups: { member: "firezone", reader: "firezone-read" },
  });
  server.start();
});

afterAll(() => {
  server?.stop();
  rmSync(dir, { recursive: true, force: true });
});

async function connectAs(who: Who): Promise<DaemonClient> {
  nextUid = UID[who];
  return connectDaemon({ socketPath: join(dir, "ipc.sock") });
}

async function answer(
  client: DaemonClient,
  method: MethodName,
): Promise<{ answer: Answer; message: string }> {
  try {
    await client.call(method, {} as never);
    return { answer: "served", message: "" };
  } catch (err) {
    const e = err as FzError;
    if (e.code === "permission_denied") return { answer: "refused", message: e.message };
    if (e.code === "service_mode") return { answer: "service_mode", message: e.message };
    return { answer: "served", message: e.message };
  }
}

const signedIn: SessionView = { owner: { uid: UID.owner, user: "olive" }, active: true, serviceMode: false };
const signedOut: SessionView = { owner: null, active: false, serviceMode: false };

describe("the tier table, method by method", () => {
  test("every method of the protocol table has a tier and a row in this test", () => {
    for (const [name, spec] of Object.entries(methods)) {
      expect(TIERS as readonly string[]).toContain(spec.tier);
      expect(Object.keys(EXPECTED)).toContain(name);
    }
  });

  test("docs/ipc.md's tier table names every method with the tier of the protocol table", () => {
    const doc = readFileSync(join(import.meta.dir, "../../docs/ipc.md"), "utf8");
    for (const [name, spec] of Object.entries(methods)) {
      const row = doc.split("\n").find((l) => new RegExp(`^\\|\\s*\`${name}\`\\s*\\|`).test(l));
      expect(row?.split("|")[2]?.trim() ?? `no row for ${name}`).toBe(spec.tier);
    }
  });

  for (const method of Object.keys(methods) as MethodName[]) {
    for (const [state, view] of [
      ["signedOut", signedOut],
      ["signedIn", signedIn],
    ] as const) {
      test(`${method}, ${state === "signedIn" ? "while olive's session runs" : "while signed out"}: each tier served or refused as the table says`, async () => {
        session = view;
        for (const who of ["reader", "member", "owner", "admin"] as const) {
          const client = await connectAs(who);
          try {
            const got = await answer(client, method);
            expect(`${who}: ${got.answer}`).toBe(`${who}: ${EXPECTED[method][state][who]}`);
            if (got.answer === "refused") {
              // Every refusal says who may do it instead.
              const need: Tier = requiredTier(method, view);
              if (need === "owner") expect(got.message).toContain("olive (uid 1001)");
              if (need === "member") expect(got.message).toContain("sudo usermod -aG firezone rita");
              expect(got.message).toContain(need === "member" ? "members of group 'firezone'" : "root");
            }
            // The hello's list of allowed methods agrees with the answers.
            expect(client.hello.allowed.includes(method)).toBe(got.answer === "served");
          } finally {
            client.close();
          }
        }
      });
    }
  }

  test("the hello names the tier: olive is owner while her session runs, member once it ended", async () => {
    session = signedIn;
    const mine = await connectAs("owner");
    expect(mine.hello.tier).toBe("owner");
    mine.close();
    session = signedOut;
    const later = await connectAs("owner");
    expect(later.hello.tier).toBe("member");
    later.close();
    const reader = await connectAs("reader");
    expect(reader.hello.tier).toBe("reader");
    reader.close();
  });

  test("in service mode every change is root's, refused to members with service_mode", async () => {
    session = { owner: null, active: true, serviceMode: true };
    const member = await connectAs("member");
    try {
      for (const [name, spec] of Object.entries(methods)) {
        const got = await answer(member, name as MethodName);
        expect(`${name}: ${got.answer}`).toBe(
          `${name}: ${spec.mutates ? "service_mode" : spec.tier === "reader" || spec.tier === "member" ? "served" : "refused"}`,
        );
      }
    } finally {
      member.close();
    }
    const root = await connectAs("admin");
    try {
      expect((await answer(root, "sign_out")).answer).toBe("served");
    } finally {
      root.close();
    }
  });
});
