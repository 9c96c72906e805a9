// A small ustar writer for the debug bundle: regular files under one directory, gzip-compressed.
// Enough for `tar xzf` everywhere; no dependency for forty lines of format.

export interface TarEntry {
  /** Relative path inside the archive (ASCII, under 100 bytes). */
  name: string;
  data: string | Uint8Array;
}

const encoder = new TextEncoder();

function octal(value: number, width: number): string {
  return `${value.toString(8).padStart(width - 1, "0")}\0`;
}

function header(name: string, size: number, mtime: number): Uint8Array {
  const h = new Uint8Array(512);
  const put = (text: string, at: number) => h.set(encoder.encode(text), at);
  put(name, 0);
  put(octal(0o600, 8), 100);
  put(octal(0, 8), 108);
  put(octal(0, 8), 116);
  put(octal(size, 12), 124);
  put(octal(mtime, 12), 136);
  put("        ", 148);
  put("0", 156);
  put("ustar\u000000", 257);
  let sum = 0;
  for (const b of h) sum += b;
  put(`${sum.toString(8).padStart(6, "0")}\0 `, 148);
  return h;
}

/** The .tar.gz bytes of `entries`; every entry is a 0600 file owned by uid 0 in the archive's metadata. */
export function tarGz(entries: TarEntry[], mtime = Math.floor(Date.now() / 1000)): Uint8Array {
  const parts: Uint8Array[] = [];
  for (const e of entries) {
    if (!/^[\x21-\x7e][\x20-\x7e]{0,98}$/.test(e.name) || e.name.includes(".."))
      throw new Error(`bad archive member name ${JSON.stringify(e.name)}`);
    const data = typeof e.data === "string" ? encoder.encode(e.data) : e.data;
    parts.push(header(e.name, data.length, mtime), data);
    const pad = (512 - (data.length % 512)) % 512;
    if (pad) parts.push(new Uint8Array(pad));
  }
  parts.push(new Uint8Array(1024));
  const total = parts.reduce((n, p) => n + p.length, 0);
  const tar = new Uint8Array(total);
  let at = 0;
  for (const p of parts) {
    tar.set(p, at);
    at += p.length;
  }
  return Bun.gzipSync(tar);
}
