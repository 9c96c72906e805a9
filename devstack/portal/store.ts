// The portal's bun:sqlite store: accounts, actors and groups, tokens (a SHA-256 hash at rest, with
// expiry and revocation), sites and gateways, resources, policies, client devices and their flows.
// The admin CLI and the running portal open the same file; the portal notices the CLI's commits.
import { Database } from "bun:sqlite";
import type { Resource } from "../../lib/types/index.ts";
import { normalizeResourceAddress, tunnelAddresses } from "../shared/ip.ts";
import {
  type AccountRow,
  type ActorRow,
  type ClientRow,
  EVERYONE,
  type FlowRow,
  type GatewayRow,
  SCHEMA,
  type TokenCheck,
  type TokenRow,
} from "./schema.ts";
import { generateToken, hashToken } from "./tokens.ts";

export {
  type AccountRow,
  type ActorRow,
  type ClientRow,
  EVERYONE,
  type FlowRow,
  type GatewayRow,
  type TokenCheck,
  type TokenRow,
};

const DAY = 86_400_000;

export class Store {
  readonly db: Database;
  readonly #now: () => number;

  constructor(path: string, options: { now?: () => number } = {}) {
    this.db = new Database(path, { create: true, strict: true });
    this.#now = options.now ?? Date.now;
    this.db.exec("PRAGMA journal_mode = WAL; PRAGMA foreign_keys = ON; PRAGMA busy_timeout = 5000;");
    this.db.exec(SCHEMA);
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
        .run(id, slug, name, this.#now());
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
        .run(id, accountId, name, options.type ?? "user", hash, this.#now());
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
    this.db.query("UPDATE actors SET disabled_at = ? WHERE id = ?").run(this.#now(), actorId);
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
    const now = this.#now();
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
    if (row.expires_at !== null && row.expires_at <= this.#now())
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
    this.db.query("UPDATE tokens SET last_used_at = ? WHERE id = ?").run(this.#now(), tokenId);
  }

  revokeToken(tokenId: string): boolean {
    return (
      this.db
        .query("UPDATE tokens SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL")
        .run(this.#now(), tokenId).changes > 0
    );
  }

  /** Revokes every live token of an actor; returns how many. */
  revokeActorTokens(actorId: string): number {
    return this.db
      .query("UPDATE tokens SET revoked_at = ? WHERE actor_id = ? AND revoked_at IS NULL")
      .run(this.#now(), actorId).changes;
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

  // ---- sites, gateways ----

  createSite(accountId: string, name: string): { id: string; name: string } {
    const id = crypto.randomUUID();
    this.db.query("INSERT INTO sites (id, account_id, name) VALUES (?, ?, ?)").run(id, accountId, name);
    return { id, name };
  }

  site(accountId: string, ref: string): { id: string; name: string } | undefined {
    return (
      (this.db
        .query("SELECT id, name FROM sites WHERE account_id = ? AND (name = ? OR id = ?)")
        .get(accountId, ref, ref) as { id: string; name: string } | null) ?? undefined
    );
  }

  requireSite(accountId: string, ref: string): { id: string; name: string } {
    const s = this.site(accountId, ref);
    if (!s) throw new Error(`no site '${ref}' in this account`);
    return s;
  }

  /** Registers (or updates) the gateway that joined with a site token. */
  upsertGateway(
    siteId: string,
    join: { external_id: string; name?: string; public_key: string; endpoint: string },
  ): GatewayRow {
    const site = this.db.query("SELECT account_id FROM sites WHERE id = ?").get(siteId) as {
      account_id: string;
    };
    const existing = this.db
      .query("SELECT id FROM gateways WHERE site_id = ? AND external_id = ?")
      .get(siteId, join.external_id) as {
      id: string;
    } | null;
    const name = join.name ?? `gateway-${join.external_id.slice(0, 8)}`;
    if (existing) {
      this.db
        .query("UPDATE gateways SET name = ?, public_key = ?, endpoint = ?, last_seen_at = ? WHERE id = ?")
        .run(name, join.public_key, join.endpoint, this.#now(), existing.id);
      return this.gateway(existing.id)!;
    }
    const id = crypto.randomUUID();
    this.db
      .query(
        `INSERT INTO gateways (id, account_id, site_id, external_id, name, public_key, endpoint, addr_index, last_seen_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      )
      .run(
        id,
        site.account_id,
        siteId,
        join.external_id,
        name,
        join.public_key,
        join.endpoint,
        this.#allocate(id),
        this.#now(),
      );
    return this.gateway(id)!;
  }

  gateway(id: string): GatewayRow | undefined {
    return (this.db.query("SELECT * FROM gateways WHERE id = ?").get(id) as GatewayRow | null) ?? undefined;
  }

  #allocate(owner: string): number {
    return Number(this.db.query("INSERT INTO address_pool (owner) VALUES (?)").run(owner).lastInsertRowid);
  }

  // ---- client devices ----

  /** Registers (or updates) a device by its stable external id; its tunnel addresses never change. */
  upsertClient(
    accountId: string,
    actorId: string,
    join: { external_id: string; name?: string; public_key: string },
  ): ClientRow {
    const existing = this.db
      .query("SELECT id FROM clients WHERE account_id = ? AND external_id = ?")
      .get(accountId, join.external_id) as { id: string } | null;
    if (existing) {
      this.db
        .query("UPDATE clients SET actor_id = ?, name = ?, public_key = ?, last_seen_at = ? WHERE id = ?")
        .run(actorId, join.name ?? null, join.public_key, this.#now(), existing.id);
      // Flows belong to the actor that asked for them; another actor on the device starts afresh.
      this.db
        .query(
          "DELETE FROM flows WHERE client_id = ? AND token_id NOT IN (SELECT id FROM tokens WHERE actor_id = ?)",
        )
        .run(existing.id, actorId);
      return this.client(existing.id)!;
    }
    const id = crypto.randomUUID();
    this.db
      .query(
        `INSERT INTO clients (id, account_id, actor_id, external_id, name, public_key, addr_index, last_seen_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
      )
      .run(
        id,
        accountId,
        actorId,
        join.external_id,
        join.name ?? null,
        join.public_key,
        this.#allocate(id),
        this.#now(),
      );
    return this.client(id)!;
  }

  client(id: string): ClientRow | undefined {
    return (this.db.query("SELECT * FROM clients WHERE id = ?").get(id) as ClientRow | null) ?? undefined;
  }

  // ---- resources, policies ----

  createResource(
    accountId: string,
    siteId: string,
    r: { name: string; type: "cidr" | "ip"; address: string },
  ): Resource {
    const id = crypto.randomUUID();
    const address = normalizeResourceAddress(r.type, r.address);
    this.db
      .query(
        "INSERT INTO resources (id, account_id, site_id, name, type, address, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
      )
      .run(id, accountId, siteId, r.name, r.type, address, this.#now());
    return this.resource(id)!;
  }

  updateResource(
    resourceId: string,
    patch: { name?: string; type?: "cidr" | "ip"; address?: string; siteId?: string },
  ): Resource {
    const current = this.resource(resourceId);
    if (!current) throw new Error("no such resource");
    const type = patch.type ?? current.type;
    const address = normalizeResourceAddress(type, patch.address ?? current.address);
    this.db
      .query("UPDATE resources SET name = ?, type = ?, address = ?, site_id = ? WHERE id = ?")
      .run(patch.name ?? current.name, type, address, patch.siteId ?? current.site.id, resourceId);
    return this.resource(resourceId)!;
  }

  deleteResource(resourceId: string): boolean {
    return this.db.query("DELETE FROM resources WHERE id = ?").run(resourceId).changes > 0;
  }

  resource(id: string): Resource | undefined {
    const row = this.db
      .query(
        `SELECT r.id, r.name, r.type, r.address, s.id AS site_id, s.name AS site_name
         FROM resources r JOIN sites s ON s.id = r.site_id WHERE r.id = ?`,
      )
      .get(id) as ResourceJoinRow | null;
    return row ? toResource(row) : undefined;
  }

  findResource(accountId: string, ref: string): Resource | undefined {
    const row = this.db
      .query("SELECT id FROM resources WHERE account_id = ? AND (name = ? OR id = ?)")
      .get(accountId, ref, ref) as {
      id: string;
    } | null;
    return row ? this.resource(row.id) : undefined;
  }

  requireResource(accountId: string, ref: string): Resource {
    const r = this.findResource(accountId, ref);
    if (!r) throw new Error(`no resource '${ref}' in this account`);
    return r;
  }

  createPolicy(accountId: string, groupId: string, resourceId: string): string {
    const id = crypto.randomUUID();
    this.db
      .query("INSERT INTO policies (id, account_id, group_id, resource_id) VALUES (?, ?, ?, ?)")
      .run(id, accountId, groupId, resourceId);
    return id;
  }

  deletePolicy(groupId: string, resourceId: string): boolean {
    return (
      this.db.query("DELETE FROM policies WHERE group_id = ? AND resource_id = ?").run(groupId, resourceId)
        .changes > 0
    );
  }

  /** The resources an actor's groups have policies for, sorted by name. */
  resourcesForActor(actorId: string): Resource[] {
    const rows = this.db
      .query(
        `SELECT DISTINCT r.id, r.name, r.type, r.address, s.id AS site_id, s.name AS site_name
         FROM memberships m JOIN policies p ON p.group_id = m.group_id
         JOIN resources r ON r.id = p.resource_id JOIN sites s ON s.id = r.site_id
         WHERE m.actor_id = ? ORDER BY r.name, r.id`,
      )
      .all(actorId) as ResourceJoinRow[];
    return rows.map(toResource);
  }

  listResources(accountId: string): Resource[] {
    const rows = this.db
      .query(
        `SELECT r.id, r.name, r.type, r.address, s.id AS site_id, s.name AS site_name
         FROM resources r JOIN sites s ON s.id = r.site_id WHERE r.account_id = ? ORDER BY r.name`,
      )
      .all(accountId) as ResourceJoinRow[];
    return rows.map(toResource);
  }

  // ---- flows: which device may use which resource through which gateway ----

  upsertFlow(clientId: string, resourceId: string, tokenId: string): void {
    this.db
      .query(
        `INSERT INTO flows (client_id, resource_id, token_id) VALUES (?, ?, ?)
         ON CONFLICT (client_id, resource_id) DO UPDATE SET token_id = excluded.token_id`,
      )
      .run(clientId, resourceId, tokenId);
  }

  flows(): FlowRow[] {
    return this.db.query("SELECT * FROM flows").all() as FlowRow[];
  }

  deleteFlow(clientId: string, resourceId: string): void {
    this.db.query("DELETE FROM flows WHERE client_id = ? AND resource_id = ?").run(clientId, resourceId);
  }

  setFlowGateway(clientId: string, resourceId: string, gatewayId: string | null): void {
    this.db
      .query("UPDATE flows SET gateway_id = ? WHERE client_id = ? AND resource_id = ?")
      .run(gatewayId, clientId, resourceId);
  }

  /** Whether an actor may use a resource right now. */
  actorMayUse(actorId: string, resourceId: string): boolean {
    return (
      this.db
        .query(
          "SELECT 1 FROM memberships m JOIN policies p ON p.group_id = m.group_id WHERE m.actor_id = ? AND p.resource_id = ? LIMIT 1",
        )
        .get(actorId, resourceId) !== null
    );
  }

  resourceSiteId(resourceId: string): string | undefined {
    return (
      this.db.query("SELECT site_id FROM resources WHERE id = ?").get(resourceId) as {
        site_id: string;
      } | null
    )?.site_id;
  }

  /** Everything in an account, for `admin.ts show`. */
  dump(accountId: string): Record<string, unknown> {
    const q = (sql: string) => this.db.query(sql).all(accountId);
    return {
      account: this.db.query("SELECT id, slug, name, upstream_dns FROM accounts WHERE id = ?").get(accountId),
      actors: q(
        "SELECT id, name, type, password_hash IS NOT NULL AS has_password, disabled_at FROM actors WHERE account_id = ?",
      ),
      groups: q(
        `SELECT g.name, json_group_array(a.name) AS members FROM groups g LEFT JOIN memberships m ON m.group_id = g.id
         LEFT JOIN actors a ON a.id = m.actor_id WHERE g.account_id = ? GROUP BY g.id`,
      ),
      sites: q("SELECT id, name FROM sites WHERE account_id = ?"),
      gateways: q(
        "SELECT id, site_id, name, public_key, endpoint, last_seen_at FROM gateways WHERE account_id = ?",
      ),
      resources: this.listResources(accountId),
      policies: q(
        `SELECT p.id, g.name AS group_name, r.name AS resource FROM policies p JOIN groups g ON g.id = p.group_id
         JOIN resources r ON r.id = p.resource_id WHERE p.account_id = ?`,
      ),
      clients: q(
        "SELECT id, actor_id, external_id, name, public_key, addr_index, last_seen_at FROM clients WHERE account_id = ?",
      ),
      tokens: this.listTokens(accountId),
    };
  }
}

interface ResourceJoinRow {
  id: string;
  name: string;
  type: "cidr" | "ip";
  address: string;
  site_id: string;
  site_name: string;
}

function toResource(row: ResourceJoinRow): Resource {
  return {
    id: row.id,
    name: row.name,
    type: row.type,
    address: row.address,
    site: { id: row.site_id, name: row.site_name },
  };
}

export function addressesOf(row: { addr_index: number }): { ipv4: string; ipv6: string } {
  return tunnelAddresses(row.addr_index);
}

let dummy: string | undefined;
function dummyHash(): string {
  dummy ??= Bun.password.hashSync("firezone-devstack-dummy");
  return dummy;
}
