// The portal's `search_domain` (interface/init and config_changed): the domain resolvers append to
// single-label names ("gitlab" -> "gitlab.corp.example"). It reaches systemd-resolved over D-Bus and
// the `search` line of /etc/resolv.conf, so it is checked here, where it enters.
import { domainToASCII } from "node:url";
import { displayText } from "./text.ts";

declare const searchDomainBrand: unique symbol;
export type SearchDomain = string & { readonly [searchDomainBrand]: "SearchDomain" };

const LABEL = /^[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?$/;

/**
 * A plain domain name: case-insensitive, one trailing dot tolerated, Unicode converted to punycode;
 * labels of 1-63 letters, digits, "-" and "_"; at most 253 characters; no wildcards. Throws an
 * Error saying what is wrong.
 */
export function parseSearchDomain(text: string): SearchDomain {
  const shown = displayText(text, 64);
  if (text.length > 1024) throw new Error(`search domain "${shown}" is longer than 253 characters`);
  let name = text.trim().toLowerCase().replace(/\.$/, "");
  if (/[^\x21-\x7e]/.test(name) && !/[\x00-\x20\x7f]/.test(name)) name = domainToASCII(name);
  if (name.length === 0) throw new Error(`search domain "${shown}" is empty or not a domain name`);
  if (name.length > 253) throw new Error(`search domain "${shown}" is longer than 253 characters`);
  if (!name.split(".").every((l) => LABEL.test(l)))
    throw new Error(
      `search domain "${shown}" is not a domain name (labels of letters, digits, "-" and "_", no wildcards)`,
    );
  return name as SearchDomain;
}
