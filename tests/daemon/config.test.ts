// firezoned.conf: the format, the key table, ownership and mode checks on the opened file, the
// environment on top, and the portal rules (no default, wss:// unless allow_insecure_portal).
import { afterAll, describe, expect, test } from "bun:test";
import { chmodSync, chownSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadDaemonConfig, readConfigFile } from "../../lib/daemon/index.ts";
import { parseKeyValue } from "../../lib/util/index.ts";

const dir = mkdtempSync(join(tmpdir(), "fz-config-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const isRoot = process.getuid?.() === 0;

let n = 0;
function file(text: string, mode = 0o644): string {
  const path = join(dir, `firezoned-${++n}.conf`);
  writeFileSync(path, text);
  chmodSync(path, mode);
  return path;
}

function load(env: Record<string, string | undefined>) {
  return loadDaemonConfig({ FIREZONE_CONFIG: join(dir, "absent.conf"), ...env });
}

describe("the key = value format", () => {
  test("comments, blank lines, white space, CRLF and one pair of quotes", () => {
    const r = parseKeyValue('# comment\n\n  portal_url =  "wss://p.example/x#y"  \r\n\tlog_level=debug\n');
    expect(r).toEqual({
      ok: true,
      entries: [
        { key: "portal_url", value: "wss://p.example/x#y", line: 3 },
        { key: "log_level", value: "debug", line: 4 },
      ],
    });
  });

  test("each syntax error names its line and what to write", () => {
    expect(parseKeyValue("log_level = info\nportal_url\n")).toEqual({
      ok: false,
      line: 2,
      message: "expected key = value",
    });
    expect(parseKeyValue("[daemon]\n")).toMatchObject({
      ok: false,
      line: 1,
      message: expect.stringContaining("sections"),
    });
    expect(parseKeyValue("Portal-URL = x\n")).toMatchObject({
      ok: false,
      message: expect.stringContaining("not a valid key"),
    });
    expect(parseKeyValue("a = 1\na = 2\n")).toMatchObject({
      ok: false,
      line: 2,
      message: expect.stringContaining("line 1"),
    });
    expect(parseKeyValue("portal_url = wss://x\u001b[31m\n")).toMatchObject({
      ok: false,
      message: expect.stringContaining("control character"),
    });
  });
});

describe("readConfigFile", () => {
  test("a missing file is not an error", () => {
    expect(readConfigFile(join(dir, "nope.conf"))).toEqual({ status: "missing" });
  });

  test("every known key is typed; the line of each is kept for messages", () => {
    const path = file("portal_url = wss://p.example\nallow_insecure_portal = no\nlog_level = warn\n");
    expect(readConfigFile(path)).toEqual({
      status: "ok",
      settings: { portal_url: "wss://p.example", allow_insecure_portal: false, log_level: "warn" },
      lineOf: { portal_url: 1, allow_insecure_portal: 2, log_level: 3 },
    });
  });

  test("an unknown key is an error naming the key, the line and the known keys", () => {
    const path = file("portl_url = wss://p.example\n");
    const r = readConfigFile(path);
    expect(r.status).toBe("invalid");
    const msg = r.status === "invalid" ? r.message : "";
    expect(msg).toContain(`${path} line 1: unknown key 'portl_url'`);
    expect(msg).toContain("portal_url");
  });

  test("a bad value names the file, line, key and what the key takes", () => {
    const r = readConfigFile(file("\nallow_insecure_portal = maybe\n"));
    expect(r.status === "invalid" && r.message).toMatch(
      /line 2: allow_insecure_portal 'maybe' is not a boolean; write true or false/,
    );
    const level = readConfigFile(file("log_level = verbose\n"));
    expect(level.status === "invalid" && level.message).toContain("not one of debug, info, warn, error");
    const ca = readConfigFile(file("ca_file = ca.pem\n"));
    expect(ca.status === "invalid" && ca.message).toContain("must be an absolute path");
  });

  test.skipIf(!isRoot)("a file others may write is refused with the chown/chmod fix", () => {
    const path = file("portal_url = wss://p.example\n", 0o666);
    const r = readConfigFile(path);
    expect(r.status === "invalid" && r.message).toContain(
      `sudo chown root:root ${path} && sudo chmod 644 ${path}`,
    );
    expect(r.status === "invalid" && r.message).toContain("mode 666");
  });

  test.skipIf(!isRoot)("a file owned by another user is refused, even read-only", () => {
    const path = file("portal_url = wss://p.example\n", 0o444);
    chownSync(path, 65534, 65534);
    const r = readConfigFile(path);
    expect(r.status === "invalid" && r.message).toContain("owned by uid 65534");
  });

  test.skipIf(!isRoot)("the checks apply to what is opened: a symlink to a user's file is refused", () => {
    const target = file("portal_url = wss://evil.example\n", 0o644);
    chownSync(target, 65534, 65534);
    const link = join(dir, "link.conf");
    symlinkSync(target, link);
    expect(readConfigFile(link).status).toBe("invalid");
  });

  test("a directory, a FIFO or a huge file is refused without hanging", () => {
    expect(readConfigFile(dir)).toMatchObject({
      status: "invalid",
      message: expect.stringContaining("not a regular file"),
    });
    const fifo = join(dir, "fifo.conf");
    Bun.spawnSync(["mkfifo", fifo]);
    expect(readConfigFile(fifo)).toMatchObject({
      status: "invalid",
      message: expect.stringContaining("not a regular file"),
    });
    const big = file(`# ${"x".repeat(70_000)}\n`);
    expect(readConfigFile(big)).toMatchObject({
      status: "invalid",
      message: expect.stringContaining("bytes"),
    });
  });
});

describe("loadDaemonConfig", () => {
  test("no URL anywhere: not_configured, naming the file, the key and install.sh --api-url", () => {
    const c = load({});
    expect(c.portal.configured).toBe(false);
    const msg = c.portal.configured ? "" : c.portal.message;
    expect(msg).toContain(`set portal_url in ${join(dir, "absent.conf")}`);
    expect(msg).toContain("install.sh --api-url wss://");
    expect(msg).toContain("sudo firezonectl settings set portal_url wss://");
  });

  test("the file's portal_url, log_level and ca-less TLS; FIREZONE_API_URL and FIREZONE_LOG_LEVEL override", () => {
    const path = file("portal_url = wss://portal.example\nlog_level = debug\n");
    const c = load({ FIREZONE_CONFIG: path });
    expect(c.portal).toEqual({
      configured: true,
      url: "wss://portal.example",
      allowInsecure: false,
      ca: null,
    });
    expect(c.logLevel).toBe("debug");
    const over = load({
      FIREZONE_CONFIG: path,
      FIREZONE_API_URL: "wss://other.example",
      FIREZONE_LOG_LEVEL: "warn",
    });
    expect(over.portal.configured && over.portal.url).toBe("wss://other.example");
    expect(over.logLevel).toBe("warn");
  });

  test("ws:// is refused unless allow_insecure_portal is set, and the message names the setting", () => {
    const path = file("portal_url = ws://10.0.0.1:8080\n");
    const c = load({ FIREZONE_CONFIG: path });
    const msg = c.portal.configured ? "" : c.portal.message;
    expect(msg).toContain(`portal_url in ${path} line 1`);
    expect(msg).toContain("allow_insecure_portal = true");
    const env = load({ FIREZONE_API_URL: "http://10.0.0.1:8080" });
    expect(env.portal.configured ? "" : env.portal.message).toStartWith("FIREZONE_API_URL: ");
    const lab = load({
      FIREZONE_CONFIG: file("portal_url = ws://10.0.0.1:8080\nallow_insecure_portal = true\n"),
    });
    expect(lab.portal).toMatchObject({ configured: true, allowInsecure: true });
    const envLab = load({ FIREZONE_API_URL: "ws://10.0.0.1:8080", FIREZONE_ALLOW_INSECURE_PORTAL: "1" });
    expect(envLab.portal).toMatchObject({ configured: true, allowInsecure: true });
    // The environment can also take the file's opt-in back.
    const off = load({
      FIREZONE_CONFIG: file("portal_url = ws://h\nallow_insecure_portal = yes\n"),
      FIREZONE_ALLOW_INSECURE_PORTAL: "0",
    });
    expect(off.portal.configured).toBe(false);
  });

  test("a portal URL with credentials, another scheme or garbage is not_configured with the reason", () => {
    for (const [url, why] of [
      ["wss://user:pw@p.example", "credentials"],
      ["ftp://p.example", "must start with wss://"],
      ["not a url", "is not a URL"],
    ] as const) {
      const c = load({ FIREZONE_API_URL: url });
      expect(c.portal.configured ? "" : c.portal.message).toContain(why);
    }
  });

  test("a broken file makes the whole file unused (not_configured, configProblem set), never half-applied", () => {
    const path = file("portal_url = ws://10.0.0.1\nallow_insecure_portal = true\nbogus = 1\n");
    const c = load({ FIREZONE_CONFIG: path, FIREZONE_API_URL: "ws://10.0.0.1" });
    expect(c.configProblem).toContain("unknown key 'bogus'");
    expect(c.portal.configured).toBe(false);
  });

  test("ca_file: a PEM certificate is loaded; a missing file or one without a certificate is named", () => {
    const pem = Bun.spawnSync(
      [
        "openssl",
        "req",
        "-x509",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
      ].concat(["-keyout", join(dir, "ca.key"), "-days", "1", "-subj", "/CN=test-ca"]),
      { stdout: "pipe", stderr: "pipe" },
    ).stdout.toString();
    const caPath = file(pem);
    const ok = load({ FIREZONE_CONFIG: file(`portal_url = wss://p.example\nca_file = ${caPath}\n`) });
    expect(ok.portal.configured && ok.portal.ca).toContain("-----BEGIN CERTIFICATE-----");
    const missing = load({
      FIREZONE_CONFIG: file(`portal_url = wss://p.example\nca_file = ${join(dir, "none.pem")}\n`),
    });
    expect(missing.portal.configured ? "" : missing.portal.message).toContain("does not exist");
    const notPem = load({
      FIREZONE_CONFIG: file(`portal_url = wss://p.example\nca_file = ${file("hello\n")}\n`),
    });
    expect(notPem.portal.configured ? "" : notPem.portal.message).toContain("no PEM certificate");
  });

  test("FIREZONE_CONFIG must be absolute; a bad FIREZONE_LOG_LEVEL stays a start-up error", () => {
    expect(() => load({ FIREZONE_CONFIG: "firezoned.conf" })).toThrow(
      "FIREZONE_CONFIG must be an absolute path",
    );
    expect(() => load({ FIREZONE_LOG_LEVEL: "loud" })).toThrow("FIREZONE_LOG_LEVEL");
  });
});
