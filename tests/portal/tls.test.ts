// The portal connection's TLS checks against the real devstack portal served over HTTPS/WSS on
// loopback, with a private CA and server certificates made by openssl for this test: a trusted CA
// connects, an unknown CA and a wrong host name are refused with a message that names the fix, and
// a plaintext URL needs the explicit opt-in.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { type Portal, startPortal } from "../../devstack/portal/server.ts";
import { PortalClient } from "../../lib/portal/index.ts";
import { silentLogger } from "../../lib/util/index.ts";
import { makeCa } from "../_support/tls.ts";
import { newClient, newKey, next, on, type Seed, seed, startAndInit, tempDir } from "./_helpers.ts";

const tmp = tempDir();
const clients: PortalClient[] = [];
let s: Seed;
let trusted: Portal;
let wrongName: Portal;
let caPem: string;
let otherCaPem: string;

beforeAll(() => {
  s = seed(tmp.db);
  const ca = makeCa(tmp.dir, "private-ca");
  caPem = ca.pem;
  otherCaPem = makeCa(tmp.dir, "unknown-ca").pem;
  trusted = startPortal({
    dbPath: tmp.db,
    logger: silentLogger,
    tls: ca.serverCert("portal", "IP:127.0.0.1,DNS:localhost"),
  });
  wrongName = startPortal({
    dbPath: tmp.db,
    logger: silentLogger,
    tls: ca.serverCert("elsewhere", "DNS:portal.elsewhere.test"),
  });
});

afterAll(async () => {
  for (const c of clients.splice(0)) c.stop();
  await trusted?.stop();
  await wrongName?.stop();
  tmp.cleanup();
});

function client(url: string, ca: string | null): PortalClient {
  return newClient(clients, {
    url,
    token: s.aliceToken,
    deviceId: `device-${crypto.randomUUID()}`,
    allowInsecure: false,
    ca,
    backoff: { initialMs: 5_000, maxMs: 5_000 },
  });
}

async function firstFailure(c: PortalClient): Promise<string> {
  const lost = next(on(c, "disconnected"), 5000, "the refused connection");
  c.start();
  return (await lost).reason;
}

describe("TLS to the portal", () => {
  test("a portal whose certificate the ca_file CA signed is trusted: the client joins and gets init", async () => {
    expect(trusted.url).toStartWith("https://");
    const init = await startAndInit(client(trusted.url, caPem));
    expect(init.account.slug).toBe("acme");
  });

  test("without the private CA the certificate is refused, and the reason names ca_file", async () => {
    const reason = await firstFailure(client(trusted.url, null));
    expect(reason).toContain("unable to verify");
    expect(reason).toContain("ca_file");
  });

  test("a certificate from an unknown CA is refused, even with another CA configured", async () => {
    const c = client(trusted.url, otherCaPem);
    let joined = false;
    c.on("init", () => {
      joined = true;
    });
    const reason = await firstFailure(c);
    expect(reason).toMatch(/unable to verify|self.signed|unknown/i);
    expect(joined).toBe(false);
  });

  test("a trusted certificate for another host name is refused with the name mismatch", async () => {
    const reason = await firstFailure(client(wrongName.url, caPem));
    expect(reason).toContain("does not match");
    expect(reason).toContain("host name");
  });

  test("ws:// is refused without allow_insecure_portal, and the error names the setting", () => {
    const plain = trusted.url.replace("https://", "ws://");
    expect(
      () =>
        new PortalClient({
          url: plain,
          token: "t",
          publicKey: newKey(),
          deviceId: "d",
          logger: silentLogger,
        }),
    ).toThrow(/allow_insecure_portal = true/);
    expect(
      () => new PortalClient({ url: "http://p.example", token: "t", publicKey: newKey(), deviceId: "d" }),
    ).toThrow(/plaintext/);
    expect(
      () =>
        new PortalClient({
          url: plain,
          token: "t",
          publicKey: newKey(),
          deviceId: "d",
          allowInsecure: true,
        }),
    ).not.toThrow();
  });
});
