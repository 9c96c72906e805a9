// Shared setup for the portal tests: a temp sqlite file, a seeded account, the admin CLI and the
// portal as real subprocesses when a test needs to stop or restart them, and PortalClients.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Store } from "../../devstack/portal/store.ts";
import { generateWgKeyPair } from "../../devstack/shared/wgkey.ts";
import { ROOT } from "../../devstack/world.ts";
import { type Init, PortalClient, type PortalClientEvents } from "../../lib/portal/index.ts";
import { silentLogger } from "../../lib/util/index.ts";

export { admin } from "../../devstack/world.ts";

const BUN = process.execPath;

export function tempDir(): { dir: string; db: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), "fz-portal-"));
  return {
    dir,
    db: join(dir, "portal.sqlite"),
    cleanup: () => rmSync(dir, { recursive: true, force: true }),
  };
}

export interface Seed {
  accountId: string;
  siteId: string;
  aliceId: string;
  aliceToken: string;
  gatewayToken: string;
  webId: string;
  secretId: string;
}

/** acme: user alice (password "correct horse", group eng), site hq, resource web (policy eng) and secret (none). */
export function seed(db: string): Seed {
  const store = new Store(db);
  try {
    const account = store.createAccount("acme", "Acme Inc");
    const alice = store.createActor(account.id, "alice", { password: "correct horse", groups: ["eng"] });
    const site = store.createSite(account.id, "hq");
    const web = store.createResource(account.id, site.id, {
      name: "web",
      type: "ip",
      address: "172.31.0.10",
    });
    const secret = store.createResource(account.id, site.id, {
      name: "secret",
      type: "cidr",
      address: "172.31.9.0/24",
    });
    store.createPolicy(account.id, store.group(account.id, "eng")!, web.id);
    return {
      accountId: account.id,
      siteId: site.id,
      aliceId: alice.id,
      aliceToken: store.createClientToken(alice.id).token,
      gatewayToken: store.createGatewayToken(site.id).token,
      webId: web.id,
      secretId: secret.id,
    };
  } finally {
    store.close();
  }
}

/** The portal as a subprocess on a fixed port, for tests that stop, freeze or restart it. */
export async function spawnPortal(
  db: string,
  port: number,
  extra: string[] = [],
): Promise<Bun.Subprocess<"ignore", "pipe", "pipe">> {
  const p = Bun.spawn(
    [
      BUN,
      join(ROOT, "devstack/portal/main.ts"),
      "--db",
      db,
      "--listen",
      `127.0.0.1:${port}`,
      "--log-level",
      "warn",
      ...extra,
    ],
    { stdin: "ignore", stdout: "pipe", stderr: "pipe" },
  );
  const reader = p.stdout.getReader();
  let text = "";
  while (!text.includes("listening")) {
    const { value, done } = await reader.read();
    if (done) throw new Error(`portal exited early: ${await new Response(p.stderr).text()}`);
    text += new TextDecoder().decode(value);
  }
  reader.releaseLock();
  return p;
}

export function freePort(): number {
  const s = Bun.serve({ port: 0, hostname: "127.0.0.1", fetch: () => new Response() });
  const port = s.port!;
  s.stop(true);
  return port;
}

export const newKey = () => generateWgKeyPair().publicKey;

type ClientOptions = ConstructorParameters<typeof PortalClient>[0];

/** A PortalClient with a fresh key and a silent logger unless `options` say otherwise; kept in `made` for afterEach. */
export function newClient(
  made: PortalClient[],
  options: Omit<ClientOptions, "publicKey" | "logger"> & Partial<ClientOptions>,
): PortalClient {
  // The devstack portal under test is plaintext: these clients opt in, as the devstack does.
  const c = new PortalClient({ publicKey: newKey(), logger: silentLogger, allowInsecure: true, ...options });
  made.push(c);
  return c;
}

/** Starts `c` and resolves with its first `init`. */
export function startAndInit(c: PortalClient): Promise<Init> {
  const init = next(on(c, "init"));
  c.start();
  return init;
}

/** Subscribes to one PortalClient event, in the shape next() takes. */
export const on =
  <E extends keyof PortalClientEvents>(c: PortalClient, e: E) =>
  (fn: (x: PortalClientEvents[E]) => void) =>
    c.on(e, fn);

/** Resolves with the next emission of `event`, or rejects after `ms`. */
export function next<T>(
  subscribe: (fn: (x: T) => void) => () => void,
  ms = 5000,
  what = "event",
): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      off();
      reject(new Error(`timed out waiting for ${what}`));
    }, ms);
    const off = subscribe((x) => {
      clearTimeout(timer);
      off();
      resolve(x);
    });
  });
}
