import { describe, expect, test } from "bun:test";
import { ByteBudget } from "../../lib/ipc/_byte_budget.ts";
import { encodeFrame, FrameDecoder, MAX_FRAME_BYTES } from "../../lib/ipc/index.ts";
import { FzError } from "../../lib/types/index.ts";

function frameOfLength(n: number): Uint8Array {
  // A JSON string whose encoding is exactly n bytes: the two quotes plus n-2 letters.
  return encodeFrame("x".repeat(n - 2));
}

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (err) {
    return err instanceof FzError ? err.code : "not-fz";
  }
  return undefined;
}

describe("framing", () => {
  test("a frame split across many reads decodes once, at the end", () => {
    const frame = encodeFrame({ type: "request", id: 7, method: "status", params: {} });
    const d = new FrameDecoder();
    const got: unknown[] = [];
    for (let i = 0; i < frame.length; i++) {
      got.push(...d.push(frame.subarray(i, i + 1)));
      if (i < frame.length - 1) expect(got).toHaveLength(0);
    }
    expect(got).toEqual([{ type: "request", id: 7, method: "status", params: {} }]);
    expect(d.midFrame).toBe(false);
  });

  test("many frames in one read all decode, in order", () => {
    const frames = Array.from({ length: 100 }, (_, i) => encodeFrame({ n: i }));
    const all = new Uint8Array(frames.reduce((n, f) => n + f.length, 0));
    let at = 0;
    for (const f of frames) {
      all.set(f, at);
      at += f.length;
    }
    expect(new FrameDecoder().push(all)).toEqual(Array.from({ length: 100 }, (_, i) => ({ n: i })));
  });

  test("a read that ends inside the length prefix leaves the decoder mid-frame", () => {
    const frame = encodeFrame({ a: 1 });
    const d = new FrameDecoder();
    expect(d.push(frame.subarray(0, 2))).toEqual([]);
    expect(d.midFrame).toBe(true);
    expect(d.push(frame.subarray(2))).toEqual([{ a: 1 }]);
  });

  test("an empty frame is refused as invalid_request", () => {
    expect(codeOf(() => new FrameDecoder().push(new Uint8Array(4)))).toBe("invalid_request");
  });

  test("a frame of exactly 1 MiB is accepted", () => {
    const frame = frameOfLength(MAX_FRAME_BYTES);
    expect(frame.length).toBe(4 + MAX_FRAME_BYTES);
    const [msg] = new FrameDecoder().push(frame);
    expect((msg as string).length).toBe(MAX_FRAME_BYTES - 2);
  });

  test("a frame of 1 MiB + 1 is refused from its length alone, before the body arrives", () => {
    const header = new Uint8Array(4);
    new DataView(header.buffer).setUint32(0, MAX_FRAME_BYTES + 1);
    expect(codeOf(() => new FrameDecoder().push(header))).toBe("frame_too_large");
    expect(codeOf(() => frameOfLength(MAX_FRAME_BYTES + 1))).toBe("frame_too_large");
  });

  test("a 4 GiB length is refused without allocating", () => {
    expect(codeOf(() => new FrameDecoder().push(new Uint8Array([0xff, 0xff, 0xff, 0xff])))).toBe(
      "frame_too_large",
    );
  });

  test("bad UTF-8 and bad JSON are refused with invalid_request", () => {
    const badUtf8 = new Uint8Array([0, 0, 0, 2, 0xc3, 0x28]);
    const badJson = new Uint8Array([0, 0, 0, 3, 0x7b, 0x7b, 0x7d]);
    expect(codeOf(() => new FrameDecoder().push(badUtf8))).toBe("invalid_request");
    expect(codeOf(() => new FrameDecoder().push(badJson))).toBe("invalid_request");
  });

  test("memory follows the bytes received, not the length announced", () => {
    const budget = new ByteBudget(MAX_FRAME_BYTES);
    const d = new FrameDecoder(budget);
    const header = new Uint8Array(4);
    new DataView(header.buffer).setUint32(0, MAX_FRAME_BYTES);
    d.push(header);
    expect([d.bufferedBytes, budget.used]).toEqual([0, 0]);
    d.push(new Uint8Array(10).fill(0x20));
    expect([d.bufferedBytes, budget.used]).toEqual([10, 10]);
    d.release();
    expect([d.bufferedBytes, budget.used, d.midFrame]).toEqual([0, 0, false]);
  });

  test("a decoder past its caller's budget refuses with busy, and a finished frame refunds it", () => {
    const budget = new ByteBudget(100);
    const ok = new FrameDecoder(budget);
    expect(ok.push(frameOfLength(60))).toHaveLength(1);
    expect(budget.used).toBe(0);
    const a = new FrameDecoder(budget);
    const b = new FrameDecoder(budget);
    a.push(frameOfLength(80).subarray(0, 70));
    expect(budget.used).toBe(66);
    expect(codeOf(() => b.push(frameOfLength(80).subarray(0, 44)))).toBe("busy");
  });

  test("framesStarted tells a new frame from more bytes of the same one", () => {
    const d = new FrameDecoder();
    const f = encodeFrame({ a: 1 });
    d.push(f.subarray(0, 3));
    d.push(f.subarray(3, 6));
    expect(d.framesStarted).toBe(1);
    d.push(new Uint8Array([...f.subarray(6), ...f.subarray(0, 2)]));
    expect([d.framesStarted, d.midFrame]).toEqual([2, true]);
  });

  test("the length prefix is big-endian", () => {
    const frame = encodeFrame({});
    expect(Array.from(frame.subarray(0, 4))).toEqual([0, 0, 0, 2]);
  });
});
