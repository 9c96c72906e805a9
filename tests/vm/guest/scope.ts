// Inside the VM: a session's scope under the shipped unit and its sandbox (ProtectKernelModules=yes,
// only CAP_NET_ADMIN and CAP_NET_BIND_SERVICE, the system call filter, a read-only /usr). alice (group
// firezone) signs in with `firezonectl sign-in` as a desktop user would, to the devstack portal,
// through kernel WireGuard; the kernel then lets only alice's and root's programs into the tunnel.
// nf_tables is unloaded first, so the sandboxed daemon's nft has to get it loaded itself. The unit
// joins the devstack client namespace (NetworkNamespacePath= drop-in), where the table lives.
// Prints "ok"/"FAIL" lines; exit 0 when all pass (docs/security.md, "Session scope").
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { Store } from "../../../devstack/portal/store.ts";
import { DevWorld } from "../../../devstack/world.ts";

const CTL = "/usr/local/bin/firezonectl";
const DROP_IN_DIR = "/etc/systemd/system/firezoned.service.d";
const DROP_IN = `${DROP_IN_DIR}/vm-scope.conf`;
const OWNER = "alice";
const OTHER = "bob";
let failures = 0;

function check(what: string, ok: boolean, detail = ""): void {
  console.log(`${ok ? "ok  " : "FAIL"} ${what}${detail && !ok ? `: ${detail}` : ""}`);
  if (!ok) failures++;
}

function sh(cmd: string[], stdin?: string): { code: number; out: string; err: string } {
  const r = Bun.spawnSync(cmd, {
    stdout: "pipe",
    stderr: "pipe",
    ...(stdin === undefined ? {} : { stdin: Buffer.from(stdin) }),
  });
  return { code: r.exitCode ?? -1, out: r.stdout.toString(), err: r.stderr.toString() };
}

/** firezonectl as a desktop user's login shell runs it (groups from the group database). */
const ctlAs = (user: string, args: string, stdin?: string) =>
  sh(["runuser", "-l", user, "-c", `${CTL} ${args}`], stdin);

const mainPid = () => sh(["systemctl", "show", "-p", "MainPID", "--value", "firezoned"]).out.trim();
const journal = () => sh(["journalctl", "-u", "firezoned", "--no-pager", "-n", "40"]).out;

/** Loaded kernel modules (the guest kernel builds nf_tables as a module). */
const loaded = (name: string) => existsSync(`/sys/module/${name}`);

/**
 * Unloads nf_tables and the nft modules that use it (a gateway of an earlier check loaded them), so
 * the sandboxed daemon has to get them loaded. Modules still in use stay; the caller checks.
 */
function unloadNfTables(): void {
  for (let pass = 0; pass < 6; pass++) {
    const unused = readFileSync("/proc/modules", "utf8")
      .split("\n")
      .map((l) => l.split(" "))
      .filter(([name, , refs]) => name && /^(nft_|nf_tables$|nf_reject_)/.test(name) && refs === "0")
      .map(([name]) => name as string);
    if (unused.length === 0) return;
    for (const name of unused) sh(["rmmod", name]);
  }
}

/** The daemon's table in the client namespace, from `nft -j list ruleset`, or null. */
function firezoneTable(ns: string): { rules: unknown[] } | null {
  const r = sh(["ip", "netns", "exec", ns, "nft", "-j", "list", "ruleset"]);
  if (r.code !== 0) throw new Error(`nft -j list ruleset: ${r.err}`);
  const items = (JSON.parse(r.out) as { nftables: Record<string, Record<string, unknown>>[] }).nftables;
  const mine = (o: Record<string, unknown> | undefined) =>
    o?.family === "inet" && (o.table ?? o.name) === "firezone";
  if (!items.some((i) => i.table && mine(i.table))) return null;
  return { rules: items.filter((i) => i.rule && mine(i.rule)).map((i) => i.rule) };
}

/** True when a rule of the table refuses every socket uid but root's and `uid` (meta skuid != {0, uid}). */
function refusesAllBut(table: { rules: unknown[] }, uid: number): boolean {
  return table.rules.some((rule) =>
    ((rule as { expr?: unknown[] }).expr ?? []).some((e) => {
      const m = (e as { match?: { op: string; left: unknown; right: unknown } }).match;
      const key = (m?.left as { meta?: { key?: string } } | undefined)?.meta?.key;
      const set = (m?.right as { set?: unknown[] } | undefined)?.set ?? [];
      return m?.op === "!=" && key === "skuid" && set.includes(0) && set.includes(uid) && set.length === 2;
    }),
  );
}

/** curl as `user` (null: root) in the client namespace. Exit 7: refused at once; 28: a timeout. */
function curlAs(ns: string, user: string | null, address: string): { code: number; out: string } {
  const who = user ? ["runuser", "-u", user, "--"] : [];
  const r = sh(["ip", "netns", "exec", ns, ...who, "curl", "-s", "--max-time", "8", `http://${address}/`]);
  return { code: r.code, out: r.out };
}

async function until<T>(what: () => T | null, timeoutMs: number): Promise<T | null> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = what();
    if (v !== null || Date.now() > end) return v;
    await Bun.sleep(250);
  }
}

type Status = { state: string; scope?: string; owner?: { user?: string; uid?: number }; lastError?: string };
const status = (): Status => JSON.parse(sh([CTL, "status", "--json"]).out || '{"state":"unknown"}');

const since = `@${Math.floor(Date.now() / 1000)}`;
const dev = await DevWorld.create("fzsc");
const ownerUid = Number(sh(["id", "-u", OWNER]).out.trim());
const bobWasMember = sh(["id", "-nG", OTHER]).out.split(/\s+/).includes("firezone");
try {
  const { world, db } = dev;
  // bob as another member of group firezone: his refusals come from the session's owner, not from
  // the socket's group.
  if (!bobWasMember) sh(["gpasswd", "-a", OTHER, "firezone"]);
  const store = new Store(db);
  const account = store.createAccount("vm", "VM test");
  const alice = store.createActor(account.id, "alice", { password: "alice-password" });
  const site = store.createSite(account.id, "hq");
  const web = store.createResource(account.id, site.id, {
    name: "web",
    type: "ip",
    address: world.resourceAddress,
  });
  store.createPolicy(account.id, store.group(account.id, "everyone")!, web.id);
  const gatewayToken = store.createGatewayToken(site.id).token;
  store.close();
  const signInToken = () => {
    const s = new Store(db);
    try {
      return s.createClientToken(alice.id, { expiresInMs: 3_600_000 }).token;
    } finally {
      s.close();
    }
  };
  // Room for a slow emulated guest: a first start compiles the sources from the 9p share.
  await dev.startPortal(180_000);
  await dev.startResource(undefined, 180_000);

  // Kernel WireGuard, as the other end-to-end check has it; this check is about nftables.
  sh(["modprobe", "wireguard"]);
  sh(["systemctl", "stop", "firezoned"]);
  unloadNfTables();
  check("nf_tables is not loaded before firezoned starts", !loaded("nf_tables"), sh(["lsmod"]).out);

  mkdirSync(DROP_IN_DIR, { recursive: true });
  writeFileSync(
    DROP_IN,
    `[Service]\nNetworkNamespacePath=/run/netns/${world.client}\nEnvironment=FIREZONE_API_URL=ws://${world.portalFromClient}:8080\nEnvironment=FIREZONE_ALLOW_INSECURE_PORTAL=1\n`,
  );
  sh(["systemctl", "daemon-reload"]);
  const start = sh(["systemctl", "start", "firezoned"]);
  check("firezoned starts inside the client namespace", start.code === 0, start.err);

  // 1. alice signs in, interactively: scope user, her session.
  const signIn = ctlAs(OWNER, "sign-in --token-stdin --json", `${signInToken()}\n`);
  check("alice's firezonectl sign-in --token-stdin succeeds", signIn.code === 0, signIn.out + signIn.err);
  const device = await until(() => {
    const link = sh(["ip", "-n", world.client, "-d", "-j", "link", "show", "tun-firezone"]);
    if (link.code === 0) return JSON.parse(link.out)[0]?.linkinfo?.info_kind ?? "?";
    return status().lastError ? "none" : null;
  }, 60_000);
  const st = status();
  check(
    "the tunnel comes up under the sandbox with kernel WireGuard (no nft refusal)",
    device === "wireguard" && !st.lastError,
    `device ${device}, status ${JSON.stringify(st)}\n${journal()}`,
  );
  check(
    "the sandboxed daemon's nft got nf_tables and the reject expressions loaded",
    loaded("nf_tables") && loaded("nft_reject_inet"),
    sh(["lsmod"]).out,
  );
  const table = firezoneTable(world.client);
  check("nft -j list ruleset shows table inet firezone", table !== null);
  check(
    `table inet firezone refuses every socket uid but root's and alice's (${ownerUid})`,
    table !== null && refusesAllBut(table, ownerUid),
    JSON.stringify(table),
  );
  const json = ctlAs(OTHER, "status --json");
  const seen = JSON.parse(json.out || "{}") as Status;
  check(
    "firezonectl status --json (as bob) names alice as the owner and scope user",
    seen.owner?.user === OWNER && seen.owner?.uid === ownerUid && seen.scope === "user",
    json.out + json.err,
  );
  const human = ctlAs(OWNER, "status").out;
  check(
    "firezonectl status says only alice's programs and root's may use the tunnel",
    human.includes(`Owner:      ${OWNER} (uid`) &&
      human.includes(`only ${OWNER}'s programs and root's may use the tunnel`),
    human,
  );

  // 2. Traffic: the gateway joins now (it loads nf_tables modules of its own, none of the daemon's).
  await dev.startGateway(gatewayToken, "fzgw-sc", 180_000);
  const reached = await until(() => {
    const r = curlAs(world.client, OWNER, world.resourceAddress);
    return r.code === 0 ? r.out : null;
  }, 60_000);
  check(
    "alice's curl reaches the resource through the tunnel",
    reached !== null && reached.length > 0,
    String(reached),
  );
  const bob = curlAs(world.client, OTHER, world.resourceAddress);
  check(
    "bob's curl is refused at once: connection refused (exit 7), not a timeout (28)",
    bob.code === 7,
    `exit ${bob.code}`,
  );
  const root = curlAs(world.client, null, world.resourceAddress);
  check("root's curl reaches the resource", root.code === 0 && root.out.length > 0, `exit ${root.code}`);

  // 3. Who may end the session.
  const bobOut = ctlAs(OTHER, "sign-out");
  check(
    "bob's sign-out is refused with exit 77, naming alice and root as who may",
    bobOut.code === 77 && bobOut.err.includes(`is for ${OWNER} (uid`) && bobOut.err.includes("or root"),
    `exit ${bobOut.code}: ${bobOut.err}`,
  );
  check(
    "alice's session stays after bob's attempt",
    status().state === "connected",
    JSON.stringify(status()),
  );
  const aliceOut = ctlAs(OWNER, "sign-out");
  check("alice signs out", aliceOut.code === 0, aliceOut.err);
  check("sign-out removes table inet firezone", firezoneTable(world.client) === null);
  check(
    "sign-out removes tun-firezone",
    sh(["ip", "-n", world.client, "link", "show", "tun-firezone"]).code !== 0,
  );

  // 4. Crash: kill -9 with the rules in place; systemd restarts firezoned, which removes them.
  const again = ctlAs(OWNER, "sign-in --token-stdin", `${signInToken()}\n`);
  const inPlace = await until(() => (firezoneTable(world.client) ? true : null), 60_000);
  check("alice signs in again: the table is back", again.code === 0 && inPlace === true, again.err);
  const old = mainPid();
  sh(["kill", "-9", old]);
  const restarted = await until(() => {
    const pid = mainPid();
    const active = sh(["systemctl", "is-active", "firezoned"]).out.trim() === "active";
    return pid !== old && pid !== "0" && active && existsSync("/run/firezoned/ipc.sock") ? pid : null;
  }, 30_000);
  check("after kill -9 systemd restarts firezoned", restarted !== null, journal());
  const after = await until(() => (status().state !== "unknown" ? status() : null), 15_000);
  check("the restarted firezoned is signed out", after?.state === "signed_out", JSON.stringify(after));
  check(
    "the restarted firezoned removed table inet firezone (crash cleanup)",
    firezoneTable(world.client) === null,
  );
  const left: string[] = [];
  if (sh(["ip", "-n", world.client, "link", "show", "tun-firezone"]).code === 0) left.push("tun-firezone");
  for (const family of ["-4", "-6"]) {
    const rules = sh(["ip", "-n", world.client, family, "rule", "show", "table", "0x2021fd00"]).out.trim();
    if (rules) left.push(`ip ${family} rule: ${rules}`);
  }
  check("nothing else is left behind: no device, no policy rule", left.length === 0, left.join("; "));
  const log = sh(["journalctl", "-u", "firezoned", "--no-pager", "--since", since]).out;
  check(
    "firezoned's journal has no nft refusal during this check",
    !log.includes("nft refused"),
    log
      .split("\n")
      .filter((l) => l.includes("nft"))
      .join("\n"),
  );
} catch (err) {
  check("the scope run completed", false, (err as Error).stack ?? String(err));
} finally {
  // Stop before the namespaces go, so the daemon signs out while the portal still runs.
  sh(["systemctl", "stop", "firezoned"]);
  rmSync(DROP_IN, { force: true });
  sh(["systemctl", "daemon-reload"]);
  if (!bobWasMember) sh(["gpasswd", "-d", OTHER, "firezone"]);
  await dev.destroy();
  sh(["systemctl", "start", "firezoned"]);
}
console.log(failures === 0 ? "scope: all checks passed" : `scope: ${failures} check(s) failed`);
process.exit(failures === 0 ? 0 : 1);
