// Inside the VM: the installed firezoned, as systemd runs it with the unit's full sandbox, signs in
// with a service-account token to the devstack portal and carries traffic to a resource through a
// devstack gateway. The unit joins the devstack client namespace (NetworkNamespacePath= drop-in) so
// the test world stays apart from the VM's own network. Prints "ok"/"FAIL" lines; exit 0 when all pass.
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { Store } from "../../../devstack/portal/store.ts";
import { DevWorld, SECOND_RESOURCE_ADDRESS } from "../../../devstack/world.ts";

const CTL = "/usr/local/bin/firezonectl";
// "kernel" (default) or "userspace": which WireGuard backend the daemon must have chosen.
const BACKEND = process.env.FZ_E2E_BACKEND === "userspace" ? "userspace" : "kernel";
// "file" (default): /etc/firezoned/token. "credential": the token encrypted with `systemd-creds`
// (host key: the VM has no TPM) and given to the unit by LoadCredentialEncrypted=.
const TOKEN_SOURCE = process.env.FZ_E2E_TOKEN === "credential" ? "credential" : "file";
const DROP_IN_DIR = "/etc/systemd/system/firezoned.service.d";
const TOKEN_FILE = "/etc/firezoned/token";
const CRED_FILE = "/etc/firezoned/token.cred";
let failures = 0;

function check(what: string, ok: boolean, detail = ""): void {
  console.log(`${ok ? "ok  " : "FAIL"} ${what}${detail && !ok ? `: ${detail}` : ""}`);
  if (!ok) failures++;
}

function sh(cmd: string[]): { code: number; out: string } {
  const r = Bun.spawnSync(cmd, { stdout: "pipe", stderr: "pipe" });
  return { code: r.exitCode ?? -1, out: r.stdout.toString() + r.stderr.toString() };
}

async function waitForConnected(timeoutMs: number): Promise<{ state: string; lastError?: string }> {
  const until = Date.now() + timeoutMs;
  let st: { state: string; lastError?: string } = { state: "unknown" };
  while (Date.now() < until) {
    const r = sh([CTL, "status", "--json"]);
    if (r.code === 0) {
      st = JSON.parse(r.out);
      if (st.state === "connected") return st;
    }
    await Bun.sleep(250);
  }
  return st;
}

const dev = await DevWorld.create("fzvm");
try {
  const { world, db } = dev;
  const store = new Store(db);
  const account = store.createAccount("vm", "VM test");
  const bot = store.createActor(account.id, "vm-bot", { type: "service_account" });
  const site = store.createSite(account.id, "hq");
  const web = store.createResource(account.id, site.id, {
    name: "web",
    type: "ip",
    address: world.resourceAddress,
  });
  store.createResource(account.id, site.id, { name: "secret", type: "ip", address: SECOND_RESOURCE_ADDRESS });
  store.createPolicy(account.id, store.group(account.id, "everyone")!, web.id);
  const serviceToken = store.createClientToken(bot.id, { expiresInMs: 3_600_000 }).token;
  const gatewayToken = store.createGatewayToken(site.id).token;
  store.close();
  // Room for a slow emulated guest: a first start compiles the sources from the 9p share and has
  // taken more than the default 10 s under load.
  await dev.startPortal(180_000);
  await dev.startResource(undefined, 180_000);
  await dev.startGateway(gatewayToken, "fzgw-vm", 180_000);

  let credentialLine = "";
  if (TOKEN_SOURCE === "credential") {
    const enc = Bun.spawnSync(
      ["systemd-creds", "encrypt", "--with-key=host", "--name=firezone-token", "-", CRED_FILE],
      { stdin: Buffer.from(`${serviceToken}\n`), stdout: "pipe", stderr: "pipe" },
    );
    check("systemd-creds encrypts the token with the host key", enc.exitCode === 0, enc.stderr.toString());
    const atRest = sh(["cat", CRED_FILE]).out;
    check(
      "the encrypted credential on disk holds no plaintext token",
      atRest.length > 0 && !atRest.includes(serviceToken) && !atRest.includes(serviceToken.slice(0, 16)),
    );
    rmSync(TOKEN_FILE, { force: true });
    credentialLine = `LoadCredentialEncrypted=firezone-token:${CRED_FILE}\n`;
  } else {
    writeFileSync(TOKEN_FILE, `${serviceToken}\n`, { mode: 0o600 });
  }
  mkdirSync(DROP_IN_DIR, { recursive: true });
  writeFileSync(
    `${DROP_IN_DIR}/vm-e2e.conf`,
    `[Service]\nNetworkNamespacePath=/run/netns/${world.client}\nEnvironment=FIREZONE_API_URL=ws://${world.portalFromClient}:8080\nEnvironment=FIREZONE_ALLOW_INSECURE_PORTAL=1\n${credentialLine}`,
  );
  sh(["systemctl", "daemon-reload"]);
  const restart = sh(["systemctl", "restart", "firezoned"]);
  check("firezoned restarts inside the client namespace", restart.code === 0, restart.out);

  const st = await waitForConnected(60_000);
  check(
    TOKEN_SOURCE === "credential"
      ? "firezoned signs in with the service token from the encrypted credential firezone-token"
      : "firezoned signs in with the service token from /etc/firezoned/token",
    st.state === "connected",
    JSON.stringify(st),
  );
  if (TOKEN_SOURCE === "credential") {
    const journal = sh(["journalctl", "-u", "firezoned", "--no-pager", "-n", "50"]).out;
    check(
      "firezoned says it took the token from the credential",
      journal.includes('token="credential"') || journal.includes("token=credential"),
      journal
        .split("\n")
        .filter((l) => l.includes("listening"))
        .join(" | "),
    );
  }
  const link = sh(["ip", "-n", world.client, "-d", "-j", "link", "show", "tun-firezone"]);
  const kind = link.code === 0 ? JSON.parse(link.out)[0]?.linkinfo?.info_kind : null;
  const wantKind = BACKEND === "kernel" ? "wireguard" : "tun";
  check(
    `it creates tun-firezone (${BACKEND} WireGuard) under the unit's sandbox`,
    kind === wantKind,
    link.out,
  );
  if (BACKEND === "userspace") {
    const pid = sh(["systemctl", "show", "-p", "MainPID", "--value", "firezoned"]).out.trim();
    const children = sh(["ps", "-o", "comm=", "--ppid", pid]).out;
    check(
      "firezoned runs wireguard-go as its child, inside the unit",
      children.includes("wireguard-go"),
      children,
    );
  }

  // Policy routing under the sandbox: the socket's mark (genetlink or UAPI) and one rule per family.
  const fwmark = sh(["ip", "netns", "exec", world.client, "wg", "show", "tun-firezone", "fwmark"]).out.trim();
  check("the WireGuard socket carries the client's mark 0xfd002021", fwmark === "0xfd002021", fwmark);
  const rules = () =>
    ["-4", "-6"].map((f) =>
      sh(["ip", "-n", world.client, f, "rule", "show", "table", "0x2021fd00"]).out.trim(),
    );
  const ruleText = rules();
  check(
    "IPv4 and IPv6 rules send unmarked traffic to table 0x2021fd00",
    ruleText.every((r) => r.includes("6410:") && r.includes("not from all fwmark 0xfd002021")),
    ruleText.join(" | "),
  );

  let body: string | null = null;
  const until = Date.now() + 30_000;
  while (body === null && Date.now() < until) body = await dev.fetchFromClient(world.resourceAddress, 3000);
  check("an HTTP resource answers through the tunnel", body !== null && body.length > 0, String(body));
  const secret = await dev.fetchFromClient(SECOND_RESOURCE_ADDRESS, 2000);
  check("a resource without a policy stays unreachable", secret === null, String(secret));

  const stop = sh(["systemctl", "stop", "firezoned"]);
  const left = sh(["ip", "-n", world.client, "link", "show", "tun-firezone"]);
  check("systemctl stop removes tun-firezone", stop.code === 0 && left.code !== 0, left.out);
  check(
    "systemctl stop removes the rules",
    rules().every((r) => r === ""),
    rules().join(" | "),
  );
  const journal = sh(["journalctl", "-u", "firezoned", "--no-pager"]);
  check("the token never appears in the journal", !journal.out.includes(serviceToken));
} catch (err) {
  check("the end-to-end run completed", false, (err as Error).stack ?? String(err));
} finally {
  rmSync(`${DROP_IN_DIR}/vm-e2e.conf`, { force: true });
  rmSync(TOKEN_FILE, { force: true });
  rmSync(CRED_FILE, { force: true });
  sh(["systemctl", "daemon-reload"]);
  await dev.destroy();
  sh(["systemctl", "start", "firezoned"]);
}
console.log(failures === 0 ? "e2e: all checks passed" : `e2e: ${failures} check(s) failed`);
process.exit(failures === 0 ? 0 : 1);
