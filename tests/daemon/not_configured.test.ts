// The real firezoned without a portal URL: it starts, serves IPC and says `not_configured` with the
// file and key to set; sign-in is refused with exit 78; a service token is never sent anywhere; a
// configuration file is picked up; and sign-in tokens are bounded at the CLI and at the IPC boundary.
import { afterAll, describe, expect, test } from "bun:test";
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connectDaemon } from "../../lib/ipc/index.ts";
import { FzError } from "../../lib/types/index.ts";
import { FIREZONECTL } from "../_support/build.ts";
import { startDaemon, type TestDaemon } from "../_support/daemon.ts";
import { TestAccounts } from "../_support/users.ts";

const accounts = new TestAccounts();
const group = accounts.group();
const tmp = mkdtempSync(join(tmpdir(), "fz-notconf-"));
afterAll(() => {
  accounts.cleanup();
  rmSync(tmp, { recursive: true, force: true });
});

function ctl(d: TestDaemon, args: string[], stdin?: string | Uint8Array) {
  const r = Bun.spawnSync([FIREZONECTL, ...args], {
    env: { PATH: "/usr/bin:/bin", FIREZONE_SOCKET: d.socketPath },
    stdin: stdin === undefined ? "ignore" : typeof stdin === "string" ? Buffer.from(stdin) : stdin,
    stdout: "pipe",
    stderr: "pipe",
  });
  return { code: r.exitCode ?? -1, out: r.stdout.toString(), err: r.stderr.toString() };
}

function auditedSignIns(d: TestDaemon): number {
  const f = join(d.dir, "log", "audit.log");
  return existsSync(f)
    ? readFileSync(f, "utf8")
        .split("\n")
        .filter((l) => l.includes("method=sign_in")).length
    : 0;
}

/** A daemon with no portal URL anywhere: no FIREZONE_API_URL, no configuration file. */
const unconfigured = (extra: Record<string, string> = {}) =>
  startDaemon(group, { FIREZONE_API_URL: "", FIREZONE_ALLOW_INSECURE_PORTAL: "", ...extra });

describe("not_configured", () => {
  test("without a portal URL the daemon serves IPC and status names the file, the key and the fix", async () => {
    const d = await unconfigured();
    try {
      const json = ctl(d, ["status", "--json"]);
      expect(json.code).toBe(0);
      const st = JSON.parse(json.out);
      expect(st.state).toBe("not_configured");
      expect(st.lastError).toContain(`set portal_url in ${d.env.FIREZONE_CONFIG}`);
      expect(st.lastError).toContain("install.sh --api-url");
      expect(st.portalUrl).toBeUndefined();
      const text = ctl(d, ["status"]);
      expect(text.out).toStartWith("Not configured\n");
      expect(text.out).toContain("Problem:");
      expect(text.out).toContain("portal_url");
    } finally {
      await d.stop();
    }
  });

  test("sign-in while not_configured exits 78 with the reason and sends nothing; sign-out changes nothing", async () => {
    const d = await unconfigured();
    try {
      const r = ctl(d, ["sign-in", "--token-stdin"], "a-token-0123\n");
      expect(r.code).toBe(78);
      expect(r.err).toContain("No portal URL");
      const client = await connectDaemon({ socketPath: d.socketPath });
      try {
        const err = await client.call("sign_in", { token: "a-token-0123" }).catch((e: unknown) => e);
        expect(err).toBeInstanceOf(FzError);
        expect((err as FzError).code).toBe("not_configured");
      } finally {
        client.close();
      }
      expect(ctl(d, ["sign-out"]).code).toBe(0);
      expect(JSON.parse(ctl(d, ["status", "--json"]).out).state).toBe("not_configured");
      expect(d.stderr()).not.toContain("a-token-0123");
    } finally {
      await d.stop();
    }
  });

  test("a service token with no portal URL: service mode, not_configured, and no sign-in attempt", async () => {
    const d = await unconfigured({ FIREZONE_TOKEN: "service-token-never-sent" });
    try {
      const st = JSON.parse(ctl(d, ["status", "--json"]).out);
      expect(st).toMatchObject({ mode: "service", state: "not_configured" });
      expect(d.stderr()).toContain("there is no portal URL; not signing in");
      expect(d.stderr()).not.toContain("service sign-in failed");
      expect(d.stderr()).not.toContain("service-token-never-sent");
    } finally {
      await d.stop();
    }
  });

  test("portal_url from the configuration file is used and shown as the portal's web address", async () => {
    const conf = join(tmp, "good.conf");
    writeFileSync(conf, "# written by the test\nportal_url = wss://portal.example.test\n", { mode: 0o644 });
    const d = await unconfigured({ FIREZONE_CONFIG: conf });
    try {
      const st = JSON.parse(ctl(d, ["status", "--json"]).out);
      expect(st.state).toBe("signed_out");
      expect(st.portalUrl).toBe("https://portal.example.test");
      expect(ctl(d, ["status"]).out).toContain("Portal:     https://portal.example.test");
    } finally {
      await d.stop();
    }
  });

  test("a configuration file others may write: the daemon still serves, not_configured with the chmod fix", async () => {
    const conf = join(tmp, "unsafe.conf");
    writeFileSync(conf, "portal_url = wss://portal.example.test\n");
    chmodSync(conf, 0o666);
    const d = await unconfigured({ FIREZONE_CONFIG: conf });
    try {
      const st = JSON.parse(ctl(d, ["status", "--json"]).out);
      expect(st.state).toBe("not_configured");
      expect(st.lastError).toContain(`sudo chmod 644 ${conf}`);
      expect(d.stderr()).toContain("the configuration file is not usable");
    } finally {
      await d.stop();
    }
  });
});

describe("sign-in token bounds", () => {
  test("the IPC sign_in refuses control characters, non-ASCII and absurd sizes with invalid_request", async () => {
    const d = await startDaemon(group);
    try {
      const client = await connectDaemon({ socketPath: d.socketPath });
      try {
        for (const token of [
          "abc\u001b[31mdef",
          "line1\nline2",
          "tok\u0000en",
          "tökén",
          "two words",
          "x".repeat(8193),
        ]) {
          const err = await client.call("sign_in", { token }).catch((e: unknown) => e);
          expect(err).toBeInstanceOf(FzError);
          expect((err as FzError).code).toBe("invalid_request");
          expect((err as FzError).message).toMatch(/token (holds|is longer)/);
        }
      } finally {
        client.close();
      }
      expect(auditedSignIns(d)).toBe(0);
    } finally {
      await d.stop();
    }
  });

  test("firezonectl refuses a 10 MB or binary token file and binary stdin (exit 65) without sending it", async () => {
    const d = await startDaemon(group);
    try {
      const big = join(tmp, "big-token");
      writeFileSync(big, Buffer.alloc(10 * 1024 * 1024, 0x41));
      const r1 = ctl(d, ["sign-in", "--token-file", big]);
      expect(r1.code).toBe(65);
      expect(r1.err).toContain("more than 8 KiB");
      const bin = join(tmp, "bin-token");
      writeFileSync(bin, Buffer.from([0x7f, 0x45, 0x4c, 0x46, 0x02, 0x01, 0x00, 0x00]));
      const r2 = ctl(d, ["sign-in", "--token-file", bin]);
      expect(r2.code).toBe(65);
      expect(r2.err).toContain("is not a token");
      const r3 = ctl(
        d,
        ["sign-in", "--token-stdin"],
        new Uint8Array([0x74, 0x6f, 0x6b, 0x1b, 0x5b, 0x32, 0x4a]),
      );
      expect(r3.code).toBe(65);
      expect(r3.err).toContain("standard input is not a token");
      const r4 = ctl(d, ["sign-in", "--token-file", "/dev/zero"]);
      expect(r4.code).toBe(65);
      expect(auditedSignIns(d)).toBe(0);
      expect(r2.err + r3.err).not.toContain("\u001b");
    } finally {
      await d.stop();
    }
  });
});
