// `bun run demo` (as root): the whole world in network namespaces — the devstack portal, a gateway,
// an HTTP resource — and firezoned signed in with a service-account token in a client namespace.
// Prints `firezonectl status`, fetches the resource through the tunnel, then stays up with
// instructions until Ctrl-C (or exits at once with --once or when stdin is not a terminal).
// Every namespace, process and temp file it made is removed on the way out.
import { existsSync, mkdirSync, mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Store } from "./portal/store.ts";
import { createWorld, destroyWorld, inNs, Lines, spawnInNs, type World } from "./shared/netns.ts";

const ROOT = join(import.meta.dir, "..");
const BUN = process.execPath;
const PREFIX = "fzdemo";
const TUN = "tun-fzdemo";
const once = process.argv.includes("--once") || !process.stdin.isTTY;
const verbose = process.argv.includes("--verbose");

const bold = (s: string) => (process.stdout.isTTY ? `\x1b[1m${s}\x1b[0m` : s);
const step = (s: string) => console.log(`${bold("==>")} ${s}`);

if (process.getuid?.() !== 0) {
  console.error(
    "The demo creates network namespaces and a tunnel device, so it needs root: sudo bun run demo",
  );
  process.exit(77);
}
for (const tool of ["ip", "nft", "wireguard-go"]) {
  if (!Bun.which(tool)) {
    console.error(
      `The demo needs '${tool}'. On Debian: sudo apt-get install iproute2 nftables wireguard-go wireguard-tools`,
    );
    process.exit(69);
  }
}

const procs: Array<{ name: string; proc: Bun.Subprocess }> = [];
let world: World | undefined;
let tmp: string | undefined;
let cleaning: Promise<void> | undefined;

function cleanup(): Promise<void> {
  cleaning ??= (async () => {
    // The daemon first, so it can take its tunnel down and sign out while the portal still runs.
    for (const { proc } of [...procs].reverse()) proc.kill("SIGTERM");
    await Promise.all(procs.map(({ proc }) => Promise.race([proc.exited, Bun.sleep(5000)])));
    for (const { proc } of procs) if (proc.exitCode === null) proc.kill("SIGKILL");
    if (world) await destroyWorld(world);
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  })();
  return cleaning;
}

async function exit(code: number): Promise<never> {
  await cleanup();
  process.exit(code);
}
process.on("SIGINT", () => {
  console.log("\nCleaning up ...");
  void exit(0);
});
process.on("SIGTERM", () => void exit(0));

function start(
  name: string,
  ns: string,
  cmd: string[],
  env: Record<string, string> = {},
): { proc: Bun.Subprocess; out: Lines } {
  const proc = spawnInNs(ns, cmd, { env });
  procs.push({ name, proc });
  const out = new Lines(proc.stdout as ReadableStream<Uint8Array>);
  new Lines(
    proc.stderr as ReadableStream<Uint8Array>,
    verbose ? (l) => console.error(`  [${name}] ${l}`) : undefined,
  );
  void proc.exited.then((code) => {
    if (!cleaning) console.error(`  ${name} exited (code ${code})`);
  });
  return { proc, out };
}

/** Builds dist/ when a binary is missing or older than the sources. */
async function ensureBuilt(): Promise<void> {
  const bins = ["dist/firezoned", "dist/firezonectl"].map((b) => join(ROOT, b));
  const newest = Math.max(
    ...["lib", "src"].flatMap((dir) =>
      [...new Bun.Glob("**/*.ts").scanSync({ cwd: join(ROOT, dir), absolute: true })].map(
        (f) => statSync(f).mtimeMs,
      ),
    ),
  );
  if (bins.every((b) => existsSync(b) && statSync(b).mtimeMs >= newest)) return;
  step("Building dist/firezoned and dist/firezonectl (bun run build)");
  const p = Bun.spawn([BUN, join(ROOT, "scripts/build.ts")], {
    cwd: ROOT,
    stdout: "inherit",
    stderr: "inherit",
  });
  if ((await p.exited) !== 0) throw new Error("the build failed");
}

async function fetchInClient(
  url: string,
  timeoutMs: number,
): Promise<{ ok: boolean; text: string; ms: number }> {
  const started = performance.now();
  const script = `const r = await fetch(${JSON.stringify(url)}, { signal: AbortSignal.timeout(${timeoutMs}) }); process.stdout.write(await r.text());`;
  try {
    const text = await inNs(world!.client, [BUN, "-e", script]);
    return { ok: true, text: text.trim(), ms: performance.now() - started };
  } catch {
    return { ok: false, text: "", ms: performance.now() - started };
  }
}

async function ctl(socket: string, args: string[]): Promise<{ code: number; out: string }> {
  const p = Bun.spawn([join(ROOT, "dist/firezonectl"), ...args], {
    env: { ...process.env, FIREZONE_SOCKET: socket },
    stdout: "pipe",
    stderr: "pipe",
  });
  const [out, err, code] = await Promise.all([
    new Response(p.stdout).text(),
    new Response(p.stderr).text(),
    p.exited,
  ]);
  return { code, out: out + err };
}

async function main(): Promise<void> {
  await ensureBuilt();
  tmp = mkdtempSync(join(tmpdir(), "fz-demo-"));
  const db = join(tmp, "portal.sqlite");

  // A demo that was killed hard may have left its namespaces behind; a running one is left alone.
  const alive = await inNs(`${PREFIX}-hub`, ["true"]).then(
    async () => (await Bun.$`ip netns pids ${PREFIX}-hub`.quiet().nothrow().text()).trim() !== "",
    () => false,
  );
  if (alive)
    throw new Error(`another demo is running (namespace ${PREFIX}-hub has processes); stop it first`);
  await destroyWorld({
    prefix: PREFIX,
    hub: `${PREFIX}-hub`,
    gateway: `${PREFIX}-gw`,
    resource: `${PREFIX}-res`,
    client: `${PREFIX}-cli`,
  } as World);
  step("Creating network namespaces: client, hub (portal), gateway, resource");
  world = await createWorld(PREFIX);
  await inNs(world.resource, ["ip", "addr", "add", "172.31.0.11/24", "dev", "to-gateway"]);

  step(
    "Seeding the portal: account 'demo', service account 'demo-bot', site 'hq', resources 'web', 'web6' and 'secret'",
  );
  const store = new Store(db);
  const account = store.createAccount("demo", "Demo Co");
  const bot = store.createActor(account.id, "demo-bot", { type: "service_account" });
  store.createActor(account.id, "alice", { password: "alice-demo-password" });
  const site = store.createSite(account.id, "hq");
  const web = store.createResource(account.id, site.id, {
    name: "web",
    type: "ip",
    address: world.resourceAddress,
  });
  store.createResource(account.id, site.id, { name: "secret", type: "ip", address: "172.31.0.11" });
  store.createPolicy(account.id, store.group(account.id, "everyone")!, web.id);
  const web6 = store.createResource(account.id, site.id, {
    name: "web6",
    type: "ip",
    address: "fd00:31::10",
  });
  store.createPolicy(account.id, store.group(account.id, "everyone")!, web6.id);
  const serviceToken = store.createClientToken(bot.id, { expiresInMs: 86_400_000 }).token;
  const gatewayToken = store.createGatewayToken(site.id).token;
  store.close();

  step(`Starting the portal in ${world.hub} (ws://${world.portalFromClient}:8080)`);
  const portal = start("portal", world.hub, [
    BUN,
    join(ROOT, "devstack/portal/main.ts"),
    "--db",
    db,
    "--listen",
    "0.0.0.0:8080",
  ]);
  await portal.out.next(/^listening/);

  step(
    `Starting the HTTP resource in ${world.resource} (port 80 on ${world.resourceAddress}, 172.31.0.11 and fd00:31::10)`,
  );
  const resource = start("resource", world.resource, [
    BUN,
    join(ROOT, "devstack/resource.ts"),
    "--listen",
    "[::]:80",
  ]);
  await resource.out.next(/^listening/);

  step(`Starting the gateway in ${world.gateway} (WireGuard at ${world.gatewayAddress}:51820)`);
  const gateway = start(
    "gateway",
    world.gateway,
    [
      BUN,
      join(ROOT, "devstack/gateway/main.ts"),
      "--portal",
      `ws://${world.portalFromGateway}:8080`,
      "--endpoint",
      `${world.gatewayAddress}:51820`,
      "--state-dir",
      join(tmp, "gateway"),
      "--interface",
      "fzgw-demo",
    ],
    { FIREZONE_GATEWAY_TOKEN: gatewayToken },
  );
  await gateway.out.next(/^ready/, 20_000);

  const socket = join(tmp, "run", "ipc.sock");
  mkdirSync(join(tmp, "run"), { recursive: true });
  step(`Starting dist/firezoned in ${world.client}, signed in with demo-bot's service-account token`);
  const daemonStarted = performance.now();
  start("firezoned", world.client, [join(ROOT, "dist/firezoned")], {
    FIREZONE_TOKEN: serviceToken,
    FIREZONE_API_URL: `ws://${world.portalFromClient}:8080`,
    FIREZONE_SOCKET: socket,
    FIREZONE_STATE_DIR: join(tmp, "state"),
    FIREZONE_LOG_DIR: join(tmp, "log"),
    FIREZONE_TUN_NAME: TUN,
    FIREZONE_GROUP: Bun.spawnSync(["getent", "group", "firezone"]).exitCode === 0 ? "firezone" : "root",
  });

  let state = "";
  for (let i = 0; i < 200; i++) {
    const r = await ctl(socket, ["status", "--json"]);
    if (r.code === 0) {
      state = (JSON.parse(r.out) as { state?: string }).state ?? "";
      if (state === "connected") break;
    }
    await Bun.sleep(100);
  }
  if (state !== "connected")
    throw new Error(`firezoned did not connect (state '${state || "unreachable"}'); run with --verbose`);

  step("firezonectl status");
  console.log((await ctl(socket, ["status"])).out.trimEnd().replace(/^/gm, "    "));
  step("firezonectl resources");
  console.log((await ctl(socket, ["resources"])).out.trimEnd().replace(/^/gm, "    "));

  step(`Fetching http://${world.resourceAddress}/ from the client namespace, through the tunnel`);
  let fetched = { ok: false, text: "", ms: 0 };
  for (let i = 0; i < 40 && !fetched.ok; i++) {
    fetched = await fetchInClient(`http://${world.resourceAddress}/`, 1000);
    if (!fetched.ok) await Bun.sleep(250);
  }
  if (!fetched.ok) throw new Error("the resource did not answer through the tunnel");
  console.log(`    ${fetched.text}`);
  console.log(
    `    (first successful fetch ${Math.round(performance.now() - daemonStarted)} ms after firezoned started)`,
  );

  const v6 = await fetchInClient("http://[fd00:31::10]/", 3000);
  console.log(`    http://[fd00:31::10]/ ('web6'): ${v6.ok ? v6.text : "no answer"}`);

  const secret = await fetchInClient("http://172.31.0.11/", 1500);
  console.log(
    `    http://172.31.0.11/ ('secret', no policy): ${secret.ok ? `answered?! ${secret.text}` : "unreachable, as it should be"}`,
  );

  if (once) {
    step("Done (--once or no terminal); cleaning up");
    return exit(0);
  }
  const bun = existsSync(join(ROOT, "node_modules/.bin/bun")) ? join(ROOT, "node_modules/.bin/bun") : BUN;
  const admin = `sudo ${bun} ${join(ROOT, "devstack/portal/admin.ts")} --db ${db} --account demo`;
  console.log(`
${bold("The demo is running. Try, in another terminal:")}
  sudo ip netns exec ${world.client} curl http://${world.resourceAddress}/          # through the tunnel
  sudo FIREZONE_SOCKET=${socket} ${join(ROOT, "dist/firezonectl")} status
  sudo FIREZONE_SOCKET=${socket} ${join(ROOT, "dist/firezonectl")} resources --json
  ${admin} create-policy --group everyone --resource secret   # then curl http://172.31.0.11/
  ${admin} delete-resource --resource web                      # watch it disappear
  ${admin} revoke-token --actor demo-bot                       # firezoned signs out within a second
  sudo ip netns exec ${world.client} curl "http://${world.portalFromClient}:8080/demo?as=gui-client&state=s&nonce=n0nce-demo-1"
                                                     # the sign-in page (user alice / alice-demo-password)
Press Ctrl-C to stop; every namespace and process goes away.`);
  await new Promise(() => {});
}

try {
  await main();
} catch (e) {
  console.error(`demo failed: ${e instanceof Error ? e.message : String(e)}`);
  await exit(1);
}
