// The identity half of the portal's bun:sqlite store: accounts, actors and groups, and tokens (a
// SHA-256 hash at rest, with expiry and revocation). Store (store.ts) builds on it.
import { Database } from "bun:sqlite";
import {
  type AccountRow,
  type ActorRow,
  EVERYONE,
  SCHEMA,
  type TokenCheck,
  type TokenRow,
} from "./schema.ts";
import { generateToken, hashToken } from "./tokens.ts";

const DAY = 86_400_000;

/** Accounts, actors, groups and tokens; Store adds what they reach (sites, gateways, resources, flows). */
export class IdentityStore {
  readonly db: Database;
  protected readonly now: () => number;

  constructor(path: string, options: { now?: () => number } = {}) {
    this.db = new Database(path, { create: true, strict: true });
    this.now = options.now ?? Date.now;
    this.db.exec("PRAGMA journal_mode = WAL; PRAGMA foreign_keys = ON; PRAGMA busy_timeout = 5000;");
    this.db.exec(SCHEMA);
    // Databases created before accounts had a search domain.
    const columns = this.db.query("PRAGMA table_info(accounts)").all() as Array<{ name: string }>;
    if (!columns.some((c) => c.name === "search_domain"))
      this.db.exec("ALTER TABLE accounts ADD COLUMN search_domain TEXT");
  }

  close(): void {
    this.db.close();
  }

  /** Changes whenever another connection (the admin CLI) commits to the file. */
  dataVersion(): number {
    return (this.db.query("PRAGMA data_version").get() as { data_version: number }).data_version;
  }

  // ---- accounts, actors, groups ----

  createAccount(slug: string, name = slug): AccountRow {
    if (!/^[a-z0-9][a-z0-9_-]{0,62}$/.test(slug)) {
      throw new Error(`account slug '${slug}' must be lowercase letters, digits, '-' or '_'`);
    }
    const id = crypto.randomUUID();
    this.db.transaction(() => {
      this.db
        .query("INSERT INTO accounts (id, slug, name, created_at) VALUES (?, ?, ?, ?)")
        .run(id, slug, name, this.now());
      this.#ensureGroup(id, EVERYONE);
    })();
    return this.account(slug)!;
  }

  /** An account by slug or id. */
  account(ref: string): AccountRow | undefined {
    return (
      (this.db.query("SELECT * FROM accounts WHERE slug = ? OR id = ?").get(ref, ref) as AccountRow | null) ??
      undefined
    );
  }

  requireAccount(ref: string): AccountRow {
    const a = this.account(ref);
    if (!a) throw new Error(`no account '${ref}'`);
    return a;
  }

  setUpstreamDns(accountId: string, servers: string[]): void {
    this.db
      .query("UPDATE accounts SET upstream_dns = ? WHERE id = ?")
      .run(JSON.stringify(servers), accountId);
  }

  /** The account's search domain (as the admin typed it: the client checks it), or null for none. */
  setSearchDomain(accountId: string, domain: string | null): void {
    this.db.query("UPDATE accounts SET search_domain = ? WHERE id = ?").run(domain, accountId);
  }

  createActor(
    accountId: string,
    name: string,
    options: { type?: "user" | "service_account"; password?: string; groups?: string[] } = {},
  ): ActorRow {
    const id = crypto.randomUUID();
    const hash = options.password ? Bun.password.hashSync(options.password) : null;
    this.db.transaction(() => {
      this.db
        .query(
          "INSERT INTO actors (id, account_id, name, type, password_hash, created_at) VALUES (?, ?, ?, ?, ?, ?)",
        )
        .run(id, accountId, name, options.type ?? "user", hash, this.now());
      for (const g of [EVERYONE, ...(options.groups ?? [])])
        this.addMember(id, this.#ensureGroup(accountId, g));
    })();
    return this.actor(accountId, id)!;
  }

  /** An actor by name or id within an account. */
  actor(accountId: string, ref: string): ActorRow | undefined {
    return (
      (this.db
        .query("SELECT * FROM actors WHERE account_id = ? AND (name = ? OR id = ?)")
        .get(accountId, ref, ref) as ActorRow | null) ?? undefined
    );
  }

  requireActor(accountId: string, ref: string): ActorRow {
    const a = this.actor(accountId, ref);
    if (!a) throw new Error(`no actor '${ref}' in this account`);
    return a;
  }

  disableActor(actorId: string): void {
    this.db.query("UPDATE actors SET disabled_at = ? WHERE id = ?").run(this.now(), actorId);
  }

  /** Checks a user's password; undefined for a wrong password, unknown name, or an actor without one. */
  verifyPassword(accountId: string, name: string, password: string): ActorRow | undefined {
    const actor = this.actor(accountId, name);
    if (!actor || actor.name !== name || !actor.password_hash || actor.disabled_at !== null) {
      // Spend the same time as a real check, so names cannot be probed by timing.
      Bun.password.verifySync(password, dummyHash());
      return undefined;
    }
    return Bun.password.verifySync(password, actor.password_hash) ? actor : undefined;
  }

  #ensureGroup(accountId: string, name: string): string {
    this.db
      .query("INSERT OR IGNORE INTO groups (id, account_id, name) VALUES (?, ?, ?)")
      .run(crypto.randomUUID(), accountId, name);
    return (
      this.db.query("SELECT id FROM groups WHERE account_id = ? AND name = ?").get(accountId, name) as {
        id: string;
      }
    ).id;
  }

  group(accountId: string, name: string, create = false): string | undefined {
    if (create) return this.#ensureGroup(accountId, name);
    return (
      this.db.query("SELECT id FROM groups WHERE account_id = ? AND name = ?").get(accountId, name) as {
        id: string;
      } | null
    )?.id;
  }

  addMember(actorId: string, groupId: string): void {
    this.db
      .query("INSERT OR IGNORE INTO memberships (actor_id, group_id) VALUES (?, ?)")
      .run(actorId, groupId);
  }

  removeMember(actorId: string, groupId: string): void {
    this.db.query("DELETE FROM memberships WHERE actor_id = ? AND group_id = ?").run(actorId, groupId);
  }

  // ---- tokens ----

  /** Creates a client token for an actor; the plain token is returned once and only its hash is kept. */
  createClientToken(
    actorId: string,
    options: { expiresInMs?: number | null; token?: string } = {},
  ): {
    id: string;
    token: string;
  } {
    const actor = this.db.query("SELECT account_id FROM actors WHERE id = ?").get(actorId) as {
      account_id: string;
    } | null;
    if (!actor) throw new Error("no such actor");
    const token = options.token ?? generateToken();
    const id = this.#insertToken(actor.account_id, "client", actorId, null, token, options.expiresInMs);
    return { id, token };
  }

  /** Creates a token gateways of one site join with. */
  createGatewayToken(
    siteId: string,
    options: { expiresInMs?: number | null } = {},
  ): { id: string; token: string } {
    const site = this.db.query("SELECT account_id FROM sites WHERE id = ?").get(siteId) as {
      account_id: string;
    } | null;
    if (!site) throw new Error("no such site");
    const token = generateToken();
    return {
      id: this.#insertToken(site.account_id, "gateway", null, siteId, token, options.expiresInMs ?? null),
      token,
    };
  }

  #insertToken(
    accountId: string,
    kind: "client" | "gateway",
    actorId: string | null,
    siteId: string | null,
    token: string,
    expiresInMs: number | null | undefined,
  ): string {
    const id = crypto.randomUUID();
    const now = this.now();
    const ttl = expiresInMs === undefined ? 30 * DAY : expiresInMs;
    this.db
      .query(
        "INSERT INTO tokens (id, account_id, kind, actor_id, site_id, hash, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
      )
      .run(id, accountId, kind, actorId, siteId, hashToken(token), now, ttl === null ? null : now + ttl);
    return id;
  }

  /** Looks a presented token up by its hash and says whether it may be used now. */
  checkToken(token: string, kind: "client" | "gateway"): TokenCheck {
    const row = this.db.query("SELECT * FROM tokens WHERE hash = ?").get(hashToken(token)) as TokenRow | null;
    if (!row || row.kind !== kind) return { ok: false, reason: "invalid" };
    return this.checkTokenId(row.id);
  }

  /** Re-checks a token already accepted once: revoked, expired, or its actor disabled or deleted. */
  checkTokenId(tokenId: string): TokenCheck {
    const row = this.db.query("SELECT * FROM tokens WHERE id = ?").get(tokenId) as TokenRow | null;
    if (!row) return { ok: false, reason: "revoked" };
    if (row.revoked_at !== null) return { ok: false, reason: "revoked", token: row };
    if (row.expires_at !== null && row.expires_at <= this.now())
      return { ok: false, reason: "expired", token: row };
    if (row.actor_id) {
      const actor = this.db.query("SELECT disabled_at FROM actors WHERE id = ?").get(row.actor_id) as {
        disabled_at: number | null;
      } | null;
      if (!actor || actor.disabled_at !== null) return { ok: false, reason: "revoked", token: row };
    }
    return { ok: true, token: row };
  }

  touchToken(tokenId: string): void {
    this.db.query("UPDATE tokens SET last_used_at = ? WHERE id = ?").run(this.now(), tokenId);
  }

  revokeToken(tokenId: string): boolean {
    return (
      this.db
        .query("UPDATE tokens SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL")
        .run(this.now(), tokenId).changes > 0
    );
  }

  /** Revokes every live token of an actor; returns how many. */
  revokeActorTokens(actorId: string): number {
    return this.db
      .query("UPDATE tokens SET revoked_at = ? WHERE actor_id = ? AND revoked_at IS NULL")
      .run(this.now(), actorId).changes;
  }

  listTokens(accountId: string): Array<TokenRow & { actor_name: string | null; site_name: string | null }> {
    return this.db
      .query(
        `SELECT t.id, t.account_id, t.kind, t.actor_id, t.site_id, t.created_at, t.expires_at, t.revoked_at,
                t.last_used_at, a.name AS actor_name, s.name AS site_name
         FROM tokens t LEFT JOIN actors a ON a.id = t.actor_id LEFT JOIN sites s ON s.id = t.site_id
         WHERE t.account_id = ? ORDER BY t.created_at`,
      )
      .all(accountId) as Array<TokenRow & { actor_name: string | null; site_name: string | null }>;
  }
}

let dummy: string | undefined;
function dummyHash(): string {
  dummy ??= Bun.password.hashSync("firezone-devstack-dummy");
  return dummy;
}
