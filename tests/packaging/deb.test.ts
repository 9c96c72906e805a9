// `bun run package` on a stand-in build: small real ELF programs (copies of /bin/true, so
// dpkg-shlibdeps has real objects to read) in place of the compiled ones, and the man pages and
// shell completions a build may add. What ends up where, with which modes, owners and relations.
// The packages of the real build go through lintian in lintian.test.ts and apt in the VM tests.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gunzipSync } from "node:zlib";
import { type Entry, entries, fakeDist, field, ROOT, runPackage, sh, unpack } from "./_deb.ts";

const haveDpkg = Bun.which("dpkg-deb") !== null && Bun.which("dpkg-shlibdeps") !== null;
const work = mkdtempSync(join(tmpdir(), "fz-deb-test-"));
const dist = join(work, "dist");
const out = join(work, "out");
const VERSION = "1.2.3~test1";

const deb = (name: string) => join(out, `${name}_${VERSION}_amd64.deb`);
let client: Entry[] = [];
let gui: Entry[] = [];

beforeAll(() => {
  if (!haveDpkg) return;
  fakeDist(dist, true);
  const r = runPackage(["--dist", dist, "--out", out, "--version", VERSION, "--fast"]);
  if (r.code !== 0) throw new Error(`bun run package failed: ${r.err}`);
  client = entries(deb("firezone-client"));
  gui = entries(deb("firezone-gui"));
});

afterAll(() => rmSync(work, { recursive: true, force: true }));

const files = (list: Entry[]) => list.filter((e) => !e.mode.startsWith("d")).map((e) => e.path);

describe.skipIf(!haveDpkg)("bun run package", () => {
  test("firezone-client holds the daemon, the CLI, the unit, the group's sysusers.d file, the man page and the completions, at the paths a package owns", () => {
    expect(files(client).sort()).toEqual(
      [
        "/lib/systemd/system/firezoned.service",
        "/usr/bin/firezonectl",
        "/usr/bin/firezoned",
        "/usr/lib/sysusers.d/firezone.conf",
        "/usr/share/bash-completion/completions/firezonectl",
        "/usr/share/doc/firezone-client/changelog.gz",
        "/usr/share/doc/firezone-client/copyright",
        "/usr/share/fish/vendor_completions.d/firezonectl.fish",
        "/usr/share/man/man1/firezonectl.1.gz",
        "/usr/share/zsh/vendor-completions/_firezonectl",
      ].sort(),
    );
  });

  test("firezone-gui holds the tray, the sign-in handler, its D-Bus service and the autostart entry", () => {
    expect(files(gui).sort()).toEqual(
      [
        "/etc/xdg/autostart/firezone-gui.desktop",
        "/usr/bin/firezone-gui",
        "/usr/share/applications/dev.firezone.client.desktop",
        "/usr/share/applications/firezone-gui.desktop",
        "/usr/share/dbus-1/services/dev.firezone.client.service",
        "/usr/share/doc/firezone-gui/changelog.gz",
        "/usr/share/doc/firezone-gui/copyright",
        "/usr/share/man/man1/firezone-gui.1.gz",
      ].sort(),
    );
  });

  test("every entry is root:root; programs 0755, other files 0644, directories 0755; nothing under /usr/local", () => {
    for (const e of [...client, ...gui]) {
      expect(`${e.path} ${e.owner}`).toBe(`${e.path} root/root`);
      const want = e.mode.startsWith("d")
        ? "drwxr-xr-x"
        : e.path.startsWith("/usr/bin/")
          ? "-rwxr-xr-x"
          : "-rw-r--r--";
      expect(`${e.path} ${e.mode}`).toBe(`${e.path} ${want}`);
      expect(e.path.startsWith("/usr/local")).toBe(false);
    }
  });

  test("the control fields: version, architecture from the ELF header, Depends nftables and what dpkg-shlibdeps finds, Recommends wireguard-go, the GUI tied to its daemon", () => {
    const c = deb("firezone-client");
    const g = deb("firezone-gui");
    expect(field(c, "Package")).toBe("firezone-client");
    expect(field(c, "Version")).toBe(VERSION);
    expect(field(c, "Architecture")).toBe("amd64");
    expect(field(c, "Depends")).toMatch(/^nftables, libc6 \(>= [0-9.]+\)$/);
    expect(field(c, "Recommends")).toBe("wireguard-go");
    expect(field(c, "Conflicts")).toBe("firezone-client-gui");
    expect(field(g, "Depends")).toMatch(
      new RegExp(
        `^firezone-client \\(= ${VERSION.replace(/[.~]/g, "\\$&")}\\), xdg-utils, libc6 \\(>= [0-9.]+\\), libgcc-s1`,
      ),
    );
    expect(field(g, "Conflicts")).toBe("");
    expect(Number(field(c, "Installed-Size"))).toBeGreaterThan(0);
  });

  test("the installed unit and D-Bus service start the packaged programs in /usr/bin", () => {
    const c = unpack(deb("firezone-client"));
    const g = unpack(deb("firezone-gui"));
    try {
      const unit = readFileSync(join(c, "lib/systemd/system/firezoned.service"), "utf8");
      expect(unit).toContain("\nExecStart=/usr/bin/firezoned\n");
      expect(unit).not.toContain("/usr/local");
      // Everything else is the unit install.sh installs.
      const shipped = readFileSync(join(ROOT, "packaging/firezoned.service"), "utf8");
      expect(unit.split("\n").filter((l) => !l.startsWith("ExecStart=") && !l.startsWith("#"))).toEqual(
        shipped.split("\n").filter((l) => !l.startsWith("ExecStart=") && !l.startsWith("#")),
      );
      const dbus = readFileSync(join(g, "usr/share/dbus-1/services/dev.firezone.client.service"), "utf8");
      expect(dbus).toContain("\nExec=/usr/bin/firezone-gui --gapplication-service");
      expect(readFileSync(join(c, "usr/lib/sysusers.d/firezone.conf"), "utf8")).toMatch(/^g firezone -$/m);
      expect(gunzipSync(readFileSync(join(c, "usr/share/man/man1/firezonectl.1.gz"))).toString()).toStartWith(
        ".TH FIREZONECTL 1",
      );
      expect(
        gunzipSync(readFileSync(join(c, "usr/share/doc/firezone-client/changelog.gz"))).toString(),
      ).toMatch(new RegExp(`^firezone-client \\(${VERSION}\\) unstable; urgency=medium\\n`));
    } finally {
      rmSync(c, { recursive: true, force: true });
      rmSync(g, { recursive: true, force: true });
    }
  });

  test("conffiles: the GUI's autostart entry only; md5sums covers every other file", () => {
    const c = unpack(deb("firezone-client"));
    const g = unpack(deb("firezone-gui"));
    try {
      expect(existsSync(join(c, "DEBIAN/conffiles"))).toBe(false);
      expect(readFileSync(join(g, "DEBIAN/conffiles"), "utf8")).toBe(
        "/etc/xdg/autostart/firezone-gui.desktop\n",
      );
      for (const [dir, list] of [
        [c, client],
        [g, gui],
      ] as const) {
        const sums = readFileSync(join(dir, "DEBIAN/md5sums"), "utf8").trim().split("\n");
        const listed = sums.map((l) => `/${l.split("  ")[1]}`).sort();
        expect(listed).toEqual(
          files(list)
            .filter((p) => !p.startsWith("/etc/"))
            .sort(),
        );
        const check = sh(["md5sum", "--check", "--quiet", join(dir, "DEBIAN/md5sums")], dir);
        expect(check.code).toBe(0);
      }
      expect(readdirSync(join(c, "DEBIAN")).sort()).toEqual([
        "control",
        "md5sums",
        "postinst",
        "postrm",
        "preinst",
        "prerm",
      ]);
      expect(readdirSync(join(g, "DEBIAN")).sort()).toEqual(["conffiles", "control", "md5sums", "preinst"]);
    } finally {
      rmSync(c, { recursive: true, force: true });
      rmSync(g, { recursive: true, force: true });
    }
  });

  test("two builds of the same tree are byte for byte the same package", () => {
    const again = join(work, "again");
    const r = runPackage(["--dist", dist, "--out", again, "--version", VERSION, "--fast"]);
    expect(r.code).toBe(0);
    for (const name of ["firezone-client", "firezone-gui"]) {
      const a = readFileSync(deb(name));
      const b = readFileSync(join(again, `${name}_${VERSION}_amd64.deb`));
      expect(Bun.hash(a)).toBe(Bun.hash(b));
    }
  });

  test("a build without firezone-gui gives firezone-client only, and says so", () => {
    const d = join(work, "dist-nogui");
    fakeDist(d, false);
    const r = runPackage(["--dist", d, "--out", join(work, "out-nogui"), "--version", VERSION, "--fast"]);
    expect(r.code).toBe(0);
    expect(r.out).toContain("no firezone-gui in the build: building firezone-client only");
    expect(readdirSync(join(work, "out-nogui"))).toEqual([`firezone-client_${VERSION}_amd64.deb`]);
  });

  test("bad input is refused with what to do, and nothing is written", () => {
    const none = join(work, "out-bad");
    const bad = runPackage(["--dist", dist, "--out", none, "--version", "1.0-rc1;rm"]);
    expect(bad.code).toBe(1);
    expect(bad.err).toContain("is not a Debian native version");
    const missing = runPackage(["--dist", join(work, "no-such-dist"), "--out", none]);
    expect(missing.code).toBe(1);
    expect(missing.err).toContain("run `bun run build` first");
    const unknown = runPackage(["--frobnicate"]);
    expect(unknown.code).toBe(64);
    expect(unknown.err).toContain("Usage: bun run package");
    expect(existsSync(none)).toBe(false);
  });
});

describe.skipIf(!haveDpkg || !Bun.which("shellcheck"))("maintainer scripts", () => {
  test("as they ship (with install.sh's functions put in) are POSIX sh that shellcheck passes", () => {
    const c = unpack(deb("firezone-client"));
    const g = unpack(deb("firezone-gui"));
    try {
      const scripts = [
        ...["preinst", "postinst", "prerm", "postrm"].map((f) => join(c, "DEBIAN", f)),
        join(g, "DEBIAN/preinst"),
      ];
      const r = sh(["shellcheck", "-s", "sh", ...scripts]);
      expect(r.out + r.err).toBe("");
      expect(r.code).toBe(0);
    } finally {
      rmSync(c, { recursive: true, force: true });
      rmSync(g, { recursive: true, force: true });
    }
  });
});
