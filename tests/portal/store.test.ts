// The portal store: tokens exist only as hashes at rest, expire, and stay dead once revoked.
import { afterEach, beforeEach, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { Store } from "../../devstack/portal/store.ts";
import { hashToken } from "../../devstack/portal/tokens.ts";
import { tempDir } from "./_helpers.ts";

let tmp: ReturnType<typeof tempDir>;
let now = 1_800_000_000_000;
let store: Store;

beforeEach(() => {
  tmp = tempDir();
  now = 1_800_000_000_000;
  store = new Store(tmp.db, { now: () => now });
});
afterEach(() => {
  store.close();
  tmp.cleanup();
});

function actor() {
  const a = store.createAccount("acme");
  return { account: a, alice: store.createActor(a.id, "alice", { password: "pw-1234" }) };
}

test("a token is stored only as its SHA-256: neither the db nor its WAL contains the token", () => {
  const { alice } = actor();
  const { id, token } = store.createClientToken(alice.id);
  const row = store.db.query("SELECT hash FROM tokens WHERE id = ?").get(id) as { hash: string };
  expect(row.hash).toBe(hashToken(token));
  expect(row.hash).not.toContain(token);
  store.db.exec("PRAGMA wal_checkpoint(TRUNCATE)");
  for (const file of [tmp.db, `${tmp.db}-wal`]) {
    let bytes = "";
    try {
      bytes = readFileSync(file).toString("latin1");
    } catch {}
    expect(bytes).not.toContain(token);
  }
  expect(store.checkToken(token, "client").ok).toBe(true);
});

test("an unknown token, or a client token used as a gateway token, is 'invalid'", () => {
  const { alice } = actor();
  const { token } = store.createClientToken(alice.id);
  expect(store.checkToken("nope", "client")).toEqual({ ok: false, reason: "invalid" });
  expect(store.checkToken(token, "gateway")).toEqual({ ok: false, reason: "invalid" });
});

test("a token is refused as 'expired' from its expiry on", () => {
  const { alice } = actor();
  const { token } = store.createClientToken(alice.id, { expiresInMs: 60_000 });
  now += 59_999;
  expect(store.checkToken(token, "client").ok).toBe(true);
  now += 1;
  expect(store.checkToken(token, "client")).toMatchObject({ ok: false, reason: "expired" });
});

test("a token created with expiresInMs null never expires", () => {
  const { alice } = actor();
  const { token } = store.createClientToken(alice.id, { expiresInMs: null });
  now += 10 * 365 * 86_400_000;
  expect(store.checkToken(token, "client").ok).toBe(true);
});

test("a revoked token stays refused as 'revoked'; revoking twice reports nothing to do", () => {
  const { alice } = actor();
  const { id, token } = store.createClientToken(alice.id);
  expect(store.revokeToken(id)).toBe(true);
  expect(store.checkToken(token, "client")).toMatchObject({ ok: false, reason: "revoked" });
  expect(store.revokeToken(id)).toBe(false);
});

test("disabling an actor makes its tokens 'revoked'", () => {
  const { alice } = actor();
  const { token } = store.createClientToken(alice.id);
  store.disableActor(alice.id);
  expect(store.checkToken(token, "client")).toMatchObject({ ok: false, reason: "revoked" });
});

test("passwords: right one accepted, wrong one and unknown user refused, hash is not the password", () => {
  const { account, alice } = actor();
  expect(store.verifyPassword(account.id, "alice", "pw-1234")?.id).toBe(alice.id);
  expect(store.verifyPassword(account.id, "alice", "pw-12345")).toBeUndefined();
  expect(store.verifyPassword(account.id, "bob", "pw-1234")).toBeUndefined();
  expect(alice.password_hash).not.toContain("pw-1234");
});

test("resources are visible through policies on groups; 'everyone' holds every actor", () => {
  const { account, alice } = actor();
  const site = store.createSite(account.id, "hq");
  const web = store.createResource(account.id, site.id, { name: "web", type: "ip", address: "172.31.0.10" });
  const net = store.createResource(account.id, site.id, {
    name: "net",
    type: "cidr",
    address: "172.31.5.9/24",
  });
  expect(net.address).toBe("172.31.5.0/24");
  expect(store.resourcesForActor(alice.id)).toEqual([]);
  store.createPolicy(account.id, store.group(account.id, "everyone")!, web.id);
  expect(store.resourcesForActor(alice.id).map((r) => r.name)).toEqual(["web"]);
  const ops = store.group(account.id, "ops", true)!;
  store.createPolicy(account.id, ops, net.id);
  expect(store.resourcesForActor(alice.id).map((r) => r.name)).toEqual(["web"]);
  store.addMember(alice.id, ops);
  expect(store.resourcesForActor(alice.id).map((r) => r.name)).toEqual(["net", "web"]);
  expect(() =>
    store.createResource(account.id, site.id, { name: "bad", type: "ip", address: "300.1.1.1" }),
  ).toThrow("not an IPv4 or IPv6 address");
});
