// What a gateway lets through: for each client (its key and tunnel addresses) the resources the
// portal allowed it. Pure data; the gateway turns it into WireGuard peers and nftables rules.
import type { GatewayInit } from "../../lib/portal/index.ts";
import { isIpv4Cidr, NOT_INTERNET, resourceCidrs } from "../shared/ip.ts";

export interface AccessClient {
  id: string;
  public_key: string;
  ipv4: string;
  ipv6: string;
}

export interface AccessResource {
  id: string;
  type: "cidr" | "ip" | "internet";
  address: string;
}

/**
 * One source address and the destinations it may reach: listed ones, or (`except`, for an Internet
 * Resource) every destination but these.
 */
export type FilterRule =
  | { family: "ip" | "ip6"; source: string; destinations: string[] }
  | { family: "ip" | "ip6"; source: string; except: readonly string[] };

export class AccessTable {
  readonly #clients = new Map<string, { client: AccessClient; resources: Map<string, AccessResource> }>();

  /** Replaces everything with the portal's `init.access`. */
  replace(access: GatewayInit["access"]): void {
    this.#clients.clear();
    for (const entry of access) for (const r of entry.resources) this.allow(entry.client, r);
  }

  allow(client: AccessClient, resource: AccessResource): void {
    const entry = this.#clients.get(client.id);
    if (entry) {
      entry.client = client;
      entry.resources.set(resource.id, resource);
    } else {
      this.#clients.set(client.id, { client, resources: new Map([[resource.id, resource]]) });
    }
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

  /** Per client source address, the resource destinations of the same family, sorted. */
  rules(): FilterRule[] {
    const rules: FilterRule[] = [];
    const ids = [...this.#clients.keys()].sort();
    for (const id of ids) {
      const { client, resources } = this.#clients.get(id)!;
      const listed = [...resources.values()].filter((r) => r.type !== "internet");
      const cidrs = listed.flatMap((r) => resourceCidrs(r.type, r.address));
      const v4 = [...new Set(cidrs.filter(isIpv4Cidr))].sort();
      const v6 = [...new Set(cidrs.filter((c) => !isIpv4Cidr(c)))].sort();
      if (v4.length) rules.push({ family: "ip", source: client.ipv4, destinations: v4 });
      if (v6.length) rules.push({ family: "ip6", source: client.ipv6, destinations: v6 });
      if ([...resources.values()].some((r) => r.type === "internet")) {
        rules.push({ family: "ip", source: client.ipv4, except: NOT_INTERNET.ip });
        rules.push({ family: "ip6", source: client.ipv6, except: NOT_INTERNET.ip6 });
      }
    }
    return rules;
  }
}
