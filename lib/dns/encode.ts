// Building DNS messages: the stub's own answers (copied question, compressed owner names) and a
// general encoder for queries and tests. Names are written from presentation form with \DDD escapes.
import {
  CLASS_IN,
  DnsFormatError,
  type DnsHeader,
  type DnsQuery,
  type DnsQuestion,
  type DnsRecord,
  HEADER_LENGTH,
  MAX_WIRE_NAME,
  TYPE,
} from "./message.ts";

/** The UDP payload size the stub advertises (DNS Flag Day 2020: no IP fragmentation). */
export const STUB_UDP_PAYLOAD = 1232;

/** Presentation-form name -> wire labels (without compression). */
export function nameToWire(name: string): Uint8Array {
  if (name === "" || name === ".") return Uint8Array.of(0);
  const text = name.endsWith(".") ? name.slice(0, -1) : name;
  const out: number[] = [];
  let label: number[] = [];
  const flush = () => {
    if (label.length === 0 || label.length > 63) throw new DnsFormatError(`bad label length in "${name}"`);
    out.push(label.length, ...label);
    label = [];
  };
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x2e) flush();
    else if (c === 0x5c) {
      const ddd = /^\d{3}/.exec(text.slice(i + 1));
      if (ddd && Number(ddd[0]) < 256) {
        label.push(Number(ddd[0]));
        i += 3;
      } else if (i + 1 < text.length) label.push(text.charCodeAt(++i));
      else throw new DnsFormatError(`dangling escape in "${name}"`);
    } else if (c > 0x7e) throw new DnsFormatError(`non-ASCII character in "${name}"`);
    else label.push(c);
  }
  flush();
  out.push(0);
  if (out.length > MAX_WIRE_NAME) throw new DnsFormatError(`name longer than 255 octets: "${name}"`);
  return Uint8Array.from(out);
}

class Writer {
  buf = new Uint8Array(512);
  len = 0;
  readonly names = new Map<string, number>();
  #room(n: number) {
    if (this.len + n <= this.buf.length) return;
    const next = new Uint8Array(Math.max(this.buf.length * 2, this.len + n));
    next.set(this.buf.subarray(0, this.len));
    this.buf = next;
  }
  u8(v: number) {
    this.#room(1);
    this.buf[this.len++] = v & 0xff;
  }
  u16(v: number) {
    this.u8(v >> 8);
    this.u8(v);
  }
  u32(v: number) {
    this.u16((v >>> 16) & 0xffff);
    this.u16(v & 0xffff);
  }
  bytes(b: Uint8Array) {
    this.#room(b.length);
    this.buf.set(b, this.len);
    this.len += b.length;
  }
  /** Writes a name, pointing at an earlier copy of the longest suffix already written. */
  name(name: string) {
    const wire = nameToWire(name);
    let pos = 0;
    while (wire[pos] !== 0) {
      const suffix = suffixKey(wire, pos);
      const at = this.names.get(suffix);
      if (at !== undefined) {
        this.u16(0xc000 | at);
        return;
      }
      if (this.len < 0x3fff) this.names.set(suffix, this.len);
      const n = wire[pos]!;
      this.bytes(wire.subarray(pos, pos + 1 + n));
      pos += 1 + n;
    }
    this.u8(0);
  }
  done(): Uint8Array {
    return this.buf.slice(0, this.len);
  }
}

function suffixKey(wire: Uint8Array, from: number): string {
  let s = "";
  for (let i = from; i < wire.length; i++) {
    let c = wire[i]!;
    if (c >= 0x41 && c <= 0x5a) c += 0x20;
    s += String.fromCharCode(c);
  }
  return s;
}

export interface EncodeOptions {
  header: Omit<DnsHeader, "qdcount" | "ancount" | "nscount" | "arcount">;
  questions?: DnsQuestion[];
  answers?: DnsRecord[];
  authority?: DnsRecord[];
  additional?: DnsRecord[];
  /** Adds an OPT record with this UDP payload size (and DO bit when asked). */
  edns?: { udpPayloadSize: number; dnssecOk?: boolean; version?: number; extendedRcode?: number };
}

/** Encodes a message; record data is written as given (callers pass uncompressed data). */
export function encodeMessage(m: EncodeOptions): Uint8Array {
  const w = new Writer();
  const questions = m.questions ?? [];
  const answers = m.answers ?? [];
  const authority = m.authority ?? [];
  const additional = m.additional ?? [];
  w.u16(m.header.id);
  w.u16(m.header.flags);
  w.u16(questions.length);
  w.u16(answers.length);
  w.u16(authority.length);
  w.u16(additional.length + (m.edns ? 1 : 0));
  for (const q of questions) {
    w.name(q.name);
    w.u16(q.type);
    w.u16(q.class);
  }
  for (const r of [...answers, ...authority, ...additional]) {
    w.name(r.name);
    w.u16(r.type);
    w.u16(r.class);
    w.u32(r.ttl);
    w.u16(r.data.length);
    w.bytes(r.data);
  }
  if (m.edns) {
    w.u8(0);
    w.u16(TYPE.OPT);
    w.u16(m.edns.udpPayloadSize);
    w.u32(
      (((m.edns.extendedRcode ?? 0) & 0xff) << 24) |
        (((m.edns.version ?? 0) & 0xff) << 16) |
        (m.edns.dnssecOk ? 0x8000 : 0),
    );
    w.u16(0);
  }
  return w.done();
}

/** Response flags for a query: QR, the query's opcode and RD, RA set, the given rcode. */
export function responseFlags(queryFlags: number, rcode: number, authoritative = false): number {
  return 0x8000 | (queryFlags & 0x7900) | 0x0080 | (authoritative ? 0x0400 : 0) | (rcode & 0xf);
}

/**
 * The stub's own answer to `query` (whose bytes are `raw`): the question copied as it came, one
 * record per address with the owner name as a pointer to the question, and an OPT record when the
 * query had one. The hot path: no name is re-encoded.
 */
export function buildAnswer(
  raw: Uint8Array,
  query: DnsQuery,
  rcode: number,
  addresses: readonly Uint8Array[],
  ttl: number,
): Uint8Array {
  const qlen = query.questionEnd - HEADER_LENGTH;
  let size = HEADER_LENGTH + qlen + (query.edns ? 11 : 0);
  for (const a of addresses) size += 12 + a.length;
  const out = new Uint8Array(size);
  const extended = query.edns && query.edns.version > 0;
  const code = extended ? 0 : rcode;
  out[0] = query.id >> 8;
  out[1] = query.id & 0xff;
  const flags = responseFlags(query.flags, code, true);
  out[2] = flags >> 8;
  out[3] = flags & 0xff;
  out[5] = 1;
  out[7] = addresses.length;
  out[11] = query.edns ? 1 : 0;
  out.set(raw.subarray(HEADER_LENGTH, query.questionEnd), HEADER_LENGTH);
  let p = query.questionEnd;
  for (const a of addresses) {
    out[p++] = 0xc0;
    out[p++] = HEADER_LENGTH;
    out[p++] = 0;
    out[p++] = a.length === 4 ? TYPE.A : TYPE.AAAA;
    out[p++] = 0;
    out[p++] = CLASS_IN;
    out[p++] = (ttl >>> 24) & 0xff;
    out[p++] = (ttl >>> 16) & 0xff;
    out[p++] = (ttl >>> 8) & 0xff;
    out[p++] = ttl & 0xff;
    out[p++] = 0;
    out[p++] = a.length;
    out.set(a, p);
    p += a.length;
  }
  if (query.edns) {
    // OPT: root name, type 41, our payload size; BADVERS (16) for an EDNS version we do not speak.
    out[p++] = 0;
    out[p++] = 0;
    out[p++] = TYPE.OPT;
    out[p++] = STUB_UDP_PAYLOAD >> 8;
    out[p++] = STUB_UDP_PAYLOAD & 0xff;
    out[p++] = extended ? 1 : 0;
    out[p++] = 0;
    out[p++] = query.edns.dnssecOk ? 0x80 : 0;
    out[p++] = 0;
    out[p++] = 0;
    out[p++] = 0;
  }
  return out;
}

/** A truncated copy of a response that does not fit: header with TC set, question only, no records. */
export function truncateResponse(response: Uint8Array, questionEnd: number): Uint8Array {
  const out = response.slice(0, questionEnd);
  out[2] = out[2]! | 0x02;
  out[6] = out[7] = out[8] = out[9] = out[10] = out[11] = 0;
  return out;
}
