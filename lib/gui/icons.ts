// The tray icons, drawn in code as ARGB32 pixmaps so they need no icon theme and no image files:
// a rounded square with a white "Z", orange while signed in and grey otherwise, plus a status dot
// (green connected, amber signing in or reconnecting, red error).
import type { TrayState } from "./tray_view.ts";

type Rgb = readonly [number, number, number];
export type Pixmap = [width: number, height: number, argb: Buffer];

const ORANGE: Rgb = [0xff, 0x6a, 0x00];
const GREY: Rgb = [0x80, 0x80, 0x80];
const WHITE: Rgb = [0xff, 0xff, 0xff];
const DOT: Record<TrayState, Rgb | null> = {
  signed_out: null,
  signing_in: [0xf5, 0xb3, 0x00],
  connected: [0x2e, 0xcc, 0x40],
  reconnecting: [0xf5, 0xb3, 0x00],
  error: [0xe0, 0x20, 0x20],
};
const BACKGROUND: Record<TrayState, Rgb> = {
  signed_out: GREY,
  signing_in: GREY,
  connected: ORANGE,
  reconnecting: ORANGE,
  error: GREY,
};

// The "Z", in unit coordinates.
const Z: ReadonlyArray<readonly [number, number]> = [
  [0.26, 0.22],
  [0.74, 0.22],
  [0.74, 0.34],
  [0.43, 0.66],
  [0.74, 0.66],
  [0.74, 0.78],
  [0.26, 0.78],
  [0.26, 0.66],
  [0.57, 0.34],
  [0.26, 0.34],
];

function insidePolygon(x: number, y: number, poly: ReadonlyArray<readonly [number, number]>): boolean {
  let inside = false;
  for (let i = 0, j = poly.length - 1; i < poly.length; j = i++) {
    const [xi, yi] = poly[i]!;
    const [xj, yj] = poly[j]!;
    if (yi > y !== yj > y && x < ((xj - xi) * (y - yi)) / (yj - yi) + xi) inside = !inside;
  }
  return inside;
}

function insideRoundedSquare(x: number, y: number, r: number): boolean {
  const cx = Math.min(Math.max(x, r), 1 - r);
  const cy = Math.min(Math.max(y, r), 1 - r);
  return (x - cx) ** 2 + (y - cy) ** 2 <= r * r;
}

/** The colour of one sample point, or null where the icon is transparent. */
function sample(state: TrayState, x: number, y: number): Rgb | null {
  const dot = DOT[state];
  const d2 = (x - 0.8) ** 2 + (y - 0.8) ** 2;
  if (dot && d2 <= 0.2 ** 2) return d2 <= 0.15 ** 2 ? dot : WHITE;
  if (!insideRoundedSquare(x, y, 0.2)) return null;
  return insidePolygon(x, y, Z) ? WHITE : BACKGROUND[state];
}

/** Renders one size with 4x4 supersampling; bytes are A,R,G,B per pixel (network order). */
export function renderIcon(state: TrayState, size: number): Buffer {
  const out = Buffer.alloc(size * size * 4);
  const n = 4;
  for (let py = 0; py < size; py++) {
    for (let px = 0; px < size; px++) {
      let a = 0;
      let r = 0;
      let g = 0;
      let b = 0;
      for (let sy = 0; sy < n; sy++) {
        for (let sx = 0; sx < n; sx++) {
          const c = sample(state, (px + (sx + 0.5) / n) / size, (py + (sy + 0.5) / n) / size);
          if (!c) continue;
          a++;
          r += c[0];
          g += c[1];
          b += c[2];
        }
      }
      const o = (py * size + px) * 4;
      if (a === 0) continue;
      out[o] = Math.round((255 * a) / (n * n));
      out[o + 1] = Math.round(r / a);
      out[o + 2] = Math.round(g / a);
      out[o + 3] = Math.round(b / a);
    }
  }
  return out;
}

const cache = new Map<TrayState, Pixmap[]>();

/** The pixmaps for a state at the sizes tray hosts ask for most. */
export function iconPixmaps(state: TrayState): Pixmap[] {
  let pixmaps = cache.get(state);
  if (!pixmaps) {
    pixmaps = [16, 22, 24, 32, 48, 64].map((s): Pixmap => [s, s, renderIcon(state, s)]);
    cache.set(state, pixmaps);
  }
  return pixmaps;
}
