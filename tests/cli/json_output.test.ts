// Every `--json` output, produced for real by the compiled firezonectl against the compiled firezoned
// signed in at the devstack portal on loopback, checked against the shapes in lib/cli/json_shapes.ts;
// docs/cli.md documents each shape's fields. Also `watch` (JSON lines as things happen) and
// `wait --connected` with each of its exit codes.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import * as v from "valibot";
import { type Portal, startPortal } from "../../devstack/portal/server.ts";
import { JSON_SCHEMA_VERSION, JSON_SHAPES, type JsonShape, jsonCommands } from "../../lib/cli/index.ts";
import { silentLogger } from "../../lib/util/index.ts";
import { FIREZONECTL } from "../_support/build.ts";
import { ctl } from "../_support/ctl.ts";
import { startDaemon, type TestDaemon, waitFor } from "../_support/daemon.ts";
import { TestAccounts } from "../_support/users.ts";
import { seed, tempDir } from "../portal/_helpers.ts";

const accounts = new TestAccounts();
const group = accounts.group();
const tmp = tempDir();
let portal: Portal;
let token = "";

beforeAll(() => {
  token = seed(tmp.db).aliceToken;
  portal = startPortal({ dbPath: tmp.db, logger: silentLogger });
});

afterAll(async () => {
  await portal?.stop();
  tmp.cleanup();
  accounts.cleanup();
});

function daemon(env: Record<string, string> = {}): Promise<TestDaemon> {
  return startDaemon(group, { FIREZONE_API_URL: portal.url.replace("http://", "ws://"), ...env });
}

/** A long-running firezonectl whose stdout is read line by line. */
function spawnLines(socket: string, args: string[]) {
  const p = Bun.spawn([FIREZONECTL, ...args], {
    env: { PATH: "/usr/bin:/bin", FIREZONE_SOCKET: socket },
    stdin: "ignore",
    stdout: "pipe",
    stderr: "pipe",
  });
  const lines: string[] = [];
  let err = "";
  const done = (async () => {
    let rest = "";
    for await (const chunk of p.stdout) {
      rest += new TextDecoder().decode(chunk);
      const parts = rest.split("\n");
      rest = parts.pop()!;
      lines.push(...parts);
    }
  })();
  const errDone = (async () => {
    for await (const chunk of p.stderr) err += new TextDecoder().decode(chunk);
  })();
  return {
    proc: p,
    lines,
    stderr: () => err,
    finished: async () => {
      const code = await p.exited;
      await done;
      await errDone;
      return code;
    },
  };
}

function expectShape(shape: JsonShape, value: unknown): void {
  const r = v.safeParse(JSON_SHAPES[shape], value);
  if (!r.success)
    throw new Error(
      `${shape}: ${JSON.stringify(r.issues[0]?.path?.map((p) => p.key))} ${r.issues[0]?.message}`,
    );
  expect((value as { schemaVersion: number }).schemaVersion).toBe(JSON_SCHEMA_VERSION);
}

describe("--json output", () => {
  test("every command's --json output matches its documented shape and carries schemaVersion", async () => {
    const d = await daemon();
    try {
      const s = d.socketPath;
      const watch = spawnLines(s, ["watch", "--json"]);
      await waitFor(() => watch.lines.length >= 1, 10_000, "the first watch line");

      const outputs: Array<[JsonShape, string[], string?]> = [
        ["status", ["status", "--json"]],
        ["version", ["version", "--json"]],
        ["settings get", ["settings", "get", "--json"]],
        ["settings get", ["settings", "get", "log_level", "--json"]],
        ["settings set", ["settings", "set", "log_level", "info", "--json"]],
        ["sign-in", ["sign-in", "--token-stdin", "--json"], `${token}\n`],
        ["wait", ["wait", "--connected", "--timeout", "20s", "--json"]],
        ["resources", ["resources", "--json"]],
        ["internet-resource", ["internet-resource", "--json"]],
        ["internet-resource", ["internet-resource", "off", "--json"]],
        ["scope", ["scope", "--json"]],
        ["sign-out", ["sign-out", "--json"]],
      ];
      const seen = new Set<string>();
      for (const [shape, args, stdin] of outputs) {
        const r = await ctl(s, args, stdin);
        expect({ args, code: r.code, err: r.err }).toEqual({ args, code: 0, err: "" });
        expectShape(shape, JSON.parse(r.out));
        seen.add(args[0]!);
      }
      const resources = JSON.parse((await ctl(s, ["resources", "--json"])).out);
      expect(resources.resources).toEqual([]);

      // watch saw the sign-in: status lines up to connected, and the resource list changing.
      await waitFor(
        () => watch.lines.some((l) => l.includes('"event":"resources"')),
        10_000,
        "a resources line",
      );
      watch.proc.kill("SIGTERM");
      await watch.finished();
      const events = watch.lines.map((l) => JSON.parse(l));
      for (const e of events) expectShape("watch", e);
      expect(events[0]).toMatchObject({ event: "status", status: { state: "signed_out" } });
      expect(events.map((e) => e.status?.state)).toContain("connected");
      seen.add("watch");
      // Nothing that offers --json is left unchecked. doctor and logs print the diagnostics shapes
      // (their own schemaVersion, DIAGNOSTICS_SCHEMA_VERSION), checked by their own tests.
      const diagnostics = ["doctor", "logs"];
      expect([...seen].sort()).toEqual(
        jsonCommands()
          .filter((c) => !diagnostics.includes(c))
          .sort(),
      );
    } finally {
      await d.stop();
    }
  });

  test("docs/cli.md documents every field of every shape", () => {
    const doc = readFileSync(join(import.meta.dir, "../../docs/cli.md"), "utf8");
    for (const [shape, schema] of Object.entries(JSON_SHAPES)) {
      const heading = `### \`firezonectl ${shape} --json\``;
      const at = doc.indexOf(heading);
      expect({ shape, documented: at !== -1 }).toEqual({ shape, documented: true });
      const next = doc.indexOf("\n### ", at + heading.length);
      const section = doc.slice(at, next === -1 ? undefined : next);
      const options = "options" in schema ? schema.options : [schema];
      for (const option of options) {
        for (const field of Object.keys(option.entries)) {
          expect({ shape, field, documented: section.includes(`\`${field}\``) }).toEqual({
            shape,
            field,
            documented: true,
          });
        }
      }
    }
  });
});

describe("firezonectl wait --connected", () => {
  test("returns 0 as soon as a sign-in made meanwhile connects", async () => {
    const d = await daemon();
    try {
      const wait = spawnLines(d.socketPath, ["wait", "--connected", "--timeout", "30s"]);
      await Bun.sleep(300);
      expect(wait.proc.exitCode).toBeNull();
      expect((await ctl(d.socketPath, ["sign-in", "--token-stdin"], `${token}\n`)).code).toBe(0);
      expect(await wait.finished()).toBe(0);
      expect(wait.lines[0]).toBe("Connected as alice");
    } finally {
      await d.stop();
    }
  });

  test("exits 75 at the timeout, naming the state; 78 without a portal; 69 without a daemon; 64 for usage", async () => {
    const d = await daemon();
    const bare = await daemon({ FIREZONE_API_URL: "" });
    try {
      const late = await ctl(d.socketPath, ["wait", "--connected", "--timeout", "500ms"]);
      expect(late.code).toBe(75);
      expect(late.err).toContain("still signed out after 0.5 s");
      const none = await ctl(bare.socketPath, ["wait", "--connected"]);
      expect(none.code).toBe(78);
      expect(none.err).toContain("No portal URL");
      const gone = await ctl(join(d.dir, "nothing.sock"), ["wait", "--connected"]);
      expect(gone.code).toBe(69);
      for (const args of [["wait"], ["wait", "--connected", "--timeout", "soon"]]) {
        const r = await ctl(d.socketPath, args);
        expect(r.code).toBe(64);
      }
    } finally {
      await d.stop();
      await bare.stop();
    }
  });
});

describe("firezonectl watch", () => {
  test("ends quietly (exit 0) once its reader has gone away and the next change comes", async () => {
    const d = await daemon();
    try {
      // pipefail: the pipeline's status is watch's own, once head has read one line and left.
      const p = Bun.spawn(["bash", "-c", `set -o pipefail; ${FIREZONECTL} watch | head -n 1`], {
        env: { PATH: "/usr/bin:/bin", FIREZONE_SOCKET: d.socketPath },
        stdout: "pipe",
        stderr: "pipe",
      });
      const first = p.stdout.getReader();
      expect(new TextDecoder().decode((await first.read()).value)).toContain("Signed out");
      expect((await ctl(d.socketPath, ["sign-out"])).code).toBe(0);
      expect(await p.exited).toBe(0);
      expect(await new Response(p.stderr).text()).toBe("");
    } finally {
      await d.stop();
    }
  });

  test("prints a line per change, says when firezoned stops, and goes on when it starts again", async () => {
    const d = await daemon();
    const watch = spawnLines(d.socketPath, ["watch"]);
    let next: TestDaemon | null = null;
    try {
      await waitFor(() => watch.lines.length >= 1, 10_000, "the first line");
      expect(watch.lines[0]).toMatch(/^\d\d:\d\d:\d\d {2}Signed out/);
      await ctl(d.socketPath, ["sign-in", "--token-stdin"], `${token}\n`);
      await waitFor(() => watch.lines.some((l) => l.includes("Connected as alice")), 10_000, "connected");
      await d.stop({ keepDir: true });
      await waitFor(
        () => watch.lines.some((l) => l.includes("firezoned stopped; waiting")),
        10_000,
        "stopped",
      );
      expect(watch.proc.exitCode).toBeNull();
      // A new firezoned on the same socket (a restart, an upgrade): the watch picks it up.
      next = await daemon({ FIREZONE_SOCKET: d.socketPath });
      await waitFor(() => watch.lines.some((l) => l.endsWith("firezoned started")), 15_000, "started");
      const after = watch.lines.slice(watch.lines.findIndex((l) => l.endsWith("firezoned started")) + 1);
      await waitFor(
        () => after.length > 0 || watch.lines.at(-1)!.includes("Signed out"),
        10_000,
        "its status",
      );
      expect(watch.lines.at(-1)).toMatch(/Signed out/);
    } finally {
      watch.proc.kill("SIGTERM");
      await next?.stop();
      rmSync(d.dir, { recursive: true, force: true });
    }
    await watch.finished();
    expect(watch.stderr()).toBe("");
  });

  test("a daemon that is not running when watch starts is an answer: exit 69 with the fix", async () => {
    const w = spawnLines("/nonexistent/firezoned.sock", ["watch"]);
    expect(await w.finished()).toBe(69);
    expect(w.stderr()).toContain("firezoned is not running");
  });
});
