// The portal connection's TLS checks against the real devstack portal served over HTTPS/WSS on
// loopback, with a private CA and server certificates made by openssl for this test: a trusted CA
// connects, an unknown CA and a wrong host name are refused with a message that names the fix, and
// a plaintext URL needs the explicit opt-in.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { type Portal, startPortal } from "../../devstack/portal/server.ts";
import { PortalClient } from "../../lib/portal/index.ts";
import { silentLogger } from "../../lib/util/index.ts";
import { newClient, newKey, next, on, type Seed, seed, startAndInit, tempDir } from "./_helpers.ts";

const tmp = tempDir();
const clients: PortalClient[] = [];
let s: Seed;
let trusted: Portal;
let wrongName: Portal;
let caPem: string;
let otherCaPem: string;

function openssl(args: string[]): void {
  const r = Bun.spawnSync(["openssl", ...args], { cwd: tmp.dir, stderr: "pipe", stdout: "pipe" });
  if (r.exitCode !== 0) throw new Error(`openssl ${args[0]} failed: ${r.stderr.toString()}`);
}

/** A CA, and a server certificate it signs for `san`. */
function makeCa(name: string): void {
  openssl(
    ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"].concat([
      "-keyout",
      `${name}.key`,
      "-out",
      `${name}.pem`,
      "-days",
      "2",
      "-subj",
      `/CN=${name}`,
    ]),
  );
}
function makeServerCert(ca: string, name: string, san: string): { cert: string; key: string } {
  openssl(
    ["req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"].concat([
      "-keyout",
      `${name}.key`,
      "-out",
      `${name}.csr`,
      "-subj",
      `/CN=${name}`,
    ]),
  );
  writeFileSync(join(tmp.dir, `${name}.ext`), `subjectAltName=${san}\n`);
  openssl(
    ["x509", "-req", "-in", `${name}.csr`, "-CA", `${ca}.pem`, "-CAkey", `${ca}.key`].concat([
      "-CAcreateserial",
      "-out",
      `${name}.pem`,
      "-days",
      "2",
      "-extfile",
      `${name}.ext`,
    ]),
  );
  return {
    cert: readFileSync(join(tmp.dir, `${name}.pem`), "utf8"),
    key: readFileSync(join(tmp.dir, `${name}.key`), "utf8"),
  };
}

beforeAll(() => {
  s = seed(tmp.db);
  makeCa("private-ca");
  makeCa("unknown-ca");
  caPem = readFileSync(join(tmp.dir, "private-ca.pem"), "utf8");
  otherCaPem = readFileSync(join(tmp.dir, "unknown-ca.pem"), "utf8");
  trusted = startPortal({
    dbPath: tmp.db,
    logger: silentLogger,
    tls: makeServerCert("private-ca", "portal", "IP:127.0.0.1,DNS:localhost"),
  });
  wrongName = startPortal({
    dbPath: tmp.db,
    logger: silentLogger,
    tls: makeServerCert("private-ca", "elsewhere", "DNS:portal.elsewhere.test"),
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
