// The portal's admin CLI. It writes the same sqlite file as the running portal (WAL mode); the portal
// polls sqlite's data_version and pushes each commit to connected clients and gateways, so there is
// no admin endpoint or secret. Every command prints one JSON line; tokens are printed once, here.
//
//   bun devstack/portal/admin.ts <command> --db FILE [options]      (or FIREZONE_PORTAL_DB=FILE)
import { parseArgs } from "node:util";
import { EVERYONE, Store } from "./store.ts";

const USAGE = `usage: admin.ts <command> --db FILE [options]
  create-account       --slug S [--name N]
  create-actor         --account A --name N [--type user|service_account] [--password P | --password-stdin] [--group G]...
  add-member           --account A --actor N --group G
  remove-member        --account A --actor N --group G
  disable-actor        --account A --actor N
  create-token         --account A --actor N [--expires-in 30d|12h|90s|never]     prints the token once
  revoke-token         --account A (--id TOKEN_ID | --actor N)
  list-tokens          --account A
  create-site          --account A --name N
  create-gateway-token --account A --site S [--expires-in ...]                      prints the token once
  create-resource      --account A --site S --name N --type ip|cidr|dns --address X   (dns: a name pattern, docs/dns.md)
  create-resource      --account A --site S --name N --type internet              (no address; one per account)
  update-resource      --account A --resource R [--name N] [--type ip|cidr|dns|internet] [--address X] [--site S]
  delete-resource      --account A --resource R
  create-policy        --account A --group G --resource R       (group 'everyone' holds every actor)
  delete-policy        --account A --group G --resource R
  set-upstream-dns     --account A --servers 1.1.1.1,9.9.9.9
  set-search-domain    --account A --domain corp.example             (--domain "" removes it)
  show                 --account A`;

function duration(text: string | undefined): number | null | undefined {
  if (text === undefined) return undefined;
  if (text === "never") return null;
  const m = /^(\d+)(ms|s|m|h|d)$/.exec(text);
  if (!m) throw new Error(`--expires-in '${text}' is not a duration like 90s, 15m, 12h, 30d or 'never'`);
  const unit = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }[
    m[2] as "ms" | "s" | "m" | "h" | "d"
  ];
  return Number(m[1]) * unit;
}

async function main(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      db: { type: "string" },
      slug: { type: "string" },
      name: { type: "string" },
      type: { type: "string" },
      password: { type: "string" },
      "password-stdin": { type: "boolean" },
      group: { type: "string", multiple: true },
      account: { type: "string" },
      actor: { type: "string" },
      id: { type: "string" },
      site: { type: "string" },
      resource: { type: "string" },
      address: { type: "string" },
      servers: { type: "string" },
      domain: { type: "string" },
      "expires-in": { type: "string" },
      help: { type: "boolean", short: "h" },
    },
  });
  const command = positionals[0];
  if (values.help || !command) {
    console.log(USAGE);
    return command || values.help ? 0 : 64;
  }
  const db = values.db ?? process.env.FIREZONE_PORTAL_DB;
  if (!db) throw new UsageError("--db FILE (or FIREZONE_PORTAL_DB) is required");
  const need = (key: keyof typeof values): string => {
    const raw = values[key];
    const x = Array.isArray(raw) ? raw.at(-1) : raw;
    if (typeof x !== "string" || x === "") throw new UsageError(`${command} needs --${key}`);
    return x;
  };
  const store = new Store(db);
  const out = (x: unknown) => console.log(JSON.stringify(x));
  try {
    if (command === "create-account") {
      const a = store.createAccount(need("slug"), values.name);
      out({ id: a.id, slug: a.slug, name: a.name });
      return 0;
    }
    const account = store.requireAccount(need("account"));
    switch (command) {
      case "create-actor": {
        const type = (values.type ?? "user") as "user" | "service_account";
        if (type !== "user" && type !== "service_account")
          throw new UsageError("--type is user or service_account");
        const password = values["password-stdin"]
          ? (await Bun.stdin.text()).replace(/\r?\n$/, "")
          : values.password;
        const a = store.createActor(account.id, need("name"), {
          type,
          ...(password ? { password } : {}),
          groups: values.group ?? [],
        });
        out({ id: a.id, name: a.name, type: a.type });
        return 0;
      }
      case "add-member":
      case "remove-member": {
        const actor = store.requireActor(account.id, need("actor"));
        const group = need("group");
        if (command === "add-member") store.addMember(actor.id, store.group(account.id, group, true)!);
        else {
          const g = store.group(account.id, group);
          if (!g || group === EVERYONE) throw new Error(`cannot remove from group '${group}'`);
          store.removeMember(actor.id, g);
        }
        out({ actor: actor.name, group, member: command === "add-member" });
        return 0;
      }
      case "disable-actor": {
        const actor = store.requireActor(account.id, need("actor"));
        store.disableActor(actor.id);
        out({ id: actor.id, disabled: true });
        return 0;
      }
      case "create-token": {
        const actor = store.requireActor(account.id, need("actor"));
        const t = store.createClientToken(actor.id, { expiresInMs: duration(values["expires-in"]) });
        out({ id: t.id, actor: actor.name, token: t.token });
        return 0;
      }
      case "revoke-token": {
        if (values.id) {
          const ok = store.revokeToken(values.id);
          if (!ok) throw new Error(`no live token '${values.id}'`);
          out({ id: values.id, revoked: true });
        } else {
          const actor = store.requireActor(account.id, need("actor"));
          out({ actor: actor.name, revoked: store.revokeActorTokens(actor.id) });
        }
        return 0;
      }
      case "list-tokens":
        out(store.listTokens(account.id));
        return 0;
      case "create-site":
        out(store.createSite(account.id, need("name")));
        return 0;
      case "create-gateway-token": {
        const site = store.requireSite(account.id, need("site"));
        const t = store.createGatewayToken(site.id, { expiresInMs: duration(values["expires-in"]) });
        out({ id: t.id, site: site.name, token: t.token });
        return 0;
      }
      case "create-resource": {
        const site = store.requireSite(account.id, need("site"));
        const type = need("type");
        if (type !== "ip" && type !== "cidr" && type !== "dns" && type !== "internet")
          throw new UsageError("--type is ip, cidr, dns or internet");
        if (type === "internet" && values.address !== undefined)
          throw new UsageError("an internet resource takes no --address: it stands for everything else");
        const address = type === "internet" ? "" : need("address");
        out(store.createResource(account.id, site.id, { name: need("name"), type, address }));
        return 0;
      }
      case "update-resource": {
        const r = store.requireResource(account.id, need("resource"));
        const type = values.type as "ip" | "cidr" | "dns" | "internet" | undefined;
        if (type !== undefined && type !== "ip" && type !== "cidr" && type !== "dns" && type !== "internet")
          throw new UsageError("--type is ip, cidr, dns or internet");
        out(
          store.updateResource(r.id, {
            ...(values.name ? { name: values.name } : {}),
            ...(type ? { type } : {}),
            ...(values.address ? { address: values.address } : {}),
            ...(values.site ? { siteId: store.requireSite(account.id, values.site).id } : {}),
          }),
        );
        return 0;
      }
      case "delete-resource": {
        const r = store.requireResource(account.id, need("resource"));
        store.deleteResource(r.id);
        out({ id: r.id, deleted: true });
        return 0;
      }
      case "create-policy":
      case "delete-policy": {
        const r = store.requireResource(account.id, need("resource"));
        const groupName = need("group");
        const group = store.group(account.id, groupName, command === "create-policy");
        if (!group) throw new Error(`no group '${groupName}'`);
        if (command === "create-policy")
          out({ id: store.createPolicy(account.id, group, r.id), group: groupName, resource: r.name });
        else out({ group: groupName, resource: r.name, deleted: store.deletePolicy(group, r.id) });
        return 0;
      }
      case "set-upstream-dns": {
        const servers = need("servers")
          .split(",")
          .map((s) => s.trim())
          .filter(Boolean);
        store.setUpstreamDns(account.id, servers);
        out({ upstream_dns: servers });
        return 0;
      }
      case "set-search-domain": {
        // An empty --domain removes it, so `need` (which refuses empty values) is not used.
        if (typeof values.domain !== "string") throw new UsageError(`${command} needs --domain`);
        const domain = values.domain.trim();
        store.setSearchDomain(account.id, domain === "" ? null : domain);
        out({ search_domain: domain === "" ? null : domain });
        return 0;
      }
      case "show":
        out(store.dump(account.id));
        return 0;
      default:
        throw new UsageError(`unknown command '${command}'`);
    }
  } finally {
    store.close();
  }
}

class UsageError extends Error {}

try {
  process.exitCode = await main(process.argv.slice(2));
} catch (e) {
  const message = e instanceof Error ? e.message : String(e);
  console.error(`admin: ${message}`);
  if (e instanceof UsageError) console.error(USAGE);
  process.exitCode = e instanceof UsageError ? 64 : 1;
}
