// `bun run demo` (as root): the whole world in network namespaces — the devstack portal, a gateway,
// an HTTP resource — and firezoned signed in with a service-account token in a client namespace.
// Prints `firezonectl status`, fetches the resource through the tunnel, then stays up with
// instructions until Ctrl-C (or exits at once with --once or when stdin is not a terminal).
// Every namespace, process and temp file it made is removed on the way out.
import { existsSync } from "node:fs";
import { join } from "node:path";
import { Store } from "./portal/store.ts";
import { distIsStale } from "./shared/dist.ts";
import { destroyWorld, inNs, type World } from "./shared/netns.ts";
import { DevWorld, FIREZONECTL, ROOT, SECOND_RESOURCE_ADDRESS } from "./world.ts";

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

let dev: DevWorld | undefined;
let cleaning: Promise<void> | undefined;

function cleanup(): Promise<void> {
  cleaning ??= dev ? dev.destroy() : Promise.resolve();
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

/** Builds dist/ when a binary is missing or older than the sources. */
async function ensureBuilt(): Promise<void> {
  if (
    !distIsStale(
      ROOT,
      ["dist/firezoned", "dist/firezonectl"].map((b) => join(ROOT, b)),
    )
  )
    return;
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
    const text = await inNs(dev!.world.client, [BUN, "-e", script]);
    return { ok: true, text: text.trim(), ms: performance.now() - started };
  } catch {
    return { ok: false, text: "", ms: performance.now() - started };
  }
}

/** firezonectl's output (stdout and stderr), indented under a step line. */
async function show(args: string[]): Promise<void> {
  const r = await dev!.ctl(args);
  console.log((r.out + r.err).trimEnd().replace(/^/gm, "    "));
}

async function main(): Promise<void> {
  await ensureBuilt();

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
  dev = await DevWorld.create(PREFIX, {
    tmpPrefix: "fz-demo-",
    echo: verbose ? (name, line) => console.error(`  [${name}] ${line}`) : undefined,
    onExit: (name, code) => {
      if (!cleaning) console.error(`  ${name} exited (code ${code})`);
    },
  });
  const { world, db, socket } = dev;

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
  store.createResource(account.id, site.id, { name: "secret", type: "ip", address: SECOND_RESOURCE_ADDRESS });
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
  await dev.startPortal();

  step(
    `Starting the HTTP resource in ${world.resource} (port 80 on ${world.resourceAddress}, 172.31.0.11 and fd00:31::10)`,
  );
  await dev.startResource();

  step(`Starting the gateway in ${world.gateway} (WireGuard at ${world.gatewayAddress}:51820)`);
  await dev.startGateway(gatewayToken, "fzgw-demo");

  step(`Starting dist/firezoned in ${world.client}, signed in with demo-bot's service-account token`);
  const daemonStarted = performance.now();
  await dev.startDaemon(TUN, {
    FIREZONE_TOKEN: serviceToken,
    FIREZONE_GROUP: Bun.spawnSync(["getent", "group", "firezone"]).exitCode === 0 ? "firezone" : "root",
  });
  await dev.waitForState("connected", 20_000).catch((e: Error) => {
    throw new Error(`firezoned did not connect (${e.message}); run with --verbose`);
  });

  // Give every resource a moment to get its path, so the listing shows them online.
  for (let i = 0; i < 50; i++) {
    const listed = (JSON.parse((await dev.ctl(["resources", "--json"])).out || "{}").resources ??
      []) as Array<{
      gatewayStatus?: string;
    }>;
    if (listed.length > 0 && listed.every((r) => r.gatewayStatus === "online")) break;
    await Bun.sleep(100);
  }

  step("firezonectl status");
  await show(["status"]);
  step("firezonectl resources");
  await show(["resources"]);

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

  const secret = await fetchInClient(`http://${SECOND_RESOURCE_ADDRESS}/`, 1500);
  console.log(
    `    http://${SECOND_RESOURCE_ADDRESS}/ ('secret', no policy): ${secret.ok ? `answered?! ${secret.text}` : "unreachable, as it should be"}`,
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
  sudo FIREZONE_SOCKET=${socket} ${FIREZONECTL} status
  sudo FIREZONE_SOCKET=${socket} ${FIREZONECTL} resources --json
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
