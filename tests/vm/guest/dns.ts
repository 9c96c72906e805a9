// Inside the VM: DNS resources under the unit's full sandbox, against the resolvers Linux users run.
// argv[2] is the mode: "resolved" (systemd-resolved, /etc/resolv.conf linked to its stub) or
// "resolv-conf" (resolved off, a regular /etc/resolv.conf, then one that is a symlink elsewhere).
// The installed firezoned joins the devstack client namespace (NetworkNamespacePath=, as in e2e.ts),
// signs in with a service token and gets a `dns` resource app.corp.example. A dnsmasq on the hub is
// the machine's own resolver (it knows web.upstream.example, and nothing of corp.example); a
// dnsmasq on the resource network is the gateway's (it knows app.corp.example's real address).
// In "resolved" mode systemd-resolved itself is moved into the client namespace (a drop-in with
// NetworkNamespacePath=), since it must see the tunnel's link; the machine's own resolver is the
// DNS server of that namespace's LAN link. Prints "ok"/"FAIL" lines; exit 0 when all pass.
import {
  existsSync,
  lstatSync,
  mkdirSync,
  readFileSync,
  readlinkSync,
  renameSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { Store } from "../../../devstack/portal/store.ts";
import { DevWorld } from "../../../devstack/world.ts";
import { type Dnsmasq, startDnsmasq } from "../../_support/dnsmasq.ts";

const MODE = process.argv[2] === "resolved" ? "resolved" : "resolv-conf";
const CTL = "/usr/local/bin/firezonectl";
const INSTALL = ["sh", "/mnt/fz/install.sh", "--from-dir", "/mnt/fz/dist"];
const DROP_IN_DIR = "/etc/systemd/system/firezoned.service.d";
const DNS_DROP_IN = `${DROP_IN_DIR}/dns-resolv-conf.conf`;
const RESOLVED_DROP_IN_DIR = "/etc/systemd/system/systemd-resolved.service.d";
const TOKEN_FILE = "/etc/firezoned/token";
const STATE = "/var/lib/firezoned/dns";
const RESOLV_CONF = "/etc/resolv.conf";
const RESOLVED_STUB_LINK = "../run/systemd/resolve/stub-resolv.conf";
const HUB_DNS = "10.77.1.1";
const UPSTREAM_NAME = "web.upstream.example";
const UPSTREAM_ADDRESS = "192.0.2.80";
/** IPv4 proxy addresses: 100.96.0.0/11. */
const PROXY_V4 = /\b100\.(9[6-9]|1[01]\d|12[0-7])\.\d{1,3}\.\d{1,3}\b/;
// Odd bytes on purpose (comment, tab, no trailing newline): a restore must keep them all.
const ORIGINAL = `# the machine's resolver (VM test)\nnameserver ${HUB_DNS}\noptions\ttimeout:2 attempts:2`;
let failures = 0;

function check(what: string, ok: boolean, detail = ""): void {
  console.log(`${ok ? "ok  " : "FAIL"} ${what}${detail && !ok ? `: ${detail.slice(0, 600)}` : ""}`);
  if (!ok) failures++;
}

function sh(cmd: string[]): { code: number; out: string } {
  const r = Bun.spawnSync(cmd, { stdout: "pipe", stderr: "pipe" });
  return { code: r.exitCode ?? -1, out: r.stdout.toString() + r.stderr.toString() };
}

async function waitFor(what: () => boolean, timeoutMs: number): Promise<boolean> {
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    if (what()) return true;
    await Bun.sleep(250);
  }
  return what();
}

function status(): Record<string, unknown> {
  const r = sh([CTL, "status", "--json"]);
  try {
    return r.code === 0 ? (JSON.parse(r.out) as Record<string, unknown>) : { state: "unknown" };
  } catch {
    return { state: "unknown" };
  }
}

const mainPid = () => sh(["systemctl", "show", "-p", "MainPID", "--value", "firezoned"]).out.trim();

/** kill -9 of firezoned; resolves once systemd has started a new one and it answers status. */
async function kill9AndWaitForRestart(): Promise<boolean> {
  const old = mainPid();
  sh(["kill", "-9", old]);
  return waitFor(() => {
    const pid = mainPid();
    return pid !== old && pid !== "0" && sh(["systemctl", "is-active", "--quiet", "firezoned"]).code === 0;
  }, 60_000);
}

function resolvConfBytes(): string {
  return readFileSync(RESOLV_CONF, "latin1");
}

const dev = await DevWorld.create("fzdns");
const w = dev.world;
const inClient = (cmd: string[]) => sh(["ip", "netns", "exec", w.client, ...cmd]);
const getent = (name: string) => inClient(["getent", "ahosts", name]);

const dnsmasqs: Dnsmasq[] = [];

/** Name resolution as applications see it, through the system's resolver in the client namespace. */
function checkNames(how: string): void {
  const app = getent("app.corp.example");
  check(
    `${how}: getent ahosts app.corp.example gives a proxy address (100.96.0.0/11)`,
    PROXY_V4.test(app.out),
    app.out,
  );
  check(
    `${how}: the resource's real address never reaches the client`,
    !app.out.includes(w.resourceAddress),
    app.out,
  );
  const other = getent(UPSTREAM_NAME);
  check(
    `${how}: getent ahosts ${UPSTREAM_NAME} gives its real address`,
    other.out.includes(UPSTREAM_ADDRESS),
    other.out,
  );
  const curl = inClient([
    "curl",
    "-s",
    "--max-time",
    "10",
    "-o",
    "/dev/null",
    "-w",
    "%{http_code} %{remote_ip}",
    "http://app.corp.example/",
  ]);
  check(
    `${how}: curl http://app.corp.example/ reaches the resource through the gateway, by its proxy address`,
    curl.code === 0 && /^[1-5]\d\d (100\.|fd00:2021:1111:8000:)/.test(curl.out),
    curl.out,
  );
}

async function startSignedIn(what: string): Promise<boolean> {
  const r = sh(["systemctl", "restart", "firezoned"]);
  // Connected, and DNS up with the system's resolver pointed at the stub (dnsServers is set then).
  const ready = () => {
    const st = status();
    return st.state === "connected" && Array.isArray(st.dnsServers) && st.dnsServers.length > 0;
  };
  const ok = r.code === 0 && (await waitFor(ready, 120_000));
  check(
    `${what}: firezoned signs in and points the system's resolver at the stub`,
    ok,
    `${r.out} ${JSON.stringify(status())}`,
  );
  return ok;
}

try {
  const store = new Store(dev.db);
  const account = store.createAccount("vmdns", "VM DNS test");
  const bot = store.createActor(account.id, "vm-dns-bot", { type: "service_account" });
  const site = store.createSite(account.id, "hq");
  const app = store.createResource(account.id, site.id, {
    name: "app",
    type: "dns",
    address: "app.corp.example",
  });
  store.createPolicy(account.id, store.group(account.id, "everyone")!, app.id);
  const serviceToken = store.createClientToken(bot.id, { expiresInMs: 3_600_000 }).token;
  const gatewayToken = store.createGatewayToken(site.id).token;
  store.close();
  // The gateway resolves resource names through the resource network's DNS.
  for (const [ns, listen, lines] of [
    [w.resource, w.resourceAddress, [`address=/app.corp.example/${w.resourceAddress}`]],
    [w.hub, HUB_DNS, [`address=/${UPSTREAM_NAME}/${UPSTREAM_ADDRESS}`, "local=/corp.example/"]],
  ] as const)
    dnsmasqs.push(await startDnsmasq({ ns, listen: [listen], lines: [...lines], dir: dev.tmp }));
  mkdirSync(`/etc/netns/${w.gateway}`, { recursive: true });
  writeFileSync(`/etc/netns/${w.gateway}/resolv.conf`, `nameserver ${w.resourceAddress}\n`);
  // Room for a slow emulated guest: a first start compiles the sources from the 9p share and has
  // taken more than the default 10 s under load.
  await dev.startPortal(180_000);
  await dev.startResource(undefined, 180_000);
  await dev.startGateway(gatewayToken, "fzgw-dns", 180_000);

  writeFileSync(TOKEN_FILE, `${serviceToken}\n`, { mode: 0o600 });
  mkdirSync(DROP_IN_DIR, { recursive: true });
  writeFileSync(
    `${DROP_IN_DIR}/vm-dns.conf`,
    `[Service]\nNetworkNamespacePath=/run/netns/${w.client}\nEnvironment=FIREZONE_API_URL=ws://${w.portalFromClient}:8080\nEnvironment=FIREZONE_ALLOW_INSECURE_PORTAL=1\n`,
  );

  if (MODE === "resolved") {
    // systemd-resolved in use, as Debian sets it up; moved into the client namespace.
    rmSync(RESOLV_CONF, { force: true });
    sh(["ln", "-s", RESOLVED_STUB_LINK, RESOLV_CONF]);
    mkdirSync(RESOLVED_DROP_IN_DIR, { recursive: true });
    writeFileSync(
      `${RESOLVED_DROP_IN_DIR}/vm-dns.conf`,
      `[Service]\nNetworkNamespacePath=/run/netns/${w.client}\n`,
    );
    sh(["systemctl", "daemon-reload"]);
    const rs = sh(["systemctl", "restart", "systemd-resolved"]);
    check("systemd-resolved runs in the client namespace", rs.code === 0, rs.out);
    const lan = inClient(["resolvectl", "dns", "to-hub", HUB_DNS]);
    check("the client namespace's LAN link gets the machine's resolver", lan.code === 0, lan.out);
    const inst = sh(INSTALL);
    check(
      "install.sh with systemd-resolved in use opens nothing for DNS (no resolv-conf drop-in)",
      inst.code === 0 && !existsSync(DNS_DROP_IN),
      inst.out,
    );
    const before = inClient(["resolvectl", "query", "--cache=no", UPSTREAM_NAME]);
    check(
      `before sign-in, resolvectl query ${UPSTREAM_NAME} works through the LAN`,
      before.out.includes(UPSTREAM_ADDRESS),
      before.out,
    );
    if (await startSignedIn("systemd-resolved")) {
      const st = status();
      check(
        "firezonectl status: DNS mode systemd-resolved (detected), the stub as server, the LAN's server upstream",
        st.dnsMode === "systemd-resolved" &&
          JSON.stringify(st.dnsServers).includes("100.100.111.1") &&
          JSON.stringify(st.dnsUpstreams) === JSON.stringify([HUB_DNS]),
        JSON.stringify(st),
      );
      const link = inClient(["resolvectl", "status", "tun-firezone"]);
      check(
        "resolved's tun-firezone link: the stub's addresses, the routing domain ~. and the default route",
        link.out.includes("100.100.111.1") &&
          link.out.includes("~.") &&
          /\+DefaultRoute|Default Route: yes/.test(link.out),
        link.out,
      );
      const q = inClient(["resolvectl", "query", "--cache=no", "app.corp.example"]);
      check("resolvectl query app.corp.example gives a proxy address", PROXY_V4.test(q.out), q.out);
      const o = inClient(["resolvectl", "query", "--cache=no", UPSTREAM_NAME]);
      check(
        `resolvectl query ${UPSTREAM_NAME} gives its real address`,
        o.out.includes(UPSTREAM_ADDRESS),
        o.out,
      );
      checkNames("systemd-resolved");

      // A crash: the restarted daemon (no token now, so it stays signed out) must leave nothing.
      rmSync(TOKEN_FILE, { force: true });
      check("kill -9 of firezoned: systemd restarts it", await kill9AndWaitForRestart());
      const links = inClient(["resolvectl", "dns"]);
      const domains = inClient(["resolvectl", "domain"]);
      check(
        "after kill -9 and the restart, resolved holds no link with the stub's address or ~.",
        !links.out.includes("100.100.111.1") && !domains.out.includes("~.") && links.code === 0,
        `${links.out} | ${domains.out}`,
      );
      const gone = inClient(["resolvectl", "query", "--cache=no", "app.corp.example"]);
      check("after the restart, app.corp.example gets no proxy address", !PROXY_V4.test(gone.out), gone.out);
      const still = inClient(["resolvectl", "query", "--cache=no", UPSTREAM_NAME]);
      check(
        `after the restart, ${UPSTREAM_NAME} still resolves through the LAN`,
        still.out.includes(UPSTREAM_ADDRESS),
        still.out,
      );
    }
  } else {
    // A machine without resolved: a regular /etc/resolv.conf naming the machine's resolver.
    sh(["systemctl", "disable", "--now", "systemd-resolved"]);
    rmSync(RESOLV_CONF, { force: true });
    writeFileSync(RESOLV_CONF, ORIGINAL, { mode: 0o644 });
    const inode = lstatSync(RESOLV_CONF).ino;
    const inst = sh(INSTALL);
    const dropIn = existsSync(DNS_DROP_IN) ? readFileSync(DNS_DROP_IN, "utf8") : "";
    check(
      "install.sh for resolv-conf mode opens /etc/resolv.conf alone to the unit (ReadWritePaths=-/etc/resolv.conf)",
      inst.code === 0 &&
        dropIn.includes("ReadWritePaths=-/etc/resolv.conf\n") &&
        !/ReadWritePaths=\/etc\n/.test(dropIn),
      `${inst.out} | ${dropIn}`,
    );
    const rw = sh(["systemctl", "show", "-p", "ReadWritePaths", "--value", "firezoned"]).out.trim();
    check("the unit opens nothing else for DNS", rw.replace(/^-/, "") === "/etc/resolv.conf", rw);
    const sec = sh(["systemd-analyze", "security", "firezoned"]).out;
    const exposure = /Overall exposure level for firezoned\.service: ([0-9.]+)/.exec(sec)?.[1] ?? "";
    check(
      `systemd-analyze security firezoned with the resolv-conf drop-in: exposure ${exposure || "?"}, 2.0 or lower`,
      exposure !== "" && Number(exposure) <= 2.0,
      sec.split("\n").slice(-3).join(" "),
    );
    if (await startSignedIn("resolv-conf")) {
      const text = resolvConfBytes();
      check(
        "/etc/resolv.conf names the stub (written in place under the sandbox: the same inode)",
        text.includes("nameserver 100.100.111.1\n") &&
          !text.includes(HUB_DNS) &&
          lstatSync(RESOLV_CONF).ino === inode,
        text,
      );
      const st = status();
      check(
        "firezonectl status: DNS mode resolv-conf (detected) and the machine's resolver upstream",
        st.dnsMode === "resolv-conf" && JSON.stringify(st.dnsUpstreams) === JSON.stringify([HUB_DNS]),
        JSON.stringify(st),
      );
      checkNames("resolv-conf");
      sh(["systemctl", "stop", "firezoned"]);
      check(
        "systemctl stop restores /etc/resolv.conf byte for byte",
        resolvConfBytes() === ORIGINAL,
        resolvConfBytes(),
      );

      // A DHCP lease renewal, dhclient's way: a new file renamed over ours. The kernel detaches the
      // sandbox's bind mount; firezoned restarts itself to follow (docs/dns.md), takes the new file
      // as the original and points it at the stub again.
      if (await startSignedIn("resolv-conf, before a DHCP renewal")) {
        const before = mainPid();
        const renewed = `# new lease\nnameserver ${HUB_DNS}\nsearch renewed.example\n`;
        writeFileSync(`${RESOLV_CONF}.dhclient-new`, renewed, { mode: 0o644 });
        renameSync(`${RESOLV_CONF}.dhclient-new`, RESOLV_CONF);
        const followed = await waitFor(() => {
          const text = resolvConfBytes();
          return (
            mainPid() !== before &&
            text.includes("nameserver 100.100.111.1\n") &&
            text.includes("renewed.example") &&
            status().state === "connected"
          );
        }, 120_000);
        check(
          "a resolv.conf renamed over firezoned's (dhclient's way): firezoned restarts under the sandbox to follow it, and it names the stub again with the new file's search domain",
          followed,
          `${resolvConfBytes()} ${JSON.stringify(status())}`,
        );
        checkNames("resolv-conf, after the DHCP client's rename");
        sh(["systemctl", "stop", "firezoned"]);
        check(
          "systemctl stop then restores the DHCP client's file byte for byte",
          resolvConfBytes() === renewed,
        );
        writeFileSync(RESOLV_CONF, ORIGINAL);
      }

      if (await startSignedIn("resolv-conf, again")) {
        rmSync(TOKEN_FILE, { force: true });
        check("kill -9 of firezoned: systemd restarts it", await kill9AndWaitForRestart());
        check(
          "the restarted firezoned (under the sandbox) restores /etc/resolv.conf byte for byte",
          (await waitFor(() => resolvConfBytes() === ORIGINAL, 10_000)) &&
            !existsSync(`${STATE}/resolv.conf.ours`),
          resolvConfBytes(),
        );
      }
      writeFileSync(TOKEN_FILE, `${serviceToken}\n`, { mode: 0o600 });
      // A daemon that cannot restore: killed, and not restarted. install.sh --uninstall must.
      writeFileSync(`${DROP_IN_DIR}/vm-dns-norestart.conf`, "[Service]\nRestart=no\n");
      sh(["systemctl", "daemon-reload"]);
      if (await startSignedIn("resolv-conf, for --uninstall")) {
        sh(["kill", "-9", mainPid()]);
        await waitFor(() => sh(["systemctl", "is-active", "--quiet", "firezoned"]).code !== 0, 20_000);
        check(
          "after kill -9 without a restart, /etc/resolv.conf is still firezoned's",
          resolvConfBytes().includes("100.100.111.1"),
        );
        const un = sh(["sh", "/mnt/fz/install.sh", "--uninstall"]);
        check(
          "install.sh --uninstall restores /etc/resolv.conf byte for byte from firezoned's backup",
          un.code === 0 && resolvConfBytes() === ORIGINAL && !existsSync(`${STATE}/resolv.conf.ours`),
          `${un.out} | ${resolvConfBytes()}`,
        );
        check("install.sh --uninstall says so", un.out.includes("restored /etc/resolv.conf"), un.out);
        check("install.sh --uninstall removes its DNS drop-in", !existsSync(DNS_DROP_IN));
      }
      rmSync(`${DROP_IN_DIR}/vm-dns-norestart.conf`, { force: true });

      // /etc/resolv.conf a symlink elsewhere (as resolvconf or NetworkManager make it).
      mkdirSync("/run/fz-vm-dns", { recursive: true });
      writeFileSync("/run/fz-vm-dns/resolv.conf", ORIGINAL);
      rmSync(RESOLV_CONF, { force: true });
      sh(["ln", "-s", "/run/fz-vm-dns/resolv.conf", RESOLV_CONF]);
      const inst2 = sh(INSTALL);
      const dropIn2 = existsSync(DNS_DROP_IN) ? readFileSync(DNS_DROP_IN, "utf8") : "";
      check(
        "install.sh for resolv-conf mode with a symlinked /etc/resolv.conf opens /etc (replacing a link writes the directory)",
        inst2.code === 0 && dropIn2.includes("ReadWritePaths=/etc\n"),
        `${inst2.out} | ${dropIn2}`,
      );
      if (await startSignedIn("resolv-conf with a symlink")) {
        const st = lstatSync(RESOLV_CONF);
        check(
          "the symlink is replaced by a file naming the stub (the link's target untouched)",
          st.isFile() &&
            resolvConfBytes().includes("nameserver 100.100.111.1") &&
            readFileSync("/run/fz-vm-dns/resolv.conf", "utf8") === ORIGINAL,
        );
        checkNames("resolv-conf, symlink");
        sh(["systemctl", "stop", "firezoned"]);
        const back = lstatSync(RESOLV_CONF).isSymbolicLink() ? readlinkSync(RESOLV_CONF) : "(not a link)";
        check("systemctl stop puts back the same symlink", back === "/run/fz-vm-dns/resolv.conf", back);
      }
    }
  }
  const journal = sh(["journalctl", "-u", "firezoned", "--no-pager"]);
  check("the token never appears in the journal", !journal.out.includes(serviceToken));
} catch (err) {
  check("the DNS run completed", false, (err as Error).stack ?? String(err));
} finally {
  // Back to the machine as it was: resolved in the root namespace and in use, firezoned installed.
  rmSync(`${DROP_IN_DIR}/vm-dns.conf`, { force: true });
  rmSync(`${DROP_IN_DIR}/vm-dns-norestart.conf`, { force: true });
  rmSync(RESOLVED_DROP_IN_DIR, { recursive: true, force: true });
  rmSync(TOKEN_FILE, { force: true });
  rmSync(`/etc/netns/${w.gateway}`, { recursive: true, force: true });
  sh(["systemctl", "stop", "firezoned"]);
  rmSync(RESOLV_CONF, { force: true });
  sh(["ln", "-s", RESOLVED_STUB_LINK, RESOLV_CONF]);
  sh(["systemctl", "daemon-reload"]);
  sh(["systemctl", "enable", "--now", "systemd-resolved"]);
  sh(["systemctl", "restart", "systemd-resolved"]);
  for (const d of dnsmasqs) await d.stop();
  await dev.destroy();
  const inst = sh(INSTALL);
  if (inst.code !== 0) console.log(`FAIL reinstalling afterwards: ${inst.out}`);
}
console.log(failures === 0 ? "dns: all checks passed" : `dns: ${failures} check(s) failed`);
process.exit(failures === 0 ? 0 : 1);
