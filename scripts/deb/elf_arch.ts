// The Debian architecture of a compiled program, read from its ELF header, so a package never claims
// an architecture its binaries are not built for.
import { closeSync, openSync, readSync } from "node:fs";

/** ELF e_machine -> Debian architecture, for the 64-bit little-endian targets Bun compiles to. */
const MACHINES = new Map<number, string>([
  [0x3e, "amd64"],
  [0xb7, "arm64"],
]);

export function debianArch(path: string): string {
  const header = Buffer.alloc(20);
  const fd = openSync(path, "r");
  try {
    readSync(fd, header, 0, header.length, 0);
  } finally {
    closeSync(fd);
  }
  if (header.readUInt32BE(0) !== 0x7f454c46)
    throw new Error(`${path} is not an ELF executable; run \`bun run build\` to compile it`);
  // EI_CLASS 2 (64-bit), EI_DATA 1 (little-endian).
  if (header[4] !== 2 || header[5] !== 1) throw new Error(`${path} is not a 64-bit little-endian executable`);
  const arch = MACHINES.get(header.readUInt16LE(18));
  if (!arch)
    throw new Error(`${path} is built for ELF machine ${header.readUInt16LE(18)}, which has no package`);
  return arch;
}
