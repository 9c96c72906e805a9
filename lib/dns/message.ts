// The DNS wire format (RFC 1035, EDNS0 from RFC 6891), parsed with strict bounds: every length is
// checked against the packet, compression pointers must point backward and are capped in number,
// labels and names keep their limits. Anything else is a DnsFormatError, the only error this
// module throws, so a server can catch exactly that and drop the packet.

export const TYPE = {
  A: 1,
  NS: 2,
  CNAME: 5,
  SOA: 6,
  PTR: 12,
  MX: 15,
  TXT: 16,
  AAAA: 28,
  SRV: 33,
  OPT: 41,
  HTTPS: 65,
  ANY: 255,
} as const;
export const CLASS_IN = 1;
export const RCODE = {
  NOERROR: 0,
  FORMERR: 1,
  SERVFAIL: 2,
  NXDOMAIN: 3,
  NOTIMP: 4,
  REFUSED: 5,
  BADVERS: 16,
} as const;
export const HEADER_LENGTH = 12;
/** Pointers followed while reading one name; a longer chain is a loop or an attack. */
export const MAX_POINTERS = 16;
/** RFC 1035: a name is at most 255 octets on the wire. */
export const MAX_WIRE_NAME = 255;
/** Records of one section we accept before calling the packet hostile. */
export const MAX_RECORDS = 256;

export class DnsFormatError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "DnsFormatError";
  }
}

export interface DnsHeader {
  id: number;
  /** The 16 flag bits as on the wire (QR, opcode, AA, TC, RD, RA, Z, AD, CD, rcode). */
  flags: number;
  qdcount: number;
  ancount: number;
  nscount: number;
  arcount: number;
}

export interface DnsQuestion {
  /** Lower-cased presentation form, no trailing dot; "" is the root. */
  name: string;
  type: number;
  class: number;
}

export interface DnsRecord {
  name: string;
  type: number;
  class: number;
  ttl: number;
  /** The record data as it was on the wire (names inside it may be compressed against the packet). */
  data: Uint8Array;
  /** A and AAAA: the address bytes. */
  address?: Uint8Array;
}

export interface EdnsInfo {
  udpPayloadSize: number;
  version: number;
  dnssecOk: boolean;
  extendedRcode: number;
  /** Option bytes as on the wire (code, length, data)*. */
  options: Uint8Array;
}

export interface DnsMessage {
  header: DnsHeader;
  questions: DnsQuestion[];
  answers: DnsRecord[];
  authority: DnsRecord[];
  additional: DnsRecord[];
  edns: EdnsInfo | null;
}

export const flagsOf = {
  qr: (f: number) => (f & 0x8000) !== 0,
  opcode: (f: number) => (f >> 11) & 0xf,
  tc: (f: number) => (f & 0x0200) !== 0,
  rd: (f: number) => (f & 0x0100) !== 0,
  rcode: (f: number) => f & 0xf,
};

export function readHeader(buf: Uint8Array): DnsHeader {
  if (buf.length < HEADER_LENGTH)
    throw new DnsFormatError(`packet of ${buf.length} bytes is shorter than a header`);
  return {
    id: (buf[0]! << 8) | buf[1]!,
    flags: (buf[2]! << 8) | buf[3]!,
    qdcount: (buf[4]! << 8) | buf[5]!,
    ancount: (buf[6]! << 8) | buf[7]!,
    nscount: (buf[8]! << 8) | buf[9]!,
    arcount: (buf[10]! << 8) | buf[11]!,
  };
}

/** Characters kept as is in presentation form; everything else becomes \DDD so labels cannot blur. */
function labelText(buf: Uint8Array, start: number, len: number): string {
  // Fast path: a host-name label (letters, digits, "-", "_") is lower-cased in one go.
  let plain = true;
  let upper = false;
  for (let i = start; i < start + len; i++) {
    const c = buf[i]!;
    if ((c >= 0x61 && c <= 0x7a) || (c >= 0x30 && c <= 0x39) || c === 0x2d || c === 0x5f) continue;
    if (c >= 0x41 && c <= 0x5a) upper = true;
    else {
      plain = false;
      break;
    }
  }
  if (plain) {
    const text = String.fromCharCode.apply(null, buf.subarray(start, start + len) as unknown as number[]);
    return upper ? text.toLowerCase() : text;
  }
  let s = "";
  for (let i = start; i < start + len; i++) {
    let c = buf[i]!;
    if (c >= 0x41 && c <= 0x5a) c += 0x20;
    if ((c >= 0x61 && c <= 0x7a) || (c >= 0x30 && c <= 0x39) || c === 0x2d || c === 0x5f)
      s += String.fromCharCode(c);
    else s += `\\${c.toString().padStart(3, "0")}`;
  }
  return s;
}

/**
 * Reads a possibly compressed name at `offset`; returns the lower-cased presentation form and the
 * offset just after the name's bytes in place (not after the pointer target).
 */
export function readName(buf: Uint8Array, offset: number): { name: string; end: number } {
  let pos = offset;
  let end = -1;
  let pointers = 0;
  let wire = 0;
  // The lowest offset reached so far: a pointer must go strictly below it, so no loop is possible.
  let floor = offset;
  const labels: string[] = [];
  for (;;) {
    if (pos >= buf.length) throw new DnsFormatError("name runs past the end of the packet");
    const len = buf[pos]!;
    if (len === 0) {
      wire += 1;
      if (end < 0) end = pos + 1;
      break;
    }
    const kind = len & 0xc0;
    if (kind === 0xc0) {
      if (pos + 1 >= buf.length)
        throw new DnsFormatError("compression pointer runs past the end of the packet");
      const target = ((len & 0x3f) << 8) | buf[pos + 1]!;
      if (++pointers > MAX_POINTERS) throw new DnsFormatError("too many compression pointers in one name");
      if (target < HEADER_LENGTH) throw new DnsFormatError("compression pointer into the header");
      if (target >= floor) throw new DnsFormatError("compression pointer does not point backward (a loop)");
      if (end < 0) end = pos + 2;
      pos = target;
      floor = target;
      continue;
    }
    if (kind !== 0) throw new DnsFormatError(`unsupported label type 0x${kind.toString(16)}`);
    if (pos + 1 + len > buf.length) throw new DnsFormatError("label runs past the end of the packet");
    wire += 1 + len;
    if (wire + 1 > MAX_WIRE_NAME) throw new DnsFormatError("name longer than 255 octets");
    labels.push(labelText(buf, pos + 1, len));
    pos += 1 + len;
  }
  return { name: labels.join("."), end };
}

function u16(buf: Uint8Array, at: number): number {
  if (at + 2 > buf.length) throw new DnsFormatError("field runs past the end of the packet");
  return (buf[at]! << 8) | buf[at + 1]!;
}

function u32(buf: Uint8Array, at: number): number {
  if (at + 4 > buf.length) throw new DnsFormatError("field runs past the end of the packet");
  return ((buf[at]! << 24) | (buf[at + 1]! << 16) | (buf[at + 2]! << 8) | buf[at + 3]!) >>> 0;
}

export function readQuestion(buf: Uint8Array, offset: number): { question: DnsQuestion; end: number } {
  const { name, end } = readName(buf, offset);
  return { question: { name, type: u16(buf, end), class: u16(buf, end + 2) }, end: end + 4 };
}

function readRecord(buf: Uint8Array, offset: number): { record: DnsRecord; end: number } {
  const { name, end } = readName(buf, offset);
  const type = u16(buf, end);
  const cls = u16(buf, end + 2);
  const ttl = u32(buf, end + 4);
  const rdlen = u16(buf, end + 8);
  const start = end + 10;
  if (start + rdlen > buf.length) throw new DnsFormatError("record data runs past the end of the packet");
  const data = buf.subarray(start, start + rdlen);
  const record: DnsRecord = { name, type, class: cls, ttl, data };
  if (type === TYPE.A && cls === CLASS_IN) {
    if (rdlen !== 4) throw new DnsFormatError("A record data is not 4 bytes");
    record.address = data;
  } else if (type === TYPE.AAAA && cls === CLASS_IN) {
    if (rdlen !== 16) throw new DnsFormatError("AAAA record data is not 16 bytes");
    record.address = data;
  }
  return { record, end: start + rdlen };
}

function ednsOf(record: DnsRecord): EdnsInfo {
  if (record.name !== "") throw new DnsFormatError("OPT record with a name other than the root");
  // Walk the options so a malformed option list is refused here, not somewhere later.
  for (let i = 0; i < record.data.length; ) {
    if (i + 4 > record.data.length) throw new DnsFormatError("EDNS option header runs past its record");
    const len = (record.data[i + 2]! << 8) | record.data[i + 3]!;
    i += 4 + len;
    if (i > record.data.length) throw new DnsFormatError("EDNS option runs past its record");
  }
  return {
    udpPayloadSize: record.class,
    extendedRcode: record.ttl >>> 24,
    version: (record.ttl >>> 16) & 0xff,
    dnssecOk: (record.ttl & 0x8000) !== 0,
    options: record.data,
  };
}

/** Parses a whole message; throws DnsFormatError for anything out of bounds or inconsistent. */
export function parseMessage(buf: Uint8Array): DnsMessage {
  const header = readHeader(buf);
  if (header.qdcount > 1) throw new DnsFormatError(`${header.qdcount} questions in one message (at most 1)`);
  for (const n of [header.ancount, header.nscount, header.arcount])
    if (n > MAX_RECORDS) throw new DnsFormatError(`${n} records in one section (at most ${MAX_RECORDS})`);
  let pos = HEADER_LENGTH;
  const questions: DnsQuestion[] = [];
  for (let i = 0; i < header.qdcount; i++) {
    const q = readQuestion(buf, pos);
    questions.push(q.question);
    pos = q.end;
  }
  const section = (count: number): DnsRecord[] => {
    const out: DnsRecord[] = [];
    for (let i = 0; i < count; i++) {
      const r = readRecord(buf, pos);
      out.push(r.record);
      pos = r.end;
    }
    return out;
  };
  const answers = section(header.ancount);
  const authority = section(header.nscount);
  const additional = section(header.arcount);
  if (pos !== buf.length) throw new DnsFormatError(`${buf.length - pos} bytes after the last record`);
  let edns: EdnsInfo | null = null;
  for (const r of additional)
    if (r.type === TYPE.OPT) {
      if (edns) throw new DnsFormatError("more than one OPT record");
      edns = ednsOf(r);
    }
  for (const r of [...answers, ...authority])
    if (r.type === TYPE.OPT) throw new DnsFormatError("OPT record outside the additional section");
  return { header, questions, answers, authority, additional, edns };
}

/** What the stub needs of a query: the parse of a whole message, with the question required. */
export interface DnsQuery {
  id: number;
  flags: number;
  question: DnsQuestion;
  /** Offset just after the question: bytes 12..questionEnd are copied into answers unchanged. */
  questionEnd: number;
  edns: EdnsInfo | null;
}

/** Parses a query as a server receives it: QR clear, exactly one question, bounds as parseMessage. */
export function parseQuery(buf: Uint8Array): DnsQuery {
  const header = readHeader(buf);
  if (flagsOf.qr(header.flags)) throw new DnsFormatError("a response, not a query");
  if (header.qdcount !== 1) throw new DnsFormatError(`${header.qdcount} questions (a query has exactly 1)`);
  const { question, end } = readQuestion(buf, HEADER_LENGTH);
  let edns: EdnsInfo | null = null;
  if (header.ancount === 0 && header.nscount === 0 && header.arcount === 0) {
    if (end !== buf.length) throw new DnsFormatError(`${buf.length - end} bytes after the question`);
  } else {
    edns = parseMessage(buf).edns;
  }
  return { id: header.id, flags: header.flags, question, questionEnd: end, edns };
}
