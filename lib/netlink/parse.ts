// Reads netlink datagrams: the message headers, then the attributes of a message body, tolerating
// the kernel's padding and ignoring attribute types this code does not know.
import { NLA_TYPE_MASK } from "./constants.ts";

/** One message: its header fields and its body (family header plus attributes). */
export interface NlMessage {
  type: number;
  flags: number;
  seq: number;
  portId: number;
  body: Uint8Array;
}

export interface NlAttr {
  type: number;
  /** NLA_F_NESTED was set. */
  nested: boolean;
  data: Uint8Array;
}

const align4 = (n: number) => (n + 3) & ~3;

/** Splits a datagram into messages; the bodies are copies, safe to keep. */
export function parseMessages(datagram: Uint8Array): NlMessage[] {
  const view = new DataView(datagram.buffer, datagram.byteOffset, datagram.byteLength);
  const out: NlMessage[] = [];
  let at = 0;
  while (at + 16 <= datagram.length) {
    const len = view.getUint32(at, true);
    if (len < 16 || at + len > datagram.length) throw new Error(`malformed netlink message length ${len}`);
    out.push({
      type: view.getUint16(at + 4, true),
      flags: view.getUint16(at + 6, true),
      seq: view.getUint32(at + 8, true),
      portId: view.getUint32(at + 12, true),
      body: datagram.slice(at + 16, at + len),
    });
    at += align4(len);
  }
  return out;
}

/** Attributes from `offset` to the end of `buf`. */
export function parseAttrs(buf: Uint8Array, offset = 0): NlAttr[] {
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const out: NlAttr[] = [];
  let at = offset;
  while (at + 4 <= buf.length) {
    const len = view.getUint16(at, true);
    const rawType = view.getUint16(at + 2, true);
    if (len < 4 || at + len > buf.length) break;
    out.push({
      type: rawType & NLA_TYPE_MASK,
      nested: (rawType & 0x8000) !== 0,
      data: buf.subarray(at + 4, at + len),
    });
    at += align4(len);
  }
  return out;
}

/** The last attribute of each type, for bodies where types do not repeat. */
export function attrMap(buf: Uint8Array, offset = 0): Map<number, Uint8Array> {
  return new Map(parseAttrs(buf, offset).map((a) => [a.type, a.data]));
}

const dv = (b: Uint8Array) => new DataView(b.buffer, b.byteOffset, b.byteLength);
export const readU8 = (b: Uint8Array, at = 0): number => dv(b).getUint8(at);
export const readU16 = (b: Uint8Array, at = 0): number => dv(b).getUint16(at, true);
export const readU32 = (b: Uint8Array, at = 0): number => dv(b).getUint32(at, true);
export const readI32 = (b: Uint8Array, at = 0): number => dv(b).getInt32(at, true);
export const readU64 = (b: Uint8Array, at = 0): bigint => dv(b).getBigUint64(at, true);
/** A NUL-terminated (or unterminated) string attribute. */
export function readString(b: Uint8Array): string {
  const end = b.indexOf(0);
  return new TextDecoder().decode(end < 0 ? b : b.subarray(0, end));
}
