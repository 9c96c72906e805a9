// The portal's sqlite schema and the row shapes read from it. Ids are UUIDs; times are epoch ms.
export const SCHEMA = `
CREATE TABLE IF NOT EXISTS accounts (
  id TEXT PRIMARY KEY, slug TEXT NOT NULL UNIQUE, name TEXT NOT NULL,
  upstream_dns TEXT NOT NULL DEFAULT '[]', search_domain TEXT, created_at INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS actors (
  id TEXT PRIMARY KEY, account_id TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
  name TEXT NOT NULL, type TEXT NOT NULL CHECK (type IN ('user', 'service_account')),
  password_hash TEXT, disabled_at INTEGER, created_at INTEGER NOT NULL, UNIQUE (account_id, name));
CREATE TABLE IF NOT EXISTS groups (
  id TEXT PRIMARY KEY, account_id TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
  name TEXT NOT NULL, UNIQUE (account_id, name));
CREATE TABLE IF NOT EXISTS memberships (
  actor_id TEXT NOT NULL REFERENCES actors(id) ON DELETE CASCADE,
  group_id TEXT NOT NULL REFERENCES groups(id) ON DELETE CASCADE, PRIMARY KEY (actor_id, group_id));
CREATE TABLE IF NOT EXISTS sites (
  id TEXT PRIMARY KEY, account_id TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
  name TEXT NOT NULL, UNIQUE (account_id, name));
CREATE TABLE IF NOT EXISTS tokens (
  id TEXT PRIMARY KEY, account_id TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
  kind TEXT NOT NULL CHECK (kind IN ('client', 'gateway')),
  actor_id TEXT REFERENCES actors(id) ON DELETE CASCADE, site_id TEXT REFERENCES sites(id) ON DELETE CASCADE,
  hash TEXT NOT NULL UNIQUE, created_at INTEGER NOT NULL, expires_at INTEGER, revoked_at INTEGER,
  last_used_at INTEGER);
CREATE TABLE IF NOT EXISTS address_pool (idx INTEGER PRIMARY KEY AUTOINCREMENT, owner TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS gateways (
  id TEXT PRIMARY KEY, account_id TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
  site_id TEXT NOT NULL REFERENCES sites(id) ON DELETE CASCADE, external_id TEXT NOT NULL,
  name TEXT NOT NULL, public_key TEXT NOT NULL, endpoint TEXT NOT NULL, addr_index INTEGER NOT NULL,
  last_seen_at INTEGER, UNIQUE (site_id, external_id));
CREATE TABLE IF NOT EXISTS clients (
  id TEXT PRIMARY KEY, account_id TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
  actor_id TEXT NOT NULL REFERENCES actors(id) ON DELETE CASCADE, external_id TEXT NOT NULL,
  name TEXT, public_key TEXT NOT NULL, addr_index INTEGER NOT NULL, last_seen_at INTEGER,
  UNIQUE (account_id, external_id));
CREATE TABLE IF NOT EXISTS resources (
  id TEXT PRIMARY KEY, account_id TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
  site_id TEXT NOT NULL REFERENCES sites(id) ON DELETE CASCADE, name TEXT NOT NULL,
  type TEXT NOT NULL CHECK (type IN ('cidr', 'ip', 'internet', 'dns')), address TEXT NOT NULL, created_at INTEGER NOT NULL,
  UNIQUE (account_id, name));
CREATE TABLE IF NOT EXISTS policies (
  id TEXT PRIMARY KEY, account_id TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
  group_id TEXT NOT NULL REFERENCES groups(id) ON DELETE CASCADE,
  resource_id TEXT NOT NULL REFERENCES resources(id) ON DELETE CASCADE, UNIQUE (group_id, resource_id));
CREATE TABLE IF NOT EXISTS flows (
  client_id TEXT NOT NULL REFERENCES clients(id) ON DELETE CASCADE,
  resource_id TEXT NOT NULL REFERENCES resources(id) ON DELETE CASCADE,
  token_id TEXT NOT NULL REFERENCES tokens(id) ON DELETE CASCADE,
  gateway_id TEXT REFERENCES gateways(id) ON DELETE SET NULL, PRIMARY KEY (client_id, resource_id));
-- dns resources: the names a client's stub answered with proxy addresses, for the gateway's DNAT.
-- They live as long as the client's flow to the resource.
CREATE TABLE IF NOT EXISTS dns_mappings (
  client_id TEXT NOT NULL, resource_id TEXT NOT NULL, name TEXT NOT NULL,
  proxy_ipv4 TEXT NOT NULL, proxy_ipv6 TEXT NOT NULL, PRIMARY KEY (client_id, proxy_ipv4),
  FOREIGN KEY (client_id, resource_id) REFERENCES flows(client_id, resource_id) ON DELETE CASCADE);
`;

/** Every actor is in this group; a policy for it opens a resource to the whole account. */
export const EVERYONE = "everyone";

export interface AccountRow {
  id: string;
  slug: string;
  name: string;
  upstream_dns: string;
  /** Sent to clients as interface.search_domain; null: none. */
  search_domain: string | null;
}
export interface ActorRow {
  id: string;
  account_id: string;
  name: string;
  type: "user" | "service_account";
  password_hash: string | null;
  disabled_at: number | null;
}
export interface TokenRow {
  id: string;
  account_id: string;
  kind: "client" | "gateway";
  actor_id: string | null;
  site_id: string | null;
  created_at: number;
  expires_at: number | null;
  revoked_at: number | null;
}
export interface GatewayRow {
  id: string;
  account_id: string;
  site_id: string;
  external_id: string;
  name: string;
  public_key: string;
  endpoint: string;
  addr_index: number;
}
export interface ClientRow {
  id: string;
  account_id: string;
  actor_id: string;
  external_id: string;
  public_key: string;
  addr_index: number;
}
export interface FlowRow {
  client_id: string;
  resource_id: string;
  token_id: string;
  gateway_id: string | null;
}

export type TokenCheck =
  | { ok: true; token: TokenRow }
  | { ok: false; reason: "invalid" | "expired" | "revoked"; token?: TokenRow };
