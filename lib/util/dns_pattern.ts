// The address of a `dns` resource: a host name, or a pattern with `*` (one label), `**` (any
// number of labels) or `?` (one character), as Firezone's portal writes them. Parsed here so that
// the DNS resource work receives a checked, lower-cased value.

import { displayText } from "./text.ts";

declare const dnsPatternBrand: unique symbol;
export type DnsPattern = string & { readonly [dnsPatternBrand]: "DnsPattern" };

const LABEL = /^(?:\*\*|\*|[a-z0-9?_*](?:[a-z0-9?_*-]{0,61}[a-z0-9?_*])?)$/;

/** Checks a name pattern: at most 253 characters, labels of 1-63 of [a-z0-9-_*?], no empty label. */
export function parseDnsPattern(text: string): DnsPattern {
  const name = text.toLowerCase().replace(/\.$/, "");
  const labels = name.split(".");
  if (name.length === 0 || name.length > 253 || !labels.every((l) => LABEL.test(l)))
    throw new Error(`not a DNS name or pattern: "${displayText(text, 64)}"`);
  return name as DnsPattern;
}
