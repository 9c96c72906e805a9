// Every folder says what it is for, and every public name is re-exported one by one.
import { describe, expect, test } from "bun:test";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { exitCodeFor } from "../lib/cli/index.ts";
import { EventSchema, methods } from "../lib/ipc/index.ts";
import { ERROR_CODES, type ErrorCode, FzError } from "../lib/types/index.ts";

const LIB = resolve(import.meta.dir, "../lib");
const folders = readdirSync(LIB, { withFileTypes: true })
  .filter((e) => e.isDirectory())
  .map((e) => e.name);

describe("module docs", () => {
  for (const folder of folders) {
    test(`lib/${folder}/index.ts opens with a comment saying what the folder is for`, () => {
      const index = join(LIB, folder, "index.ts");
      expect(existsSync(index)).toBe(true);
      const src = readFileSync(index, "utf8");
      const m = /^\/\*\*([\s\S]*?)\*\//.exec(src);
      expect(m).not.toBeNull();
      const words = m![1]!
        .replace(/\s*\*\s*/g, " ")
        .trim()
        .split(/\s+/);
      expect(words.length).toBeGreaterThanOrEqual(8);
    });

    test(`lib/${folder}/index.ts re-exports names one by one (no export *)`, () => {
      const src = readFileSync(join(LIB, folder, "index.ts"), "utf8");
      expect(src).not.toMatch(/export \*/);
    });
  }

  test("the README opens with the two commands", () => {
    const readme = readFileSync(resolve(import.meta.dir, "../README.md"), "utf8");
    const firstBlock = /```(?:sh|bash)?\n([\s\S]*?)```/.exec(readme)?.[1] ?? "";
    expect(firstBlock).toContain("bun run demo");
    expect(firstBlock).toContain("bun run test");
  });
});

const ROOT = resolve(import.meta.dir, "..");
const IPC_DOC = readFileSync(join(ROOT, "docs/ipc.md"), "utf8");

/** The rows of the markdown table that follows `heading` in `doc`, as cells without backticks. */
function tableAfter(doc: string, heading: string): string[][] {
  const at = doc.indexOf(heading);
  expect(at).not.toBe(-1);
  const rows: string[][] = [];
  for (const line of doc.slice(at).split("\n").slice(1)) {
    if (!line.startsWith("|")) {
      if (rows.length) break;
      continue;
    }
    const cells = line
      .split("|")
      .slice(1, -1)
      .map((c) => c.trim());
    if (cells.every((c) => /^-+$/.test(c))) continue;
    rows.push(cells.map((c) => c.replaceAll("`", "")));
  }
  return rows.slice(1);
}

/**
 * For each error code, a test that makes the real code path produce it, and the words of that test
 * (its assertion or its name) that show it. A code without a producing test is a code the docs
 * promise and nothing shows.
 */
const PRODUCED_BY: Record<ErrorCode, [file: string, needle: string]> = {
  permission_denied: ["tests/cli/settings.test.ts", "expect(set.code).toBe(77)"],
  service_mode: ["tests/daemon/lifecycle.test.ts", "refused with service_mode (exit 77)"],
  invalid_request: ["tests/ipc/bad_input.test.ts", "invalid JSON is refused with invalid_request"],
  unknown_method: ["tests/ipc/bad_input.test.ts", 'error: { code: "unknown_method" }'],
  frame_too_large: ["tests/ipc/bad_input.test.ts", "refused with frame_too_large"],
  protocol_mismatch: ["tests/cli/firezonectl.test.ts", "the daemon is newer than this client"],
  daemon_unreachable: ["tests/cli/firezonectl.test.ts", 'error: { code: "daemon_unreachable" }'],
  busy: ["tests/ipc/limits.test.ts", '(o) => o === "busy"'],
  timeout: ["tests/ipc/bad_input.test.ts", 'error.code).toBe("timeout")'],
  invalid_token: ["tests/daemon/service_token.test.ts", 'toBe("invalid_token")'],
  untrusted_daemon: ["tests/ipc/untrusted_daemon.test.ts", "untrusted_daemon"],
  not_configured: ["tests/cli/json_output.test.ts", "expect(none.code).toBe(78)"],
  // The Internet Resource switch whose state dir cannot be written answers `internal`.
  internal: ["tests/daemon/internet_switch.test.ts", "could not save the setting to"],
};

describe("docs hold only what the code does", () => {
  const table = tableAfter(IPC_DOC, "## Error codes");

  test("docs/ipc.md's error table lists exactly the codes in lib/types/errors.ts", () => {
    expect(table.map((row) => row[0]).sort()).toEqual([...ERROR_CODES].sort());
  });

  test("each code's exit status in docs/ipc.md is the one firezonectl exits with", () => {
    for (const [code, , exit] of table) {
      expect({ code, exit: Number(exit) }).toEqual({
        code,
        exit: exitCodeFor(new FzError(code as ErrorCode, "")),
      });
    }
  });

  test("every error code is produced by a test of the real code path", () => {
    for (const code of ERROR_CODES) {
      const [file, needle] = PRODUCED_BY[code];
      expect(file).toEndWith(".test.ts");
      const text = readFileSync(join(ROOT, file), "utf8");
      expect({ code, file, found: text.includes(needle) }).toEqual({ code, file, found: true });
    }
  });

  test("docs/ipc.md documents every method with its tier, and no other", () => {
    const rows = tableAfter(IPC_DOC, "## Methods");
    const documented = Object.fromEntries(rows.map((row) => [row[0], row[1]]));
    // The diagnostic methods have a table of their own, whose heading says they are all `member`.
    for (const row of tableAfter(IPC_DOC, "The diagnostic methods, all tier `member`"))
      documented[row[0]!] = "member";
    const actual = Object.fromEntries(Object.entries(methods).map(([name, m]) => [name, m.tier]));
    expect(documented).toEqual(actual);
  });

  test("docs/ipc.md shows exactly the event kinds the daemon sends", () => {
    const section = IPC_DOC.slice(IPC_DOC.indexOf("## Events"), IPC_DOC.indexOf("## Error codes"));
    const kinds = [...section.matchAll(/"kind":"([a-z_]+)"/g)].map((m) => m[1]);
    const schemaKinds = EventSchema.options.map((o) => o.entries.kind.literal);
    expect([...new Set(kinds)].sort()).toEqual([...schemaKinds].sort());
  });
});
