// DNS resource addresses: an exact name or a wildcard pattern, following Firezone's published rules.
//   `**` (a whole label)   zero or more labels:  **.corp.example matches corp.example, a.corp.example, a.b.corp.example
//   `*`  (a whole label)   exactly one label:    *.corp.example matches a.corp.example, not corp.example or a.b.corp.example
//   `*`  (inside a label)  any run of characters within that label: app-*.corp.example matches app-1.corp.example
//   `?`                    exactly one character within a label: us-east?.corp.example matches us-east1.corp.example
// Patterns are case-insensitive, tolerate a trailing dot, and hold internationalised labels as punycode.
import { DnsNameError, type DomainName, short, toAsciiName } from "./name.ts";

/** A parsed pattern: its canonical text, and the specificity used when several patterns match one name. */
export interface DnsPattern {
  /** Canonical form: lower-case ASCII, no trailing dot ("**.corp.example"). */
  readonly text: string;
  readonly exact: boolean;
  /** Lower sorts first: exact names, then fewer `**`, fewer `*`, fewer `?`, more labels. */
  readonly rank: readonly number[];
  /** True when `name` (canonical, see parseDomainName) matches. */
  matches(name: string): boolean;
}

// A literal label holds these; a wildcard label may add "*" and "?".
const WILD_LABEL = /^[a-z0-9_*?-]+$/;
const LITERAL_LABEL = /^[a-z0-9_](?:[a-z0-9_-]*[a-z0-9_])?$/;

type LabelMatcher = { kind: "any-labels" } | { kind: "literal"; text: string } | { kind: "glob"; re: RegExp };

/** Parses a DNS resource address; throws DnsNameError naming what is wrong and how to write it. */
export function parseDnsPattern(text: string): DnsPattern {
  const ascii = toAsciiName(text);
  const labels = ascii.split(".");
  let doubles = 0;
  let stars = 0;
  let questions = 0;
  let literals = 0;
  const matchers: LabelMatcher[] = labels.map((label) => {
    if (label === "**") {
      doubles++;
      return { kind: "any-labels" };
    }
    if (!WILD_LABEL.test(label))
      throw new DnsNameError(
        `"${short(text)}" has a label "${short(label)}" with characters a name pattern cannot hold (letters, digits, "-", "_", and the wildcards "*", "**", "?").`,
      );
    if (label.includes("**"))
      throw new DnsNameError(
        `"${short(text)}": "**" must be a whole label (as in **.corp.example), not part of "${short(label)}".`,
      );
    if (!label.includes("*") && !label.includes("?")) {
      if (!LITERAL_LABEL.test(label))
        throw new DnsNameError(`"${short(text)}": the label "${short(label)}" cannot start or end with "-".`);
      literals++;
      return { kind: "literal", text: label };
    }
    stars += label.includes("*") ? 1 : 0;
    questions += [...label].filter((c) => c === "?").length;
    const source = [...label].map((c) => (c === "*" ? "[a-z0-9_-]*" : c === "?" ? "[a-z0-9_-]" : c)).join("");
    return { kind: "glob", re: new RegExp(`^${source}$`) };
  });
  // A pattern without one literal label ("*", "**", "*.*") would capture every name on the host.
  if (literals === 0)
    throw new DnsNameError(
      `"${short(text)}" would match every name; a pattern needs at least one label without wildcards (as in *.corp.example).`,
    );
  if (doubles > 4) throw new DnsNameError(`"${short(text)}" has more than 4 "**" labels.`);
  const exact = doubles + stars + questions === 0;
  const matches = exact
    ? (name: string) => name === ascii
    : (name: string) => matchLabels(matchers, name.split("."));
  return { text: ascii, exact, rank: [exact ? 0 : 1, doubles, stars, questions, -labels.length], matches };
}

/** Label-by-label match with `**` spanning any number of labels; memoised so it stays O(P*N). */
function matchLabels(pattern: LabelMatcher[], name: string[]): boolean {
  const failed = new Set<number>();
  const width = name.length + 1;
  const go = (p: number, n: number): boolean => {
    if (p === pattern.length) return n === name.length;
    if (failed.has(p * width + n)) return false;
    const m = pattern[p]!;
    let ok: boolean;
    if (m.kind === "any-labels") {
      ok = false;
      for (let k = n; k <= name.length && !ok; k++) ok = go(p + 1, k);
    } else {
      const label = name[n];
      ok =
        label !== undefined &&
        (m.kind === "literal" ? label === m.text : m.re.test(label)) &&
        go(p + 1, n + 1);
    }
    if (!ok) failed.add(p * width + n);
    return ok;
  };
  return go(0, 0);
}

/** Orders patterns most specific first; ties are broken by the canonical text so the order is stable. */
export function compareDnsPatterns(a: DnsPattern, b: DnsPattern): number {
  for (let i = 0; i < a.rank.length; i++) {
    const d = a.rank[i]! - b.rank[i]!;
    if (d !== 0) return d;
  }
  return a.text < b.text ? -1 : a.text > b.text ? 1 : 0;
}

/** One DNS resource as the stub needs it. */
export interface DnsResourceEntry {
  id: string;
  pattern: DnsPattern;
}

/**
 * The set of DNS resources, answering "which resource, if any, does this name belong to?". Exact
 * names are a map lookup; wildcard patterns are tried most specific first, with recent answers
 * remembered (bounded) because the same names are asked again and again.
 */
export class DnsResourceTable {
  readonly #exact = new Map<string, string>();
  readonly #wild: DnsResourceEntry[];
  readonly #cache = new Map<string, string | null>();
  static readonly CACHE_LIMIT = 8192;

  constructor(entries: readonly DnsResourceEntry[]) {
    const sorted = [...entries].sort(
      (a, b) => compareDnsPatterns(a.pattern, b.pattern) || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0),
    );
    for (const e of sorted)
      if (e.pattern.exact && !this.#exact.has(e.pattern.text)) this.#exact.set(e.pattern.text, e.id);
    this.#wild = sorted.filter((e) => !e.pattern.exact);
  }

  get size(): number {
    return this.#exact.size + this.#wild.length;
  }

  /** The id of the most specific resource whose pattern matches `name` (canonical), or null. */
  match(name: DomainName | string): string | null {
    const exact = this.#exact.get(name);
    if (exact !== undefined) return exact;
    if (this.#wild.length === 0) return null;
    const cached = this.#cache.get(name);
    if (cached !== undefined) return cached;
    let found: string | null = null;
    for (const e of this.#wild)
      if (e.pattern.matches(name)) {
        found = e.id;
        break;
      }
    if (this.#cache.size >= DnsResourceTable.CACHE_LIMIT) this.#cache.clear();
    this.#cache.set(name, found);
    return found;
  }
}
