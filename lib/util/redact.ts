// What leaves the machine in a debug bundle: secrets are always cut out; with anonymisation, names,
// addresses outside the tunnel's own ranges and the home directory too. Used by the daemon on its
// parts of a bundle and by firezonectl again on the whole bundle, so a secret has to slip past both.
import { parseIp } from "./cidr.ts";
import { type IpAddr, type IpPrefix, prefixContains } from "./netip.ts";

export const REDACTED = "[REDACTED]";

/**
 * Long opaque words: a WireGuard key (43 base64 characters and `=`), or 32 or more characters of the
 * base64url alphabet holding letters and digits (tokens, the parts of a signed blob). Paths keep
 * their short segments and UUIDs stay readable.
 */
const OPAQUE =
  /(?<![A-Za-z0-9+/=_-])[A-Za-z0-9+/]{43}=(?![A-Za-z0-9+/=_-])|(?<![A-Za-z0-9_+-])(?=[A-Za-z0-9_+-]*[0-9])(?=[A-Za-z0-9_+-]*[A-Za-z])[A-Za-z0-9_+-]{32,}/g;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
/**
 * A secret after a label: `token=x`, `private_key: x`, `"token":"x"` (values of 8 or more
 * characters, so "token: signed in" stays), and anything after `Bearer`.
 */
const LABELLED =
  /\b(token|private[_ -]?key|preshared[_ -]?key|secret|password)(["']?\s*[:=]\s*["']?)([^\s"',;&]{8,})/gi;
const BEARER = /\b(bearer)(\s+)([^\s"',;&]+)/gi;

/**
 * Removes what could be a credential: every value in `known` (the exact token and key the caller
 * holds, when it has them), labelled values and long opaque words. Never throws.
 */
export function redactSecrets(text: string, known: readonly string[] = []): string {
  let out = text;
  for (const secret of known) if (secret.length >= 8) out = out.split(secret).join(REDACTED);
  const cut = (_m: string, label: string, sep: string) => `${label}${sep}${REDACTED}`;
  out = out.replace(LABELLED, cut).replace(BEARER, cut);
  return out.replace(OPAQUE, (m) => (UUID.test(m) ? m : REDACTED));
}

/** Tunnel-side addresses, kept: they identify nothing outside the tunnel. */
const KEPT_PREFIXES = [
  "100.64.0.0/11",
  "100.96.0.0/11",
  "fd00:2021:1111::/107",
  "fd00:2021:1111:8000::/107",
  "127.0.0.0/8",
  "::1/128",
  "0.0.0.0/32",
  "::/128",
] as IpPrefix[];
const KEPT_EXACT = new Set(["100.100.111.1", "fd00:2021:1111:8000:100:100:111:1"]);

const IPV4 = /(?<![\w.:])(\d{1,3}(?:\.\d{1,3}){3})(?![\w:])/g;
/** Candidate IPv6 texts (checked by the parser before anything is replaced). */
const IPV6 = /(?<![\w:.])((?:[0-9a-f]{0,4}:){2,7}[0-9a-f]{0,4})(?![\w:])/gi;

export interface AnonymizerOptions {
  /** Names to replace wherever they occur (actor, account, resources, sites, host, user). */
  names: readonly string[];
  /** The user's home directory, replaced by `~`. */
  home?: string | undefined;
}

/**
 * Replaces each name and each address outside the tunnel ranges by a stable placeholder (`name-1`,
 * `ip4-1`, `ip6-1`), so lines still correlate within one bundle but identify no one.
 */
export class Anonymizer {
  readonly #names: string[];
  readonly #map = new Map<string, string>();
  readonly #counts = { name: 0, ip4: 0, ip6: 0 };

  constructor(private readonly opts: AnonymizerOptions) {
    // Longest first, so "web-prod" is replaced before "web"; very short names would hit ordinary words.
    this.#names = [...new Set(opts.names.filter((n) => n.trim().length >= 3))].sort(
      (a, b) => b.length - a.length,
    );
  }

  #placeholder(kind: "name" | "ip4" | "ip6", value: string): string {
    const key = `${kind}\u0000${value}`;
    let p = this.#map.get(key);
    if (!p) {
      p = `${kind}-${++this.#counts[kind]}`;
      this.#map.set(key, p);
    }
    return p;
  }

  apply(text: string): string {
    let out = text;
    if (this.opts.home && this.opts.home.length > 1) out = out.split(this.opts.home).join("~");
    // Whole words only: a resource called "web" must not turn "websocket" into "name-1socket".
    for (const name of this.#names) {
      const word = new RegExp(`(?<![\\w-])${name.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}(?![\\w-])`, "g");
      out = out.replace(word, this.#placeholder("name", name));
    }
    out = out.replace(IPV4, (m) => (keep(m) ? m : this.#placeholder("ip4", m)));
    out = out.replace(IPV6, (m) => {
      const ip = parseIp(m);
      if (ip?.family !== 6) return m;
      return keep(m) ? m : this.#placeholder("ip6", m.toLowerCase());
    });
    return out;
  }
}

function keep(text: string): boolean {
  const ip = parseIp(text);
  // Not an address after all (a version number, a time): left as it is.
  if (!ip) return true;
  if (KEPT_EXACT.has(text.toLowerCase())) return true;
  return KEPT_PREFIXES.some((p) => prefixContains(p, text as IpAddr));
}
