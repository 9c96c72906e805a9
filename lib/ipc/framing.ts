// Wire framing: a 4-byte big-endian length, then that many bytes of UTF-8 JSON.
import { FzError } from "../types/index.ts";

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
 * A frame's body buffer is allocated once its length is known, so a large frame arriving in many
 * pieces costs one copy per byte, and a length over the limit is refused before any body arrives.
 */
export class FrameDecoder {
  private header = new Uint8Array(4);
  private headerFill = 0;
  private body: Uint8Array | null = null;
  private bodyFill = 0;

  /** True while a frame has started but not finished (used for the incomplete-frame timeout). */
  get midFrame(): boolean {
    return this.headerFill > 0 || this.body !== null;
  }

  /** Returns the decoded messages; throws FzError (frame_too_large / invalid_request) on bad input. */
  push(chunk: Uint8Array): unknown[] {
    const out: unknown[] = [];
    let at = 0;
    while (at < chunk.length) {
      if (this.body === null) {
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
        this.body = new Uint8Array(length);
        this.bodyFill = 0;
      }
      const take = Math.min(this.body.length - this.bodyFill, chunk.length - at);
      this.body.set(chunk.subarray(at, at + take), this.bodyFill);
      this.bodyFill += take;
      at += take;
      if (this.bodyFill === this.body.length) {
        const body = this.body;
        this.body = null;
        this.headerFill = 0;
        out.push(decodeBody(body));
      }
    }
    return out;
  }
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
