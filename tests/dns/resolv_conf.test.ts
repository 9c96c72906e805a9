// resolv-conf DNS control on real files: rewrite, byte-for-byte restore, symlinks, someone else's
// newer file, recovery after kill -9, the documented shell procedure, and mode detection.
import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import {
  chmodSync,
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readlinkSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { detectDnsControl, ResolvConfControl, resolvConfIsManaged } from "../../lib/dns/index.ts";

const STUB = ["100.100.111.1", "fd00:2021:1111:8000:100:100:111:1"];
// Odd bytes on purpose: comments, no trailing newline, tabs, CRLF; a restore must keep them all.
const ORIGINAL =
  "# from DHCP\r\nnameserver 192.0.2.53\nnameserver\t2001:db8::53\nsearch lan.example\noptions ndots:2 timeout:1";

let dir: string;
let path: string;
let state: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "fz-resolv-"));
  path = join(dir, "etc", "resolv.conf");
  mkdirSync(join(dir, "etc"));
  state = join(dir, "state");
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const control = () => new ResolvConfControl({ path, stateDir: state });

describe("resolv-conf DNS control", () => {
  test("apply names the stub, keeps the system's search and options; revert restores bytes and mode", async () => {
    writeFileSync(path, ORIGINAL);
    chmodSync(path, 0o640);
    const c = control();
    await c.apply({ servers: STUB, searchDomains: ["corp.example"] });
    const ours = readFileSync(path, "utf8");
    expect(ours).toContain("nameserver 100.100.111.1\nnameserver fd00:2021:1111:8000:100:100:111:1\n");
    expect(ours).toContain("search corp.example lan.example\n");
    expect(ours).toContain("options ndots:2 timeout:1\n");
    expect(ours).not.toContain("192.0.2.53");
    expect(c.originalUpstreams).toEqual([
      { address: "192.0.2.53", port: 53 },
      { address: "2001:db8::53", port: 53 },
    ]);
    expect(resolvConfIsManaged(state)).toBe(true);
    await c.revert();
    expect(readFileSync(path, "utf8")).toBe(ORIGINAL);
    expect(lstatSync(path).mode & 0o777).toBe(0o640);
    expect(resolvConfIsManaged(state)).toBe(false);
  });

  test("applying again (new search domains) still restores the very first original", async () => {
    writeFileSync(path, ORIGINAL);
    const c = control();
    await c.apply({ servers: STUB, searchDomains: ["a.example"] });
    await c.apply({ servers: STUB, searchDomains: ["b.example"] });
    expect(readFileSync(path, "utf8")).toContain("search b.example lan.example");
    await c.revert();
    expect(readFileSync(path, "utf8")).toBe(ORIGINAL);
  });

  test("a symlink (to resolved's stub file) is replaced, then restored as the same link", async () => {
    mkdirSync(join(dir, "run", "systemd", "resolve"), { recursive: true });
    const target = join(dir, "run", "systemd", "resolve", "stub-resolv.conf");
    writeFileSync(target, "nameserver 127.0.0.53\noptions edns0 trust-ad\n");
    const linkText = "../run/systemd/resolve/stub-resolv.conf";
    symlinkSync(linkText, path);
    const c = control();
    await c.apply({ servers: STUB, searchDomains: [] });
    expect(lstatSync(path).isSymbolicLink()).toBe(false);
    expect(readFileSync(path, "utf8")).toContain("nameserver 100.100.111.1");
    // The link's target is not written through.
    expect(readFileSync(target, "utf8")).toBe("nameserver 127.0.0.53\noptions edns0 trust-ad\n");
    expect(c.originalUpstreams).toEqual([{ address: "127.0.0.53", port: 53 }]);
    await c.revert();
    expect(lstatSync(path).isSymbolicLink()).toBe(true);
    expect(readlinkSync(path)).toBe(linkText);
  });

  test("no file before: apply creates one, revert removes it", async () => {
    const c = control();
    await c.apply({ servers: STUB, searchDomains: [] });
    expect(existsSync(path)).toBe(true);
    await c.revert();
    expect(existsSync(path)).toBe(false);
  });

  test("a file someone else wrote after us is newer than our backup and stays", async () => {
    writeFileSync(path, ORIGINAL);
    const c = control();
    await c.apply({ servers: STUB, searchDomains: [] });
    writeFileSync(path, "nameserver 198.51.100.1\n");
    await c.revert();
    expect(readFileSync(path, "utf8")).toBe("nameserver 198.51.100.1\n");
    expect(resolvConfIsManaged(state)).toBe(false);
  });

  test("after kill -9 of the process that applied it, the next start restores the original", async () => {
    writeFileSync(path, ORIGINAL);
    const proc = Bun.spawn(
      [process.execPath, resolve(import.meta.dir, "fixtures/apply_and_die.ts"), path, state],
      {
        stdout: "pipe",
        stderr: "inherit",
      },
    );
    const reader = proc.stdout.getReader();
    expect(new TextDecoder().decode((await reader.read()).value)).toContain("applied");
    proc.kill("SIGKILL");
    await proc.exited;
    expect(readFileSync(path, "utf8")).toContain("nameserver 100.100.111.1");
    expect(await control().recover()).toBe(true);
    expect(readFileSync(path, "utf8")).toBe(ORIGINAL);
    // Nothing left to recover the time after.
    expect(await control().recover()).toBe(false);
  });

  test("a marker without our file in place (crash between the two writes) leaves the file alone", async () => {
    writeFileSync(path, ORIGINAL);
    const c = control();
    await c.apply({ servers: STUB, searchDomains: [] });
    writeFileSync(path, ORIGINAL); // as if the rename never happened
    expect(await control().recover()).toBe(false);
    expect(readFileSync(path, "utf8")).toBe(ORIGINAL);
  });

  const procedure = (() => {
    const doc = readFileSync(resolve(import.meta.dir, "../../docs/dns.md"), "utf8");
    return /```sh\n(# fz_dns_restore[\s\S]*?)```/.exec(doc)?.[1] ?? "";
  })();
  const runProcedure = () => {
    const r = Bun.spawnSync(["sh", "-c", `${procedure}\nfz_dns_restore "$1" "$2"`, "sh", state, path], {
      stderr: "pipe",
    });
    expect(r.stderr.toString()).toBe("");
    expect(r.exitCode).toBe(0);
  };

  test("the shell procedure in docs/dns.md restores a regular file byte for byte, with its mode", async () => {
    expect(procedure).toContain("fz_dns_restore()");
    writeFileSync(path, ORIGINAL);
    chmodSync(path, 0o600);
    await control().apply({ servers: STUB, searchDomains: ["corp.example"] });
    runProcedure();
    expect(readFileSync(path, "utf8")).toBe(ORIGINAL);
    expect(lstatSync(path).mode & 0o777).toBe(0o600);
    expect(resolvConfIsManaged(state)).toBe(false);
  });

  test("install.sh --uninstall runs the documented procedure", () => {
    const script = readFileSync(resolve(import.meta.dir, "../../install.sh"), "utf8");
    const inScript = /\n(fz_dns_restore\(\) \{\n[\s\S]*?\n\})\n/.exec(script)?.[1] ?? "";
    const squash = (t: string) => t.replace(/\s+/g, " ").trim();
    expect(inScript.length).toBeGreaterThan(100);
    expect(squash(procedure)).toEndWith(squash(inScript));
  });

  test("the shell procedure restores a symlink with the same target text", async () => {
    symlinkSync("/run/systemd/resolve/stub-resolv.conf", path);
    await control().apply({ servers: STUB, searchDomains: [] });
    runProcedure();
    expect(readlinkSync(path)).toBe("/run/systemd/resolve/stub-resolv.conf");
  });
});

// What the unit's sandbox does in resolv-conf mode (ProtectSystem=strict, ReadWritePaths=
// /etc/resolv.conf): the directory is read-only, the file alone is a writable bind mount. Built
// here with real mounts in a mount namespace of the test's own, the same kernel mechanism.
const canMount = process.getuid?.() === 0 && Bun.which("unshare") !== null && Bun.which("mount") !== null;
describe.skipIf(!canMount)("resolv-conf DNS control with only the file writable (the unit's sandbox)", () => {
  const LIB = resolve(import.meta.dir, "../../lib/dns/index.ts");
  /** Runs `body` (apply or revert on `path`) in a mount namespace where only `path` is writable. */
  const inSandbox = (body: string, bindFile = true) => {
    const script = `import { ResolvConfControl } from ${JSON.stringify(LIB)};
const c = new ResolvConfControl({ path: process.argv[1], stateDir: process.argv[2] });
try { ${body}; console.log("done"); } catch (e) { console.log("error: " + e.message); }`;
    const etc = join(dir, "etc");
    const mounts = [
      bindFile ? `mount --bind "$1" "$1"` : "true",
      `mount --rbind "${etc}" "${etc}"`,
      `mount -o remount,bind,ro "${etc}"`,
      `exec "${process.execPath}" -e '${script.replaceAll("'", "'\\''")}' "$1" "$2"`,
    ].join(" && ");
    const r = Bun.spawnSync(
      ["unshare", "-m", "--propagation", "private", "sh", "-c", mounts, "sh", path, state],
      {
        stdout: "pipe",
        stderr: "pipe",
      },
    );
    return (r.stdout.toString() + r.stderr.toString()).trim();
  };

  test("a regular file is rewritten in place (same inode) and restored byte for byte with its mode", () => {
    writeFileSync(path, ORIGINAL);
    chmodSync(path, 0o640);
    const inode = lstatSync(path).ino;
    expect(
      inSandbox(`await c.apply({ servers: ${JSON.stringify(STUB)}, searchDomains: ["corp.example"] })`),
    ).toBe("done");
    expect(readFileSync(path, "utf8")).toContain("nameserver 100.100.111.1\n");
    expect(lstatSync(path).ino).toBe(inode);
    expect(inSandbox("await c.revert()")).toBe("done");
    expect(readFileSync(path, "utf8")).toBe(ORIGINAL);
    expect(lstatSync(path).mode & 0o777).toBe(0o640);
    expect(lstatSync(path).ino).toBe(inode);
    expect(resolvConfIsManaged(state)).toBe(false);
  });

  test("a symlink cannot be replaced there: a clear error naming the fix, and the link is left as it was", () => {
    symlinkSync("/run/systemd/resolve/stub-resolv.conf", path);
    const out = inSandbox(`await c.apply({ servers: ${JSON.stringify(STUB)}, searchDomains: [] })`, false);
    expect(out).toContain("error: cannot replace the symlink");
    expect(out).toContain("run install.sh again");
    expect(readlinkSync(path)).toBe("/run/systemd/resolve/stub-resolv.conf");
    expect(resolvConfIsManaged(state)).toBe(false);
  });
});

describe("dns_control detection", () => {
  const running = async () => true;
  test("resolved running and resolv.conf linked to its stub: systemd-resolved", async () => {
    const runtime = join(dir, "run", "systemd", "resolve");
    mkdirSync(runtime, { recursive: true });
    symlinkSync("../run/systemd/resolve/stub-resolv.conf", path);
    expect(
      await detectDnsControl({ resolvConf: path, resolvedRuntime: runtime, resolvedRunning: running }),
    ).toBe("systemd-resolved");
  });

  test("resolved running and a plain file naming 127.0.0.53: systemd-resolved", async () => {
    const runtime = join(dir, "resolve");
    mkdirSync(runtime);
    writeFileSync(path, "nameserver 127.0.0.53\n");
    expect(
      await detectDnsControl({ resolvConf: path, resolvedRuntime: runtime, resolvedRunning: running }),
    ).toBe("systemd-resolved");
  });

  test("resolved stopped (its runtime directory kept, resolv.conf still linked to its stub): resolv-conf", async () => {
    const runtime = join(dir, "run", "systemd", "resolve");
    mkdirSync(runtime, { recursive: true });
    symlinkSync("../run/systemd/resolve/stub-resolv.conf", path);
    const stopped = async () => false;
    expect(
      await detectDnsControl({ resolvConf: path, resolvedRuntime: runtime, resolvedRunning: stopped }),
    ).toBe("resolv-conf");
    // A bus that cannot be asked: the files decide, as they say resolved.
    const unknown = async () => null;
    expect(
      await detectDnsControl({ resolvConf: path, resolvedRuntime: runtime, resolvedRunning: unknown }),
    ).toBe("systemd-resolved");
  });

  test("resolved running but not used by resolv.conf, or not running: resolv-conf", async () => {
    const runtime = join(dir, "resolve");
    mkdirSync(runtime);
    writeFileSync(path, ORIGINAL);
    expect(await detectDnsControl({ resolvConf: path, resolvedRuntime: runtime })).toBe("resolv-conf");
    expect(await detectDnsControl({ resolvConf: path, resolvedRuntime: join(dir, "absent") })).toBe(
      "resolv-conf",
    );
  });
});
