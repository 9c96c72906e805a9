// Every folder says what it is for, and every public name is re-exported one by one.
import { describe, expect, test } from "bun:test";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join, resolve } from "node:path";

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
