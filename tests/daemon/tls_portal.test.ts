// The compiled firezoned against the devstack portal served over TLS on loopback, configured the way
// an administrator would: firezoned.conf with a wss:// portal_url and a ca_file for a private CA.
// A trusted certificate connects; with another CA the sign-in stays `connecting` and lastError says
// why and what to set. No plaintext opt-in anywhere in this file.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { type Portal, startPortal } from "../../devstack/portal/server.ts";
import { silentLogger } from "../../lib/util/index.ts";
import { ctl } from "../_support/ctl.ts";
import { startDaemon, type TestDaemon } from "../_support/daemon.ts";
import { makeCa } from "../_support/tls.ts";
import { TestAccounts } from "../_support/users.ts";
import { seed, tempDir } from "../portal/_helpers.ts";

const accounts = new TestAccounts();
const group = accounts.group();
const tmp = tempDir();
let portal: Portal;
let aliceToken = "";
let caPath = "";
let otherCaPath = "";

beforeAll(() => {
  aliceToken = seed(tmp.db).aliceToken;
  const ca = makeCa(tmp.dir, "corp-ca");
  caPath = ca.pemPath;
  otherCaPath = makeCa(tmp.dir, "other-ca").pemPath;
  portal = startPortal({
    dbPath: tmp.db,
    logger: silentLogger,
    tls: ca.serverCert("portal", "IP:127.0.0.1"),
  });
});

afterAll(async () => {
  await portal?.stop();
  tmp.cleanup();
  accounts.cleanup();
});

async function daemonWithCa(ca: string): Promise<TestDaemon> {
  const conf = join(tmp.dir, `firezoned-${Math.random().toString(36).slice(2)}.conf`);
  const wss = portal.url.replace("https://", "wss://");
  writeFileSync(conf, `portal_url = ${wss}\nca_file = ${ca}\n`, { mode: 0o644 });
  return startDaemon(group, {
    FIREZONE_CONFIG: conf,
    FIREZONE_API_URL: "",
    FIREZONE_ALLOW_INSECURE_PORTAL: "",
  });
}

describe("firezoned and a TLS portal", () => {
  test("ca_file names the private CA that signed the portal's certificate: sign-in connects", async () => {
    const d = await daemonWithCa(caPath);
    try {
      const r = await ctl(d.socketPath, ["sign-in", "--token-stdin", "--json"], `${aliceToken}\n`);
      expect(r.code).toBe(0);
      const st = JSON.parse(r.out);
      expect(st.state).toBe("connected");
      expect(st.portalUrl).toBe(portal.url);
      expect(st.account).toBe("acme");
    } finally {
      await d.stop();
    }
  });

  test("a certificate from a CA the daemon does not trust: no connection, and lastError names ca_file", async () => {
    const d = await daemonWithCa(otherCaPath);
    try {
      const r = await ctl(d.socketPath, ["sign-in", "--token-stdin", "--json"], `${aliceToken}\n`);
      expect(r.code).toBe(0);
      const st = JSON.parse((await ctl(d.socketPath, ["status", "--json"])).out);
      expect(st.state).toBe("connecting");
      expect(st.lastError).toContain("TLS handshake failed");
      expect(st.lastError).toContain("set ca_file");
      expect(portal.counts().clients).toBe(0);
    } finally {
      await d.stop();
    }
  });
});
