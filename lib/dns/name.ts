// Domain names as they enter the process (a portal's resource address, a query's name) become one
// canonical form here: ASCII (punycode for internationalised names), lower case, no trailing dot,
// within RFC 1035's bounds. Code further in compares these strings and never re-validates them.
import { domainToASCII } from "node:url";

/** A name in canonical form: lower-case ASCII labels joined by ".", no trailing dot, at most 253 characters. */
export type DomainName = string & { readonly __domainName: unique symbol };

export const MAX_NAME_LENGTH = 253;
export const MAX_LABEL_LENGTH = 63;

/** Why a name was refused; `message` says what was wrong and how to write it instead. */
export class DnsNameError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "DnsNameError";
  }
}

// Letters, digits, hyphen and underscore (SRV-style `_service` labels are names people use).
const LABEL = /^[a-z0-9_](?:[a-z0-9_-]*[a-z0-9_])?$/;

/** Checks the length bounds of a dotted name whose labels are already ASCII. */
export function checkBounds(ascii: string, original: string): void {
  if (ascii.length > MAX_NAME_LENGTH)
    throw new DnsNameError(
      `"${short(original)}" is ${ascii.length} characters long; a DNS name has at most ${MAX_NAME_LENGTH}.`,
    );
  for (const label of ascii.split(".")) {
    if (label.length === 0)
      throw new DnsNameError(
        `"${short(original)}" has an empty label (two dots in a row, or a leading dot).`,
      );
    if (label.length > MAX_LABEL_LENGTH)
      throw new DnsNameError(
        `"${short(original)}" has a label of ${label.length} characters; a label has at most ${MAX_LABEL_LENGTH}.`,
      );
  }
}

/**
 * Parses a host name written by a person or sent by the portal: case-insensitive, a trailing dot
 * tolerated, Unicode converted to punycode. Throws DnsNameError with a readable reason.
 */
export function parseDomainName(text: string): DomainName {
  const ascii = toAsciiName(text);
  for (const label of ascii.split("."))
    if (!LABEL.test(label))
      throw new DnsNameError(
        `"${short(text)}" has a label "${short(label)}" with characters a host name cannot hold (use letters, digits, "-" and "_").`,
      );
  return ascii as DomainName;
}

/** Lower-cases, strips one trailing dot and converts Unicode labels to punycode; checks bounds. */
export function toAsciiName(text: string): string {
  if (text.length > 1024) throw new DnsNameError("the name is longer than 1024 characters.");
  if (/[\u0000-\u0020\u007f]/.test(text))
    throw new DnsNameError(`"${short(text)}" holds spaces or control characters.`);
  let name = text.endsWith(".") ? text.slice(0, -1) : text;
  if (name === "") throw new DnsNameError("the name is empty.");
  // Only non-ASCII labels go through the IDNA conversion, one at a time: it would refuse the "_",
  // "*" and "?" that other labels of a pattern may hold.
  if (/[^\x21-\x7e]/.test(name))
    name = name
      .split(".")
      .map((label) => {
        if (!/[^\x21-\x7e]/.test(label)) return label;
        const converted = label.includes("*") || label.includes("?") ? "" : domainToASCII(label);
        if (converted === "" || converted.includes("."))
          throw new DnsNameError(
            `"${short(text)}" has a label "${short(label)}" that is not a valid internationalised name (wildcards cannot sit inside one).`,
          );
        return converted;
      })
      .join(".");
  name = name.toLowerCase();
  checkBounds(name, text);
  return name;
}

/** Keeps error messages readable when the input is huge or hostile. */
export function short(text: string): string {
  const clean = text.replace(/[^\x20-\x7e]/g, "?");
  return clean.length > 80 ? `${clean.slice(0, 77)}...` : clean;
}
