// Builds netlink messages the way libmnl does: a 16-byte header, a fixed family header, then
// attributes, each padded to 4 bytes, with nla_len excluding the padding and nlmsg_len including it.
import { NLA_F_NESTED } from "./constants.ts";

const align4 = (n: number) => (n + 3) & ~3;

/** A growable little-endian byte buffer for one or more netlink messages. */
export class NlWriter {
  #buf = new Uint8Array(1024);
  #view = new DataView(this.#buf.buffer);
  #len = 0;
  #msgStart = -1;

  get length(): number {
    return this.#len;
  }

  #reserve(n: number): number {
    const at = this.#len;
    if (at + n > this.#buf.length) {
      const next = new Uint8Array(Math.max(this.#buf.length * 2, at + n));
      next.set(this.#buf.subarray(0, at));
      this.#buf = next;
      this.#view = new DataView(next.buffer);
    }
    this.#len += n;
    return at;
  }

  /** Starts a message; `end()` fills in its length. */
  begin(type: number, flags: number, seq: number, portId = 0): this {
    this.#msgStart = this.#len;
    const at = this.#reserve(16);
    this.#view.setUint16(at + 4, type, true);
    this.#view.setUint16(at + 6, flags, true);
    this.#view.setUint32(at + 8, seq, true);
    this.#view.setUint32(at + 12, portId, true);
    return this;
  }

  end(): this {
    this.#view.setUint32(this.#msgStart, this.#len - this.#msgStart, true);
    return this;
  }

  u8(v: number): this {
    const at = this.#reserve(1); // may replace #view: reserve before reading it
    this.#view.setUint8(at, v);
    return this;
  }
  u16(v: number): this {
    const at = this.#reserve(2); // may replace #view: reserve before reading it
    this.#view.setUint16(at, v, true);
    return this;
  }
  u32(v: number): this {
    const at = this.#reserve(4); // may replace #view: reserve before reading it
    this.#view.setUint32(at, v >>> 0, true);
    return this;
  }
  i32(v: number): this {
    const at = this.#reserve(4); // may replace #view: reserve before reading it
    this.#view.setInt32(at, v, true);
    return this;
  }
  bytes(b: Uint8Array): this {
    const at = this.#reserve(b.length); // may replace #buf: reserve before touching it
    this.#buf.set(b, at);
    return this;
  }
  /** Zero bytes up to the next 4-byte boundary. */
  pad(): this {
    const n = align4(this.#len) - this.#len;
    if (n) {
      const at = this.#reserve(n);
      this.#buf.fill(0, at, this.#len);
    }
    return this;
  }

  attr(type: number, payload: Uint8Array): this {
    const at = this.#reserve(4);
    this.#view.setUint16(at, 4 + payload.length, true);
    this.#view.setUint16(at + 2, type, true);
    return this.bytes(payload).pad();
  }
  attrU8(type: number, v: number): this {
    return this.attr(type, Uint8Array.of(v));
  }
  attrU16(type: number, v: number): this {
    const b = new Uint8Array(2);
    new DataView(b.buffer).setUint16(0, v, true);
    return this.attr(type, b);
  }
  attrU32(type: number, v: number): this {
    const b = new Uint8Array(4);
    new DataView(b.buffer).setUint32(0, v >>> 0, true);
    return this.attr(type, b);
  }
  attrU64(type: number, v: bigint): this {
    const b = new Uint8Array(8);
    new DataView(b.buffer).setBigUint64(0, v, true);
    return this.attr(type, b);
  }
  /** A NUL-terminated string attribute. */
  attrString(type: number, s: string): this {
    const text = new TextEncoder().encode(s);
    const b = new Uint8Array(text.length + 1);
    b.set(text);
    return this.attr(type, b);
  }

  /** Opens a nested attribute (NLA_F_NESTED set, as libmnl does); returns the handle for `nestEnd`. */
  nestStart(type: number): number {
    const at = this.#reserve(4);
    this.#view.setUint16(at + 2, type | NLA_F_NESTED, true);
    return at;
  }
  nestEnd(handle: number): this {
    this.#view.setUint16(handle, this.#len - handle, true);
    return this;
  }
  /** Drops everything written after `length` (a nest that did not fit). */
  truncate(length: number): this {
    this.#len = length;
    return this;
  }

  /** The bytes written so far (a copy). */
  finish(): Uint8Array {
    return this.#buf.slice(0, this.#len);
  }
}
