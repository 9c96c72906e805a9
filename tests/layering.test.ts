// DESIGN.md's layer table, enforced: imports point down only, a folder is entered through its
// index.ts, and bun:ffi stays inside lib/sys.
import { describe, expect, test } from "bun:test";
import { readdirSync, readFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";

const LIB = resolve(import.meta.dir, "../lib");

const MAY_IMPORT: Record<string, string[]> = {
  types: [],
  util: ["types"],
  sys: ["util", "types"],
  netlink: ["sys", "util", "types"],
  tun: ["netlink", "sys", "util", "types"],
  wireguard: ["tun", "netlink", "sys", "util", "types"],
  dns: ["sys", "util", "types"],
  ipc: ["sys", "util", "types"],
  portal: ["util", "types"],
  daemon: ["types", "util", "sys", "netlink", "tun", "wireguard", "dns", "ipc", "portal"],
  cli: ["ipc", "util", "types"],
  gui: ["ipc", "util", "types"],
};

function tsFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? tsFiles(join(dir, e.name)) : e.name.endsWith(".ts") ? [join(dir, e.name)] : [],
  );
}

function importsOf(file: string): string[] {
  const src = readFileSync(file, "utf8");
  return [
    ...src.matchAll(
      /(?:^|\n)\s*(?:import|export)[^"']*?from\s+["']([^"']+)["']|import\(\s*["']([^"']+)["']\s*\)/g,
    ),
  ].map((m) => (m[1] ?? m[2])!);
}

const files = tsFiles(LIB);

describe("layering", () => {
  test("every folder of lib/ is in the layer table", () => {
    const folders = readdirSync(LIB, { withFileTypes: true })
      .filter((e) => e.isDirectory())
      .map((e) => e.name);
    expect(folders.filter((f) => !(f in MAY_IMPORT))).toEqual([]);
  });

  test("imports between folders follow DESIGN.md's table and go through index.ts", () => {
    const violations: string[] = [];
    for (const file of files) {
      const from = relative(LIB, file).split("/")[0]!;
      for (const spec of importsOf(file)) {
        if (!spec.startsWith(".")) continue;
        const target = relative(LIB, resolve(dirname(file), spec));
        // The version comes from package.json, the one file outside lib/ that lib/ may read.
        if (target === "../package.json") continue;
        if (target.startsWith("..")) {
          violations.push(`${relative(LIB, file)} reaches outside lib/: ${spec}`);
          continue;
        }
        const [to, ...rest] = target.split("/");
        if (to === from) {
          continue;
        }
        if (!MAY_IMPORT[from]?.includes(to!))
          violations.push(`${relative(LIB, file)} imports ${to} (${spec})`);
        if (rest.join("/") !== "index.ts")
          violations.push(`${relative(LIB, file)} bypasses ${to}/index.ts (${spec})`);
      }
    }
    expect(violations).toEqual([]);
  });

  test("files starting with _ are used only inside their folder", () => {
    const violations: string[] = [];
    for (const file of files) {
      for (const spec of importsOf(file)) {
        const target = resolve(dirname(file), spec);
        if (spec.startsWith(".") && /\/_[^/]+$/.test(target) && dirname(target) !== dirname(file)) {
          violations.push(`${relative(LIB, file)} imports private ${relative(LIB, target)}`);
        }
      }
    }
    expect(violations).toEqual([]);
  });

  test("only lib/sys uses bun:ffi", () => {
    const users = files
      .filter((f) => importsOf(f).includes("bun:ffi"))
      .map((f) => relative(LIB, f).split("/")[0]);
    expect([...new Set(users)]).toEqual(["sys"]);
  });

  test("the programs' entry files import only lib/<folder>/index.ts", () => {
    const src = resolve(import.meta.dir, "../src");
    for (const file of tsFiles(src)) {
      for (const spec of importsOf(file)) expect(spec).toMatch(/^\.\.\/lib\/\w+\/index\.ts$/);
    }
  });
});
