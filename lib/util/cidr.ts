// IPv4/IPv6 addresses and CIDR prefixes as bytes, parsed strictly and printed canonically, so that
// "10.0.0.1/24", "10.0.0.0/24" and what the kernel reports can be compared as strings.

/** An address with its prefix length; `bytes` has 4 (IPv4) or 16 (IPv6) entries. */
export interface Cidr {
  family: 4 | 6;
  bytes: Uint8Array;
  prefix: number;
}

/** Parses a dotted IPv4 or RFC 4291 IPv6 address; returns null when the text is not one. */
export function parseIp(text: string): { family: 4 | 6; bytes: Uint8Array } | null {
  const v4 = parseIpv4(text);
  if (v4) return { family: 4, bytes: v4 };
  const v6 = parseIpv6(text);
  return v6 ? { family: 6, bytes: v6 } : null;
}

function parseIpv4(text: string): Uint8Array | null {
  const parts = text.split(".");
  if (parts.length !== 4) return null;
  const out = new Uint8Array(4);
  for (let i = 0; i < 4; i++) {
    const p = parts[i]!;
    if (!/^(0|[1-9]\d{0,2})$/.test(p) || Number(p) > 255) return null;
    out[i] = Number(p);
  }
  return out;
}

function parseIpv6(text: string): Uint8Array | null {
  if (!/^[0-9a-fA-F:.]+$/.test(text)) return null;
  const halves = text.split("::");
  if (halves.length > 2) return null;
  const groups = (s: string): number[] | null => {
    if (s === "") return [];
    const out: number[] = [];
    const parts = s.split(":");
    for (let i = 0; i < parts.length; i++) {
      const p = parts[i]!;
      if (i === parts.length - 1 && p.includes(".")) {
        const v4 = parseIpv4(p);
        if (!v4) return null;
        out.push((v4[0]! << 8) | v4[1]!, (v4[2]! << 8) | v4[3]!);
      } else if (/^[0-9a-fA-F]{1,4}$/.test(p)) out.push(Number.parseInt(p, 16));
      else return null;
    }
    return out;
  };
  const head = groups(halves[0]!);
  const tail = halves.length === 2 ? groups(halves[1]!) : [];
  if (!head || !tail) return null;
  const fill = 8 - head.length - tail.length;
  if (halves.length === 2 ? fill < 1 : fill !== 0) return null;
  const all = [...head, ...new Array<number>(fill).fill(0), ...tail];
  const out = new Uint8Array(16);
  all.forEach((g, i) => {
    out[i * 2] = g >> 8;
    out[i * 2 + 1] = g & 0xff;
  });
  return out;
}

/** Canonical text of an address: dotted quad, or RFC 5952 IPv6 (lowercase, longest zero run as ::). */
export function formatIp(bytes: Uint8Array): string {
  if (bytes.length === 4) return Array.from(bytes).join(".");
  if (bytes.length !== 16) throw new Error(`not an IP address: ${bytes.length} bytes`);
  const g = Array.from({ length: 8 }, (_, i) => (bytes[i * 2]! << 8) | bytes[i * 2 + 1]!);
  let bestAt = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    if (g[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && g[j] === 0) j++;
    if (j - i > bestLen) [bestAt, bestLen] = [i, j - i];
    i = j;
  }
  const hex = (a: number[]) => a.map((x) => x.toString(16)).join(":");
  if (bestAt < 0) return hex(g);
  return `${hex(g.slice(0, bestAt))}::${hex(g.slice(bestAt + bestLen))}`;
}

/** Parses "addr/prefix" (or a bare address, taken as a host route); throws a readable error. */
export function parseCidr(text: string): Cidr {
  const [addr, len, extra] = text.trim().split("/");
  const ip = addr === undefined ? null : parseIp(addr);
  if (!ip || extra !== undefined) throw new Error(`not an IP address or CIDR: "${text}"`);
  const max = ip.family === 4 ? 32 : 128;
  const prefix = len === undefined ? max : /^\d{1,3}$/.test(len) ? Number(len) : Number.NaN;
  if (!(prefix >= 0 && prefix <= max)) throw new Error(`bad prefix length in "${text}" (0-${max})`);
  return { family: ip.family, bytes: ip.bytes, prefix };
}

/** The network of a prefix: host bits cleared ("10.1.2.3/8" -> 10.0.0.0/8). */
export function networkOf(c: Cidr): Cidr {
  const bytes = new Uint8Array(c.bytes);
  for (let i = 0; i < bytes.length; i++) {
    const keep = Math.max(0, Math.min(8, c.prefix - i * 8));
    bytes[i] = bytes[i]! & ((0xff << (8 - keep)) & 0xff);
  }
  return { family: c.family, bytes, prefix: c.prefix };
}

export function formatCidr(c: Cidr): string {
  return `${formatIp(c.bytes)}/${c.prefix}`;
}

/** Canonical network text of a CIDR, for comparing route sets: "10.1.2.3/8" -> "10.0.0.0/8". */
export function normalizeCidr(text: string): string {
  return formatCidr(networkOf(parseCidr(text)));
}

/** Parses a WireGuard endpoint "1.2.3.4:51820" or "[fd00::1]:51820". */
export function parseEndpoint(text: string): { family: 4 | 6; bytes: Uint8Array; port: number } {
  const m = /^\[([^\]]+)\]:(\d+)$/.exec(text) ?? /^([^:]+):(\d+)$/.exec(text);
  const ip = m ? parseIp(m[1]!) : null;
  const port = m ? Number(m[2]) : -1;
  if (!ip || !(port > 0 && port < 65536)) throw new Error(`not an endpoint "ip:port": "${text}"`);
  return { ...ip, port };
}

export function formatEndpoint(bytes: Uint8Array, port: number): string {
  return bytes.length === 4 ? `${formatIp(bytes)}:${port}` : `[${formatIp(bytes)}]:${port}`;
}
