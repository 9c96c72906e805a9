// The service token's way in: every refusal with real files, real FIFOs and real users, and the
// sources in their order. Runs as root (ownership is the point); the safe directory lives under
// /run, a root-only tmpfs, because /tmp is writable by everyone and is refused by design.
import { afterAll, describe, expect, test } from "bun:test";
import {
  chmodSync,
  chownSync,
  linkSync,
  mkdirSync,
  mkdtempSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadServiceToken, MAX_SECRET_BYTES, parseServiceToken } from "../../lib/daemon/index.ts";
import { FzError } from "../../lib/types/index.ts";
import { TestAccounts } from "../_support/users.ts";

const isRoot = process.getuid?.() === 0;
const accounts = new TestAccounts();
const safe = isRoot ? mkdtempSync("/run/fztok-") : "";
let n = 0;

afterAll(() => {
  accounts.cleanup();
  if (safe) rmSync(safe, { recursive: true, force: true });
});

/** A fresh root-owned 0700 directory under `safe`. */
function dir(): string {
  const d = join(safe, `d${n++}`);
  mkdirSync(d, { mode: 0o700 });
  return d;
}

function tokenFile(content: string | Buffer, mode = 0o600, where = dir()): string {
  const p = join(where, "token");
  writeFileSync(p, content, { mode });
  chmodSync(p, mode);
  return p;
}

function refusal(fn: () => unknown): FzError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(FzError);
    expect((err as FzError).code).toBe("invalid_token");
    return err as FzError;
  }
  throw new Error("expected a refusal");
}

const fileOnly = (tokenFile: string) => ({ envToken: null, credentialsDir: null, tokenFile });

describe.skipIf(!isRoot)("the service token file", () => {
  test("a root-owned 0600 file in root-only directories is read, the trailing newline trimmed", () => {
    const t = loadServiceToken(fileOnly(tokenFile("abc.DEF-123_x\n")));
    expect(t?.token).toBe("abc.DEF-123_x");
    expect(t?.source).toBe("file");
  });

  test("a missing file means no service mode", () => {
    expect(loadServiceToken(fileOnly(join(dir(), "token")))).toBeNull();
  });

  test("a symlink is refused, even to a good root-only file, and the fix says to copy the file", () => {
    const real = tokenFile("secret-1");
    const d = dir();
    symlinkSync(real, join(d, "token"));
    const e = refusal(() => loadServiceToken(fileOnly(join(d, "token"))));
    expect(e.message).toContain("it is a symlink");
    expect(e.message).toContain("cp --remove-destination");
    expect(e.message).not.toContain("secret-1");
  });

  test("a file owned by another user is refused with the chown fix, even at mode 0600", () => {
    const user = accounts.user();
    const p = tokenFile("secret-2");
    chownSync(p, Number(Bun.spawnSync(["id", "-u", user]).stdout.toString()), 0);
    const e = refusal(() => loadServiceToken(fileOnly(p)));
    expect(e.message).toContain("owned by uid");
    expect(e.message).toContain(`sudo chown root:root ${p} && sudo chmod 600 ${p}`);
  });

  test("group- or world-readable modes are refused, and a group-readable file of group root too", () => {
    for (const mode of [0o640, 0o604, 0o644, 0o660, 0o400 | 0o040]) {
      const e = refusal(() => loadServiceToken(fileOnly(tokenFile("secret-3", mode))));
      expect(e.message).toContain(`mode ${mode.toString(8).padStart(3, "0")}`);
      expect(e.message).toContain("sudo chmod 600");
    }
    expect(loadServiceToken(fileOnly(tokenFile("ok", 0o400)))?.token).toBe("ok");
  });

  test("a directory above the file that another user owns is refused, naming that directory", () => {
    const user = accounts.user();
    const d = dir();
    chownSync(d, Number(Bun.spawnSync(["id", "-u", user]).stdout.toString()), 0);
    const e = refusal(() => loadServiceToken(fileOnly(tokenFile("secret-4", 0o600, d))));
    expect(e.message).toContain(`${d} is a directory above it and it belongs to uid`);
    expect(e.message).toContain("/etc/firezoned");
  });

  test("a group-writable parent (not group root) and a sticky world-writable one (like /tmp) are refused", () => {
    const group = accounts.group();
    const gid = Number(Bun.spawnSync(["getent", "group", group]).stdout.toString().split(":")[2]);
    const d = dir();
    chownSync(d, 0, gid);
    chmodSync(d, 0o770);
    const e = refusal(() => loadServiceToken(fileOnly(tokenFile("secret-5", 0o600, d))));
    expect(e.message).toContain(`members of gid ${gid} may write to it`);

    const sticky = dir();
    chmodSync(sticky, 0o1777);
    const s = refusal(() => loadServiceToken(fileOnly(tokenFile("secret-5", 0o600, sticky))));
    expect(s.message).toContain("every user may write to it (mode 1777, sticky)");

    // The real /tmp is such a directory.
    const inTmp = mkdtempSync(join(tmpdir(), "fztok-"));
    try {
      const t = refusal(() => loadServiceToken(fileOnly(tokenFile("secret-5", 0o600, inTmp))));
      expect(t.message).toContain("every user may write to it");
    } finally {
      rmSync(inTmp, { recursive: true, force: true });
    }
  });

  test("a grandparent writable by others is refused too: the walk goes up to /", () => {
    const top = dir();
    chmodSync(top, 0o777);
    const inner = join(top, "inner");
    mkdirSync(inner, { mode: 0o700 });
    const e = refusal(() => loadServiceToken(fileOnly(tokenFile("secret-6", 0o600, inner))));
    expect(e.message).toContain(`${top} is a directory above it`);
  });

  test("a symlinked directory on the way is checked where it points", () => {
    const open = dir();
    chmodSync(open, 0o777);
    const target = join(open, "real");
    mkdirSync(target, { mode: 0o700 });
    tokenFile("secret-7", 0o600, target);
    const d = dir();
    symlinkSync(target, join(d, "link"));
    const e = refusal(() => loadServiceToken(fileOnly(join(d, "link", "token"))));
    expect(e.message).toContain(`${open} is a directory above it`);
    // The same link to a root-only directory is fine (/var/run -> /run is such a link).
    const good = dir();
    tokenFile("secret-8", 0o600, good);
    const d2 = dir();
    symlinkSync(good, join(d2, "link"));
    expect(loadServiceToken(fileOnly(join(d2, "link", "token")))?.token).toBe("secret-8");
  });

  test("a FIFO is refused at once instead of blocking the daemon", () => {
    const d = dir();
    const p = join(d, "token");
    expect(Bun.spawnSync(["mkfifo", "-m", "600", p]).exitCode).toBe(0);
    const e = refusal(() => loadServiceToken(fileOnly(p)));
    expect(e.message).toContain("it is a FIFO");
  });

  test("a directory or a device in the token's place is refused", () => {
    const d = dir();
    mkdirSync(join(d, "token"), { mode: 0o700 });
    expect(refusal(() => loadServiceToken(fileOnly(join(d, "token")))).message).toContain("a directory");
    expect(refusal(() => loadServiceToken(fileOnly("/dev/null"))).message).toContain("not a regular file");
  });

  test("a huge file is refused without being read, naming the limit", () => {
    const e = refusal(() => loadServiceToken(fileOnly(tokenFile(Buffer.alloc(10 * 1024 * 1024, 0x61)))));
    expect(e.message).toContain(`more than the ${MAX_SECRET_BYTES} bytes`);
    expect(loadServiceToken(fileOnly(tokenFile("a".repeat(MAX_SECRET_BYTES))))?.token).toHaveLength(
      MAX_SECRET_BYTES,
    );
  });

  test("binary content, control characters, spaces, a second line and an empty file are refused", () => {
    const cases: [string | Buffer, string][] = [
      [Buffer.from([0x7f, 0x45, 0x4c, 0x46, 0x02, 0x01, 0x00, 0x00]), "a control character at byte 0"],
      [Buffer.from("abc\0def"), "a NUL byte (binary content) at byte 3"],
      ["abc\x1b[31mdef", "a control character at byte 3"],
      ["abc def", "a space at byte 3"],
      ["token\nsecond-line\n", "a control character at byte 5"],
      ["tökén", "a non-ASCII byte at byte 1"],
      ["\n", "is empty"],
      ["", "is empty"],
    ];
    for (const [content, why] of cases) {
      const e = refusal(() => loadServiceToken(fileOnly(tokenFile(content))));
      expect(e.message).toContain(why);
    }
  });

  test("a hard link to a root-only file from elsewhere is still only read when its own directory is safe", () => {
    const real = tokenFile("secret-9");
    const open = dir();
    chmodSync(open, 0o1777);
    linkSync(real, join(open, "token"));
    expect(refusal(() => loadServiceToken(fileOnly(join(open, "token")))).message).toContain(
      "every user may write to it",
    );
  });
});

describe.skipIf(!isRoot)("FIREZONE_TOKEN and the systemd credential", () => {
  test("FIREZONE_TOKEN as a path gets every check of the token file", () => {
    const loose = tokenFile("secret-10", 0o644);
    const e = refusal(() =>
      loadServiceToken({ envToken: loose, credentialsDir: null, tokenFile: "/nonexistent" }),
    );
    expect(e.message).toContain("sudo chmod 600");
    const d = dir();
    symlinkSync(tokenFile("secret-10"), join(d, "token"));
    expect(
      refusal(() => loadServiceToken({ envToken: join(d, "token"), credentialsDir: null, tokenFile: "/x" }))
        .message,
    ).toContain("symlink");
    const good = tokenFile("secret-10\n", 0o400);
    expect(loadServiceToken({ envToken: good, credentialsDir: null, tokenFile: "/x" })).toEqual({
      token: "secret-10",
      source: "env-file",
      path: good,
    });
  });

  test("FIREZONE_TOKEN naming a missing file is refused with the fix, not taken as no token", () => {
    const e = refusal(() =>
      loadServiceToken({ envToken: "/run/secrets/none-here", credentialsDir: null, tokenFile: "/x" }),
    );
    expect(e.message).toContain("does not exist. Fix: mount the secret there");
  });

  test("FIREZONE_TOKEN as a value is checked like file content", () => {
    expect(loadServiceToken({ envToken: "value-token", credentialsDir: null, tokenFile: "/x" })?.source).toBe(
      "env",
    );
    expect(
      refusal(() => loadServiceToken({ envToken: "a\x1bb", credentialsDir: null, tokenFile: "/x" })).message,
    ).toContain("FIREZONE_TOKEN holds a control character");
  });

  test("the credential firezone-token comes before the token file, with the same checks", () => {
    const creds = dir();
    writeFileSync(join(creds, "firezone-token"), "cred-token\n", { mode: 0o400 });
    const file = tokenFile("file-token");
    expect(loadServiceToken({ envToken: null, credentialsDir: creds, tokenFile: file })).toEqual({
      token: "cred-token",
      source: "credential",
      path: join(creds, "firezone-token"),
    });
    // No credential of that name: the token file is used.
    expect(loadServiceToken({ envToken: null, credentialsDir: dir(), tokenFile: file })?.token).toBe(
      "file-token",
    );
    chmodSync(join(creds, "firezone-token"), 0o444);
    expect(
      refusal(() => loadServiceToken({ envToken: null, credentialsDir: creds, tokenFile: file })).message,
    ).toContain("mode 444");
  });
});

describe("the token's text", () => {
  test("trailing CR LF is trimmed; inner whitespace is refused", () => {
    expect(parseServiceToken("abc\r\n", "x")).toBe("abc");
    expect(() => parseServiceToken("ab\tc", "x")).toThrow("a control character at byte 2");
  });
});

test.skipIf(isRoot)("service token file tests need root (skipped)", () => {});
