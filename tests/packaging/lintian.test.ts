// lintian, Debian's package checker, on the packages of the real build: every tag it still reports
// (errors, warnings and infos) is one that docs/install.md explains.
import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DIST, ensureBuilt } from "../_support/build.ts";
import { ROOT, runPackage, sh } from "./_deb.ts";

const haveTools = ["lintian", "dpkg-deb", "dpkg-shlibdeps"].every((t) => Bun.which(t) !== null);
const out = mkdtempSync(join(tmpdir(), "fz-lintian-"));
afterAll(() => rmSync(out, { recursive: true, force: true }));

/** The tags docs/install.md explains: those quoted in the first cell of each row of its lintian table. */
function explainedTags(): Set<string> {
  const doc = readFileSync(join(ROOT, "docs/install.md"), "utf8");
  const section = doc.split(/^## /m).find((s) => s.startsWith("What lintian still reports"));
  if (!section) throw new Error('docs/install.md has no "## What lintian still reports" section');
  const firstCells = [...section.matchAll(/^\|([^|]*)\|/gm)].map((m) => m[1]!);
  return new Set(firstCells.flatMap((cell) => [...cell.matchAll(/`([a-z0-9.+-]+)`/g)].map((m) => m[1]!)));
}

describe.skipIf(!haveTools)("lintian", () => {
  test(
    "reports nothing on firezone-client and firezone-gui that docs/install.md does not explain",
    () => {
      ensureBuilt();
      const built = runPackage(["--dist", DIST, "--out", out, "--fast"]);
      expect(built.err).toBe("");
      expect(built.code).toBe(0);
      const debs = built.out.match(/\S+\.deb/g) ?? [];
      expect(debs.length).toBe(2);
      const r = sh(["lintian", "--display-info", "--tag-display-limit", "0", "--fail-on", "none", ...debs]);
      const tags = [...r.out.matchAll(/^([EWIPX]): (firezone-[a-z]+)(?: [a-z]+)?: (\S+)/gm)].map(
        (m) => `${m[1]}: ${m[2]}: ${m[3]}`,
      );
      // With --fail-on none, any other exit status means lintian itself failed.
      expect(r.code).toBe(0);
      const explained = explainedTags();
      const unexplained = [...new Set(tags)].filter((t) => !explained.has(t.split(": ")[2]!));
      expect(unexplained).toEqual([]);
    },
    { timeout: 900_000 },
  );
});
