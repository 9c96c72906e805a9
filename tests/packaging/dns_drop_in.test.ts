// The packages do for resolv-conf hosts what install.sh does: postinst detects the DNS mode with
// install.sh's own dns_mode() and writes its narrow sandbox drop-in with write_dns_drop_in(); prerm
// puts /etc/resolv.conf back with its fz_dns_restore(); postrm takes the drop-in away. The functions
// run here as they ship in a built package, on files in a temp directory. The detection also reads
// /run/systemd/resolve and asks `systemctl is-active systemd-resolved`: /run is a tmpfs in a private
// mount namespace, and systemctl a stand-in answering that one question (no systemd runs in the test
// machine; the VM checks the real one, tests/vm/guest/deb.sh).
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { maintainerScript, shellFunction } from "../../scripts/deb/maintainer_scripts.ts";
import { fakeDist, ROOT, runPackage, unpack } from "./_deb.ts";

const canRun =
  process.getuid?.() === 0 &&
  Bun.which("unshare") !== null &&
  Bun.which("dpkg-deb") !== null &&
  Bun.which("dpkg-shlibdeps") !== null;
const work = mkdtempSync(join(tmpdir(), "fz-deb-dns-"));
const INSTALL_SH = readFileSync(join(ROOT, "install.sh"), "utf8");
let control = "";
const script = (name: string) => readFileSync(join(control, "DEBIAN", name), "utf8");

beforeAll(() => {
  if (!canRun) return;
  fakeDist(join(work, "dist"), false);
  const r = runPackage([
    "--dist",
    join(work, "dist"),
    "--out",
    join(work, "out"),
    "--version",
    "1.0",
    "--fast",
  ]);
  if (r.code !== 0) throw new Error(`bun run package failed: ${r.err}`);
  control = unpack(join(work, "out/firezone-client_1.0_amd64.deb"));
  // The stand-in: `systemctl is-active --quiet systemd-resolved` exits $RESOLVED_RC; all else fails.
  mkdirSync(join(work, "bin"));
  writeFileSync(
    join(work, "bin/systemctl"),
    `#!/bin/sh\n[ "$*" = "is-active --quiet systemd-resolved" ] && exit "\${RESOLVED_RC:-3}"\nexit 1\n`,
    { mode: 0o755 },
  );
  // deb-systemd-helper and getent answer nothing: postrm must not touch this machine's units or group.
  for (const stub of ["deb-systemd-helper", "getent", "groupdel"])
    writeFileSync(join(work, "bin", stub), "#!/bin/sh\nexit 2\n", { mode: 0o755 });
});

afterAll(() => {
  rmSync(work, { recursive: true, force: true });
  if (control) rmSync(control, { recursive: true, force: true });
});

interface Host {
  /** firezoned.conf's text; none when absent. */
  conf?: string;
  resolv: { file: string } | { link: string } | "missing";
  /** /run/systemd/resolve exists (resolved ran since boot). */
  resolveDir: boolean;
  /** systemd-resolved is active now. */
  resolvedRuns: boolean;
  /** Drop-ins already in firezoned.service.d. */
  before?: Record<string, string>;
}

let caseNo = 0;
/** postinst's write_dns_drop_in, as shipped, on a host shaped as `h`. */
function postinstDropIn(h: Host): {
  code: number;
  out: string;
  dir: string;
  dropIn: string | null;
  resolv: string;
} {
  const root = join(work, `case-${++caseNo}`);
  mkdirSync(root);
  const conf = join(root, "firezoned.conf");
  const resolv = join(root, "resolv.conf");
  const dir = join(root, "firezoned.service.d");
  if (h.conf !== undefined) writeFileSync(conf, h.conf);
  if (h.resolv !== "missing") {
    if ("file" in h.resolv) writeFileSync(resolv, h.resolv.file);
    else symlinkSync(h.resolv.link, resolv);
  }
  if (h.before) {
    mkdirSync(dir);
    for (const [name, text] of Object.entries(h.before)) writeFileSync(join(dir, name), text);
  }
  const postinst = script("postinst");
  const body = [
    "set -e",
    "CONFIG_FILE=$1 RESOLV_CONF=$2 DROP_IN_DIR=$3 DNS_DROP_IN=$3/dns-resolv-conf.conf",
    /^say\(\) .*$/m.exec(postinst)![0],
    shellFunction(postinst, "dns_mode", "postinst"),
    shellFunction(postinst, "write_dns_drop_in", "postinst"),
    "write_dns_drop_in",
  ].join("\n");
  writeFileSync(join(root, "run.sh"), body);
  const setUp = `mount -t tmpfs fz-test /run && ${h.resolveDir ? "mkdir -p /run/systemd/resolve && " : ""}exec sh "$@"`;
  const run = ["sh", join(root, "run.sh"), conf, resolv, dir];
  const r = Bun.spawnSync(["unshare", "--mount", "--propagation", "private", "sh", "-c", setUp, ...run], {
    env: {
      PATH: `${join(work, "bin")}:/usr/sbin:/usr/bin:/sbin:/bin`,
      RESOLVED_RC: h.resolvedRuns ? "0" : "3",
    },
    stdout: "pipe",
    stderr: "pipe",
  });
  const dropIn = join(dir, "dns-resolv-conf.conf");
  return {
    code: r.exitCode ?? -1,
    out: r.stdout.toString() + r.stderr.toString(),
    dir,
    dropIn: existsSync(dropIn) ? readFileSync(dropIn, "utf8") : null,
    resolv,
  };
}

const STUB_LINK = "../run/systemd/resolve/stub-resolv.conf";
const LAN = "nameserver 192.0.2.53\n";

describe.skipIf(!canRun)("the packages' DNS drop-in (resolv-conf hosts)", () => {
  test("postinst and prerm carry install.sh's own functions: dns_mode and fz_dns_restore verbatim, write_dns_drop_in but for who wrote the drop-in", () => {
    expect(script("postinst")).toContain(shellFunction(INSTALL_SH, "dns_mode"));
    expect(script("prerm")).toContain(shellFunction(INSTALL_SH, "fz_dns_restore"));
    const writer = shellFunction(INSTALL_SH, "write_dns_drop_in");
    expect(writer).toContain("# Written by install.sh:");
    expect(script("postinst")).toContain(
      writer.replace("# Written by install.sh:", "# Written by the firezone-client package (postinst):"),
    );
    // The drop-in is in place before systemd reloads and (re)starts firezoned, on a live system only.
    const postinst = script("postinst");
    const call = postinst.indexOf(`\tif [ -z "\${DPKG_ROOT:-}" ]; then\n\t\twrite_dns_drop_in\n`);
    expect(call).toBeGreaterThan(0);
    expect(call).toBeLessThan(postinst.indexOf("systemctl --system daemon-reload"));
  });

  test("no systemd-resolved and a regular /etc/resolv.conf: the drop-in opens that one file (0644), and postinst says so", () => {
    const r = postinstDropIn({ resolv: { file: LAN }, resolveDir: false, resolvedRuns: false });
    expect(r.code).toBe(0);
    expect(r.dropIn).toBe(
      `# Written by the firezone-client package (postinst): dns_control is resolv-conf (firezoned rewrites it in place).\n[Service]\nReadWritePaths=-${r.resolv}\n`,
    );
    expect(statSync(join(r.dir, "dns-resolv-conf.conf")).mode & 0o777).toBe(0o644);
    expect(existsSync(join(r.dir, "dns-resolv-conf.conf.new"))).toBe(false);
  });

  test("resolved stopped (its directory left) with /etc/resolv.conf still linked to its stub: resolv-conf, and /etc is opened, since a link is replaced, not written through", () => {
    const r = postinstDropIn({ resolv: { link: STUB_LINK }, resolveDir: true, resolvedRuns: false });
    expect(r.code).toBe(0);
    expect(r.dropIn).toContain("\n[Service]\nReadWritePaths=/etc\n");
    expect(r.out).toContain("firezone-client: DNS control is resolv-conf and");
    expect(r.out).toContain("the unit may write to /etc");
  });

  test("no /etc/resolv.conf at all: /etc is opened (creating it writes to the directory)", () => {
    const r = postinstDropIn({ resolv: "missing", resolveDir: false, resolvedRuns: false });
    expect(r.dropIn).toContain("\nReadWritePaths=/etc\n");
  });

  test("systemd-resolved in use (linked to its stub, or naming 127.0.0.53): nothing is opened; a drop-in from before goes, with its empty directory", () => {
    for (const resolv of [{ link: STUB_LINK }, { file: "nameserver 127.0.0.53\noptions edns0\n" }]) {
      const r = postinstDropIn({
        resolv,
        resolveDir: true,
        resolvedRuns: true,
        before: { "dns-resolv-conf.conf": "[Service]\nReadWritePaths=/etc\n" },
      });
      expect(r.code).toBe(0);
      expect(r.dropIn).toBeNull();
      expect(existsSync(r.dir)).toBe(false);
    }
  });

  test("resolved runs but /etc/resolv.conf is a file of the host's own (not pointing at resolved): resolv-conf, that file alone", () => {
    const r = postinstDropIn({ resolv: { file: LAN }, resolveDir: true, resolvedRuns: true });
    expect(r.dropIn).toContain(`\nReadWritePaths=-${r.resolv}\n`);
  });

  test("dns_control in firezoned.conf wins over detection", () => {
    const inUse = { resolv: { link: STUB_LINK }, resolveDir: true, resolvedRuns: true };
    expect(postinstDropIn({ ...inUse, conf: "dns_control = resolv-conf\n" }).dropIn).toContain(
      "\nReadWritePaths=/etc\n",
    );
    const plain = { resolv: { file: LAN }, resolveDir: false, resolvedRuns: false };
    expect(postinstDropIn({ ...plain, conf: "dns_control = off\n" }).dropIn).toBeNull();
    expect(postinstDropIn({ ...plain, conf: "  dns_control=systemd-resolved \n" }).dropIn).toBeNull();
  });

  test("an administrator's own drop-in stays, and so does the directory", () => {
    const r = postinstDropIn({
      resolv: { link: STUB_LINK },
      resolveDir: true,
      resolvedRuns: true,
      before: { "dns-resolv-conf.conf": "[Service]\nReadWritePaths=/etc\n", "token.conf": "[Service]\n" },
    });
    expect(r.dropIn).toBeNull();
    expect(readFileSync(join(r.dir, "token.conf"), "utf8")).toBe("[Service]\n");
  });

  test("postrm remove and purge take the drop-in away and leave an administrator's own drop-ins", () => {
    for (const [action, own] of [
      ["remove", false],
      ["purge", false],
      ["remove", true],
    ] as const) {
      // DPKG_ROOT: the script works under a root of the test's own, as it would on an offline system.
      const root = join(work, `postrm-${++caseNo}`);
      const dir = join(root, "etc/systemd/system/firezoned.service.d");
      mkdirSync(dir, { recursive: true });
      writeFileSync(join(dir, "dns-resolv-conf.conf"), "[Service]\nReadWritePaths=-/etc/resolv.conf\n");
      if (own) writeFileSync(join(dir, "token.conf"), "[Service]\n");
      const r = Bun.spawnSync(["sh", join(control, "DEBIAN/postrm"), action], {
        env: { PATH: `${join(work, "bin")}:/usr/sbin:/usr/bin:/sbin:/bin`, DPKG_ROOT: root },
        stdout: "pipe",
        stderr: "pipe",
      });
      expect(`${action}: ${r.exitCode} ${r.stderr.toString()}`).toBe(`${action}: 0 `);
      expect(existsSync(join(dir, "dns-resolv-conf.conf"))).toBe(false);
      expect(existsSync(dir)).toBe(own);
    }
  });
});

/**
 * prerm `remove` after a firezoned that could not stop cleanly: its marker and backup in
 * /var/lib/firezoned/dns, /etc/resolv.conf still its file. In namespaces of its own (mount, network,
 * PID): /etc, /run and /var/lib are empty tmpfs, so nothing of this machine is read or changed, and
 * a firezoned running elsewhere on the machine is not seen. With `running`, a process named
 * firezoned (a copy of sleep) runs there, as one started by hand would.
 */
function prermAfterCrash(running: boolean): { code: number; out: string; err: string } {
  const fake = join(work, "firezoned");
  if (!existsSync(fake)) copyFileSync("/bin/sleep", fake);
  const setUp = [
    "set -e",
    "for d in /etc /run /var/lib; do mount -t tmpfs fz-test $d; done",
    "mkdir -p /var/lib/firezoned/dns",
    "printf 'nameserver 100.100.111.1\\n' >/etc/resolv.conf",
    "cp /etc/resolv.conf /var/lib/firezoned/dns/resolv.conf.ours",
    "printf '# the original\\nnameserver 192.0.2.53' >/var/lib/firezoned/dns/resolv.conf.backup",
    `if [ "$RUNNING" = yes ]; then "$2" 60 & fi`,
    'sh "$1" remove',
    'echo "resolv.conf: $(cat /etc/resolv.conf)"',
    'echo "state: $(ls /var/lib/firezoned/dns | tr "\\n" " ")"',
  ].join("\n");
  const ns = ["unshare", "--mount", "--net", "--pid", "--fork", "--mount-proc", "--propagation", "private"];
  const r = Bun.spawnSync([...ns, "sh", "-c", setUp, "sh", join(control, "DEBIAN/prerm"), fake], {
    env: { PATH: `${join(work, "bin")}:/usr/sbin:/usr/bin:/sbin:/bin`, RUNNING: running ? "yes" : "no" },
    stdout: "pipe",
    stderr: "pipe",
  });
  return { code: r.exitCode ?? -1, out: r.stdout.toString(), err: r.stderr.toString() };
}

describe.skipIf(!canRun)("prerm on removal, after a firezoned that could not stop cleanly", () => {
  test("puts back the /etc/resolv.conf it replaced, byte for byte, removes the state files and says so", () => {
    const r = prermAfterCrash(false);
    expect(r.err).toBe("");
    expect(r.code).toBe(0);
    expect(r.out).toContain("firezone-client: restored /etc/resolv.conf from firezoned's backup\n");
    expect(r.out).toContain("resolv.conf: # the original\nnameserver 192.0.2.53\n");
    expect(r.out).toContain("state: \n");
  });

  test("leaves the file to a firezoned started outside systemd, which restores it when it stops, and says so", () => {
    const r = prermAfterCrash(true);
    expect(r.code).toBe(0);
    expect(r.err).toContain("firezone-client: a firezoned outside systemd still runs");
    expect(r.out).toContain("resolv.conf: nameserver 100.100.111.1\n");
    expect(r.out).toContain("state: resolv.conf.backup resolv.conf.ours \n");
  });
});

describe("maintainerScript", () => {
  test("a script asking for a function install.sh does not have fails the build, naming it", () => {
    const template = join(work, "postinst.in");
    writeFileSync(template, "#!/bin/sh\n# INSTALL_SH_FUNCTIONS: dns_mode no_such_function\n");
    expect(() => maintainerScript(template, join(ROOT, "install.sh"))).toThrow(
      "install.sh has no function no_such_function(); update scripts/deb/maintainer_scripts.ts",
    );
  });
});
