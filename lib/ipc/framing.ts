// Wire framing: a 4-byte big-endian length, then that many bytes of UTF-8 JSON.
import { FzError } from "../types/index.ts";
import { type ByteBudget, unlimitedBudget } from "./_byte_budget.ts";

/** The largest payload a frame may carry (exactly this much is allowed). */
export const MAX_FRAME_BYTES = 1024 * 1024;

const utf8 = new TextDecoder("utf-8", { fatal: true });
const encoder = new TextEncoder();

/** Encodes one message; refuses payloads the other side would reject. */
export function encodeFrame(message: unknown): Uint8Array {
  const body = encoder.encode(JSON.stringify(message));
  if (body.length > MAX_FRAME_BYTES) {
    throw new FzError(
      "frame_too_large",
      `message of ${body.length} bytes exceeds the ${MAX_FRAME_BYTES}-byte frame limit`,
    );
  }
  const frame = new Uint8Array(4 + body.length);
  new DataView(frame.buffer).setUint32(0, body.length, false);
  frame.set(body, 4);
  return frame;
}

/**
 * Incremental decoder: feed it whatever the socket delivered, get back the complete messages.
 * A frame's body is kept as the chunks that arrived, so memory follows the bytes actually received
 * rather than the length a peer announced (a 1 MiB header followed by silence costs 4 bytes), and
 * a length over the limit is refused before any body arrives. An optional budget is charged for
 * every byte held and refunded when the frame completes or the decoder is released.
 */
export class FrameDecoder {
  private header = new Uint8Array(4);
  private headerFill = 0;
  /** Body length announced by the current frame's header; -1 while the header is incomplete. */
  private bodyLength = -1;
  private parts: Uint8Array[] = [];
  private bodyFill = 0;
  private started = 0;

  constructor(private readonly budget: ByteBudget = unlimitedBudget) {}

  /** True while a frame has started but not finished (used for the incomplete-frame timeout). */
  get midFrame(): boolean {
    return this.headerFill > 0;
  }

  /** Counts frames whose first byte has arrived, so a caller can tell a new frame from the same one. */
  get framesStarted(): number {
    return this.started;
  }

  /** Body bytes of the unfinished frame held in memory. */
  get bufferedBytes(): number {
    return this.bodyFill;
  }

  /** Returns the decoded messages; throws FzError (frame_too_large / invalid_request / busy) on bad input. */
  push(chunk: Uint8Array): unknown[] {
    const out: unknown[] = [];
    let at = 0;
    while (at < chunk.length) {
      if (this.bodyLength < 0) {
        if (this.headerFill === 0) this.started++;
        const take = Math.min(4 - this.headerFill, chunk.length - at);
        this.header.set(chunk.subarray(at, at + take), this.headerFill);
        this.headerFill += take;
        at += take;
        if (this.headerFill < 4) break;
        const length = new DataView(this.header.buffer).getUint32(0, false);
        if (length > MAX_FRAME_BYTES) {
          throw new FzError(
            "frame_too_large",
            `frame of ${length} bytes exceeds the ${MAX_FRAME_BYTES}-byte limit`,
          );
        }
        this.bodyLength = length;
      }
      const take = Math.min(this.bodyLength - this.bodyFill, chunk.length - at);
      if (take > 0) {
        if (!this.budget.take(take)) {
          throw new FzError(
            "busy",
            "this caller holds too much unfinished data in firezoned; finish or close other connections",
          );
        }
        // A chunk that is all body is kept as it is (Bun hands each read a buffer of its own); a part of
        // a chunk is copied, so a small tail never keeps a large read alive beyond what is charged.
        this.parts.push(at === 0 && take === chunk.length ? chunk : chunk.slice(at, at + take));
        this.bodyFill += take;
        at += take;
      }
      if (this.bodyFill === this.bodyLength) {
        const body = this.takeBody();
        out.push(decodeBody(body));
      }
    }
    return out;
  }

  /** Forgets an unfinished frame and refunds its bytes (the connection is closing). */
  release(): void {
    this.budget.give(this.bodyFill);
    this.parts = [];
    this.bodyFill = 0;
    this.bodyLength = -1;
    this.headerFill = 0;
  }

  private takeBody(): Uint8Array {
    const body = this.parts.length === 1 ? this.parts[0]! : concat(this.parts, this.bodyFill);
    this.release();
    return body;
  }
}

function concat(parts: Uint8Array[], length: number): Uint8Array {
  const body = new Uint8Array(length);
  let at = 0;
  for (const p of parts) {
    body.set(p, at);
    at += p.length;
  }
  return body;
}

function decodeBody(body: Uint8Array): unknown {
  if (body.length === 0) throw new FzError("invalid_request", "empty frame: expected a JSON message");
  let text: string;
  try {
    text = utf8.decode(body);
  } catch {
    throw new FzError("invalid_request", "frame is not valid UTF-8");
  }
  try {
    return JSON.parse(text);
  } catch {
    throw new FzError("invalid_request", "frame is not valid JSON");
  }
}
