// The suite works from a private checkout (a clone under /root, mode 0700): whatever the tests run as
// another user comes from the per-run stage, which that user can reach, never from the checkout.
import { describe, expect, test } from "bun:test";
import { statSync } from "node:fs";
import { dirname, join } from "node:path";
import { VERSION } from "../lib/types/index.ts";
import { ensureBuilt, FIREZONECTL, FIREZONED, ROOT } from "./_support/build.ts";
import { STAGE, stageBun, stageFile, stageScript } from "./_support/stage.ts";
import { runAs } from "./_support/users.ts";

const isRoot = process.getuid?.() === 0;

describe("the stage for programs run as other users", () => {
  test("lies outside the checkout, and every directory above it lets others through", () => {
    ensureBuilt();
    for (const p of [FIREZONECTL, FIREZONED, stageBun()]) {
      expect(p.startsWith(`${ROOT}/`)).toBe(false);
      expect(p.startsWith(`${STAGE}/`)).toBe(true);
    }
    for (let d = STAGE; d !== "/"; d = dirname(d)) expect(statSync(d).mode & 0o001).toBe(0o001);
  });

  test.skipIf(!isRoot)(
    "user nobody runs the staged firezonectl, Bun with a bundled fixture, and a staged script",
    async () => {
      ensureBuilt();
      const ctl = await runAs("nobody", [FIREZONECTL, "--version"]);
      expect(ctl.stderr).toBe("");
      expect(ctl.code).toBe(0);
      const script = await runAs("nobody", [
        stageBun(),
        stageScript(join(import.meta.dir, "_support/fixtures/print_version.ts")),
      ]);
      expect(script.stderr).toBe("");
      expect(script.stdout.trim()).toBe(VERSION);
      const sh = await runAs("nobody", ["sh", stageFile(join(ROOT, "install.sh")), "--help"]);
      expect(sh.code).toBe(0);
    },
  );
});
