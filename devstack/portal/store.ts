// The portal's bun:sqlite store: IdentityStore's accounts, actors, groups and tokens, and here sites
// and gateways, resources, policies, client devices and their flows.
// The admin CLI and the running portal open the same file; the portal notices the CLI's commits.
import type { Resource, ResourceType } from "../../lib/types/index.ts";
import { normalizeResourceAddress, tunnelAddresses } from "../shared/ip.ts";
import { IdentityStore } from "./identity_store.ts";
import type { ClientRow, FlowRow, GatewayRow } from "./schema.ts";

export {
  type AccountRow,
  type ActorRow,
  type ClientRow,
  EVERYONE,
  type FlowRow,
  type GatewayRow,
  type TokenCheck,
  type TokenRow,
} from "./schema.ts";

export class Store extends IdentityStore {
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
        .run(name, join.public_key, join.endpoint, this.now(), existing.id);
      return this.gateway(existing.id)!;
    }
    const id = this.#insertWithAddresses("gateways", {
      account_id: site.account_id,
      site_id: siteId,
      external_id: join.external_id,
      name,
      public_key: join.public_key,
      endpoint: join.endpoint,
    });
    return this.gateway(id)!;
  }

  gateway(id: string): GatewayRow | undefined {
    return (this.db.query("SELECT * FROM gateways WHERE id = ?").get(id) as GatewayRow | null) ?? undefined;
  }

  /** Inserts a gateway or client device row with a new id and its own slot of the tunnel address pool. */
  #insertWithAddresses(table: "gateways" | "clients", row: Record<string, string | null>): string {
    const id = crypto.randomUUID();
    const addrIndex = Number(
      this.db.query("INSERT INTO address_pool (owner) VALUES (?)").run(id).lastInsertRowid,
    );
    const values = { id, ...row, addr_index: addrIndex, last_seen_at: this.now() };
    const columns = Object.keys(values);
    this.db
      .query(`INSERT INTO ${table} (${columns.join(", ")}) VALUES (${columns.map(() => "?").join(", ")})`)
      .run(...Object.values(values));
    return id;
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
        .run(actorId, join.name ?? null, join.public_key, this.now(), existing.id);
      // Flows belong to the actor that asked for them; another actor on the device starts afresh.
      this.db
        .query(
          "DELETE FROM flows WHERE client_id = ? AND token_id NOT IN (SELECT id FROM tokens WHERE actor_id = ?)",
        )
        .run(existing.id, actorId);
      return this.client(existing.id)!;
    }
    const id = this.#insertWithAddresses("clients", {
      account_id: accountId,
      actor_id: actorId,
      external_id: join.external_id,
      name: join.name ?? null,
      public_key: join.public_key,
    });
    return this.client(id)!;
  }

  client(id: string): ClientRow | undefined {
    return (this.db.query("SELECT * FROM clients WHERE id = ?").get(id) as ClientRow | null) ?? undefined;
  }

  // ---- resources, policies ----

  createResource(
    accountId: string,
    siteId: string,
    r: { name: string; type: ResourceType; address?: string },
  ): Resource {
    const id = crypto.randomUUID();
    const address = normalizeResourceAddress(r.type, r.address ?? "");
    if (r.type === "internet") this.#refuseSecondInternet(accountId);
    this.db
      .query(
        "INSERT INTO resources (id, account_id, site_id, name, type, address, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
      )
      .run(id, accountId, siteId, r.name, r.type, address, this.now());
    return this.resource(id)!;
  }

  updateResource(
    resourceId: string,
    patch: { name?: string; type?: ResourceType; address?: string; siteId?: string },
  ): Resource {
    const current = this.resource(resourceId);
    if (!current) throw new Error("no such resource");
    const type = patch.type ?? current.type;
    if (type === "internet" && current.type !== "internet")
      this.#refuseSecondInternet(this.#accountOfResource(resourceId));
    // Switching to or from `internet` drops the old address: one has none, the other needs one.
    const address = normalizeResourceAddress(
      type,
      patch.address ?? ((type === "internet") === (current.type === "internet") ? current.address : ""),
    );
    this.db
      .query("UPDATE resources SET name = ?, type = ?, address = ?, site_id = ? WHERE id = ?")
      .run(patch.name ?? current.name, type, address, patch.siteId ?? current.site.id, resourceId);
    return this.resource(resourceId)!;
  }

  /** Like upstream Firezone, an account has at most one Internet Resource; a site's gateways serve it. */
  #refuseSecondInternet(accountId: string): void {
    const existing = this.db
      .query("SELECT name FROM resources WHERE account_id = ? AND type = 'internet'")
      .get(accountId) as { name: string } | null;
    if (existing)
      throw new Error(
        `this account has an internet resource already ('${existing.name}'); update it (--site) instead of adding another`,
      );
  }

  #accountOfResource(resourceId: string): string {
    return (
      this.db.query("SELECT account_id FROM resources WHERE id = ?").get(resourceId) as { account_id: string }
    ).account_id;
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

  /** Records one name's proxy addresses for a client's flow to a dns resource (replacing that proxy's old name). */
  upsertDnsMapping(
    clientId: string,
    resourceId: string,
    m: { name: string; proxy_ipv4: string; proxy_ipv6: string },
  ): void {
    this.db
      .query(
        `INSERT INTO dns_mappings (client_id, resource_id, name, proxy_ipv4, proxy_ipv6) VALUES (?, ?, ?, ?, ?)
         ON CONFLICT (client_id, proxy_ipv4) DO UPDATE SET resource_id = excluded.resource_id, name = excluded.name, proxy_ipv6 = excluded.proxy_ipv6`,
      )
      .run(clientId, resourceId, m.name, m.proxy_ipv4, m.proxy_ipv6);
  }

  dnsMappings(
    clientId: string,
    resourceId: string,
  ): Array<{ name: string; proxy_ipv4: string; proxy_ipv6: string }> {
    return this.db
      .query(
        "SELECT name, proxy_ipv4, proxy_ipv6 FROM dns_mappings WHERE client_id = ? AND resource_id = ? ORDER BY proxy_ipv4",
      )
      .all(clientId, resourceId) as Array<{ name: string; proxy_ipv4: string; proxy_ipv6: string }>;
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
      account: this.db
        .query("SELECT id, slug, name, upstream_dns, search_domain FROM accounts WHERE id = ?")
        .get(accountId),
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
  type: ResourceType;
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
