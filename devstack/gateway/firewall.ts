// The gateway's nftables table: forwarding from the tunnel is allowed only per (client address,
// resource) pair, replies come back through conntrack, clients cannot reach the gateway itself, and
// what leaves towards the resources (and, for an Internet Resource, towards the internet through the
// uplink) is masqueraded. The whole table is replaced in one `nft -f`
// transaction on every change, so a half-applied rule set never exists.
import type { FilterRule } from "./access.ts";

export const TABLE = "fz_gateway";
const POOLS = { ip: "100.64.0.0/11", ip6: "fd00:2021:1111::/107" } as const;

const quote = (name: string) => {
  if (!/^[A-Za-z0-9_.-]{1,15}$/.test(name)) throw new Error(`bad interface name '${name}'`);
  return `"${name}"`;
};

/** The nft script for interface `tunnel` and these rules. */
export function renderRuleset(tunnel: string, rules: FilterRule[]): string {
  const wg = quote(tunnel);
  const allow = rules.map((r) =>
    "destinations" in r
      ? `    ${r.family} saddr ${r.source} ${r.family} daddr { ${r.destinations.join(", ")} } accept`
      : `    ${r.family} saddr ${r.source} ${r.family} daddr != { ${r.except.join(", ")} } accept comment "internet resource"`,
  );
  return `table inet ${TABLE} {}
delete table inet ${TABLE}
table inet ${TABLE} {
  chain forward {
    type filter hook forward priority filter; policy accept;
    ct state established,related accept
    iifname ${wg} jump from_clients
    oifname ${wg} counter drop comment "nothing may open a connection to a client"
  }
  chain from_clients {
${allow.join("\n")}${allow.length ? "\n" : ""}    counter drop comment "no policy allows this"
  }
  chain input {
    type filter hook input priority filter; policy accept;
    iifname ${wg} ct state established,related accept
    iifname ${wg} counter drop comment "clients reach resources, not the gateway"
  }
  chain postrouting {
    type nat hook postrouting priority srcnat; policy accept;
    oifname != ${wg} ip saddr ${POOLS.ip} masquerade
    oifname != ${wg} ip6 saddr ${POOLS.ip6} masquerade
  }
}
`;
}

export function removeRuleset(): string {
  return `table inet ${TABLE} {}\ndelete table inet ${TABLE}\n`;
}

/** Loads a script with `nft -f -`; throws with nft's message on failure. */
export async function applyNft(script: string): Promise<void> {
  const p = Bun.spawn(["nft", "-f", "-"], {
    stdin: new TextEncoder().encode(script),
    stdout: "ignore",
    stderr: "pipe",
  });
  const [err, code] = await Promise.all([new Response(p.stderr).text(), p.exited]);
  if (code !== 0) throw new Error(`nft failed (exit ${code}): ${err.trim()}`);
}

/**
 * Turns on IPv4 and IPv6 forwarding in this network namespace. A switch already on is left alone:
 * in a container /proc/sys is read-only, and compose's `sysctls` has set them (docker/compose.yaml).
 */
export async function enableForwarding(): Promise<void> {
  for (const path of ["/proc/sys/net/ipv4/ip_forward", "/proc/sys/net/ipv6/conf/all/forwarding"]) {
    if ((await Bun.file(path).text()).trim() !== "1") await Bun.write(path, "1\n");
  }
}
