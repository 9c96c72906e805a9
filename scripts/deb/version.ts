// The package version, checked where it enters (package.json or --version) against Debian's version
// syntax, so a bad value fails the build with a message instead of producing an uninstallable package.

/**
 * A native package version: [epoch:]upstream, where upstream starts with a digit and holds only
 * letters, digits and . + ~ (no hyphen: the packages are built from this tree, with no Debian
 * revision). At most 64 characters.
 */
const NATIVE_VERSION = /^(?:[0-9]{1,4}:)?[0-9][A-Za-z0-9.+~]{0,63}$/;

export function parseDebVersion(raw: unknown, where: string): string {
  if (typeof raw !== "string" || !NATIVE_VERSION.test(raw))
    throw new Error(
      `${where}: ${JSON.stringify(raw)?.slice(0, 80)} is not a Debian native version: it must start with a digit and hold only letters, digits and . + ~ (e.g. 0.1.0 or 0.2.0~rc1)`,
    );
  return raw;
}
