// The reconnect schedule: exponential, capped, jittered within [base/2, base], reset after success.
import { expect, test } from "bun:test";
import { Backoff, backoffDelay } from "../../lib/util/index.ts";

test("delays double from 500 ms and stop growing at 30 s", () => {
  const top = (n: number) => backoffDelay(n, {}, () => 0.999999);
  expect([0, 1, 2, 3, 4, 5, 6, 7].map(top)).toEqual([500, 1000, 2000, 4000, 8000, 16000, 30000, 30000]);
  expect(top(1000)).toBe(30000);
});

test("jitter spreads each delay over [base/2, base]", () => {
  expect(backoffDelay(3, {}, () => 0)).toBe(2000);
  expect(backoffDelay(3, {}, () => 0.5)).toBe(3000);
  const seen = new Set(Array.from({ length: 200 }, () => backoffDelay(3)));
  for (const d of seen) expect(d >= 2000 && d <= 4000).toBe(true);
  expect(seen.size).toBeGreaterThan(20);
});

test("a Backoff counts attempts and starts over after reset()", () => {
  const b = new Backoff({ initialMs: 100, maxMs: 1000, jitter: 0 });
  expect([b.next(), b.next(), b.next(), b.next(), b.next()]).toEqual([100, 200, 400, 800, 1000]);
  b.reset();
  expect(b.next()).toBe(100);
});
