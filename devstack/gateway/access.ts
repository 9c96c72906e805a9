// What a gateway lets through: for each client (its key and tunnel addresses) the resources the
// portal allowed it. Pure data; the gateway turns it into WireGuard peers and nftables rules.
// lib/dns/pattern.ts itself, not lib/dns/index.ts: the index loads the D-Bus client (dbus-next),
// which the devstack does not need and the VM guest does not have.
import { parseDnsPattern } from "../../lib/dns/pattern.ts";
import type { GatewayDnsMapping, GatewayInit } from "../../lib/portal/index.ts";
import { isIpv4Cidr, NOT_INTERNET, resourceCidrs } from "../shared/ip.ts";

export interface AccessClient {
  id: string;
  public_key: string;
  ipv4: string;
  ipv6: string;
}

export interface AccessResource {
  id: string;
  type: "cidr" | "ip" | "dns" | "internet";
  address: string;
  /** `dns` resources: one name mapped for this client (each name comes as its own entry). */
  dns?: GatewayDnsMapping | undefined;
}

/** One DNS name a client was given proxy addresses for, under one of its `dns` resources. */
export interface ClientDnsMapping {
  clientV4: string;
  clientV6: string;
  proxyV4: string;
  proxyV6: string;
  name: string;
}

/** The real addresses a (client, proxy address) pair is translated to now. */
export type RealAddressOf = (
  clientV4: string,
  proxyV4: string,
) => { v4: string | null; v6: string | null } | null;

interface Granted {
  resource: AccessResource;
  /** `dns` resources: the names mapped for this client, by proxy IPv4 address. */
  dns: Map<string, GatewayDnsMapping>;
}

/**
 * One source address and the destinations it may reach: listed ones, or (`except`, for an Internet
 * Resource) every destination but these.
 */
export type FilterRule =
  | { family: "ip" | "ip6"; source: string; destinations: string[] }
  | { family: "ip" | "ip6"; source: string; except: readonly string[] };

export class AccessTable {
  readonly #clients = new Map<string, { client: AccessClient; resources: Map<string, Granted> }>();

  /** Replaces everything with the portal's `init.access`; an entry the table refuses is skipped. */
  replace(access: GatewayInit["access"], onRefused: (error: Error) => void = () => {}): void {
    this.#clients.clear();
    for (const entry of access)
      for (const r of entry.resources) {
        try {
          this.allow(entry.client, r);
        } catch (e) {
          onRefused(e as Error);
        }
      }
  }

  /**
   * Grants `resource` to `client`; for a `dns` resource, `dns` adds one name's mapping. A name the
   * resource's pattern does not cover is refused (a client must not map arbitrary names through a
   * resource it holds), and so is a different resource's pattern reusing the same proxy address.
   */
  allow(client: AccessClient, resource: AccessResource): void {
    const dns = resource.dns;
    if (dns && (resource.type !== "dns" || !parseDnsPattern(resource.address).matches(dns.name)))
      throw new Error(`the name ${dns.name} is not covered by resource ${resource.id}`);
    let entry = this.#clients.get(client.id);
    if (entry) entry.client = client;
    else {
      entry = { client, resources: new Map() };
      this.#clients.set(client.id, entry);
    }
    const granted = entry.resources.get(resource.id);
    const mappings = granted && granted.resource.address === resource.address ? granted.dns : new Map();
    if (dns) {
      for (const g of entry.resources.values()) if (g !== granted) g.dns.delete(dns.proxy_ipv4);
      mappings.set(dns.proxy_ipv4, dns);
    }
    const { dns: _one, ...plain } = resource;
    entry.resources.set(resource.id, { resource: plain, dns: mappings });
  }

  reject(clientId: string, resourceId: string): void {
    const entry = this.#clients.get(clientId);
    if (!entry) return;
    entry.resources.delete(resourceId);
    if (entry.resources.size === 0) this.#clients.delete(clientId);
  }

  get size(): number {
    return this.#clients.size;
  }

  /** One WireGuard peer per client, reachable at its tunnel addresses. */
  peers(): Array<{ publicKey: string; allowedIps: string[] }> {
    const byKey = new Map<string, string[]>();
    for (const { client } of this.#clients.values()) {
      byKey.set(client.public_key, [
        ...(byKey.get(client.public_key) ?? []),
        `${client.ipv4}/32`,
        `${client.ipv6}/128`,
      ]);
    }
    return [...byKey].map(([publicKey, allowedIps]) => ({ publicKey, allowedIps }));
  }

  /** Every DNS name mapping in force, for the gateway's DNAT table. */
  dnsMappings(): ClientDnsMapping[] {
    const out: ClientDnsMapping[] = [];
    for (const { client, resources } of this.#clients.values())
      for (const g of resources.values())
        for (const m of g.dns.values())
          out.push({
            clientV4: client.ipv4,
            clientV6: client.ipv6,
            proxyV4: m.proxy_ipv4,
            proxyV6: m.proxy_ipv6,
            name: m.name,
          });
    return out;
  }

  /**
   * Per client source address, the resource destinations of the same family, sorted. A `dns`
   * resource contributes the real addresses its names are translated to now (the filter sees
   * packets after the DNAT), so a client reaches exactly the names it was granted.
   */
  rules(realOf: RealAddressOf = () => null): FilterRule[] {
    const rules: FilterRule[] = [];
    const ids = [...this.#clients.keys()].sort();
    for (const id of ids) {
      const { client, resources } = this.#clients.get(id)!;
      const granted = [...resources.values()];
      const cidrs = granted.flatMap(({ resource: r, dns }) => {
        if (r.type === "internet") return [];
        if (r.type !== "dns") return resourceCidrs(r.type, r.address);
        return [...dns.values()].flatMap((m) => {
          const real = realOf(client.ipv4, m.proxy_ipv4);
          return [...(real?.v4 ? [`${real.v4}/32`] : []), ...(real?.v6 ? [`${real.v6}/128`] : [])];
        });
      });
      const v4 = [...new Set(cidrs.filter(isIpv4Cidr))].sort();
      const v6 = [...new Set(cidrs.filter((c) => !isIpv4Cidr(c)))].sort();
      if (v4.length) rules.push({ family: "ip", source: client.ipv4, destinations: v4 });
      if (v6.length) rules.push({ family: "ip6", source: client.ipv6, destinations: v6 });
      if (granted.some((g) => g.resource.type === "internet")) {
        rules.push({ family: "ip", source: client.ipv4, except: NOT_INTERNET.ip });
        rules.push({ family: "ip6", source: client.ipv6, except: NOT_INTERNET.ip6 });
      }
    }
    return rules;
  }
}
