import sharp from 'sharp';
import type { Road } from './road.js';

/** A point of a driven path, and where the safety driver took over. */
export interface MapPoint {
  readonly xM: number;
  readonly yM: number;
}

export interface TopDownOptions {
  /** Longest image side, pixels (default 800). */
  readonly sizePx?: number;
  readonly path?: readonly MapPoint[];
  readonly interventions?: readonly MapPoint[];
  /** Draw the road beyond the route's end (default true, lighter). */
  readonly showExtra?: boolean;
}

/**
 * Top-down map of a road (north up): verge green, asphalt grey with the route darker than the
 * extra road beyond its end, centre line white, start green, end of route red; the driven path
 * blue and interventions as orange dots. Drawn by stamping discs along the polylines (no
 * projection per pixel). Returns PNG bytes.
 */
export async function topDownMapPng(road: Road, opts: TopDownOptions = {}): Promise<Uint8Array> {
  const margin = road.roadHalfWidthM + 6;
  let minX = Infinity;
  let minY = Infinity;
  let maxX = -Infinity;
  let maxY = -Infinity;
  const extend = (x: number, y: number): void => {
    minX = Math.min(minX, x);
    maxX = Math.max(maxX, x);
    minY = Math.min(minY, y);
    maxY = Math.max(maxY, y);
  };
  for (let i = 0; i < road.count; i++) extend(road.xs[i]!, road.ys[i]!);
  for (const p of opts.path ?? []) extend(p.xM, p.yM);
  minX -= margin;
  minY -= margin;
  maxX += margin;
  maxY += margin;
  const size = opts.sizePx ?? 800;
  const scale = size / Math.max(maxX - minX, maxY - minY); // px per metre
  const W = Math.max(1, Math.ceil((maxX - minX) * scale));
  const H = Math.max(1, Math.ceil((maxY - minY) * scale));
  const img = new Uint8Array(W * H * 3);
  for (let i = 0; i < W * H; i++) img.set([96, 140, 72], i * 3);
  const disc = (x: number, y: number, radiusM: number, c: readonly [number, number, number]): void => {
    const cx = (x - minX) * scale;
    const cy = (maxY - y) * scale;
    const r = Math.max(0.7, radiusM * scale);
    for (let py = Math.max(0, Math.floor(cy - r)); py <= Math.min(H - 1, Math.ceil(cy + r)); py++) {
      for (let px = Math.max(0, Math.floor(cx - r)); px <= Math.min(W - 1, Math.ceil(cx + r)); px++) {
        if ((px + 0.5 - cx) ** 2 + (py + 0.5 - cy) ** 2 <= r * r) img.set(c, (py * W + px) * 3);
      }
    }
  };
  const routeEnd = Math.round(road.routeLengthM / road.spacingM);
  const step = Math.max(1, Math.floor(0.5 / scale / road.spacingM));
  const showExtra = opts.showExtra ?? true;
  for (let i = 0; i < road.count; i += step) {
    if (i > routeEnd && !showExtra) break;
    disc(road.xs[i]!, road.ys[i]!, road.roadHalfWidthM, i > routeEnd ? [150, 150, 150] : [85, 85, 88]);
  }
  for (let i = 0; i <= Math.min(routeEnd, road.count - 1); i += step) disc(road.xs[i]!, road.ys[i]!, 0.12, [235, 235, 235]);
  const path = opts.path ?? [];
  for (let k = 1; k < path.length; k++) {
    const a = path[k - 1]!;
    const b = path[k]!;
    const n = Math.max(1, Math.ceil((Math.hypot(b.xM - a.xM, b.yM - a.yM) * scale) / 0.7));
    for (let j = 0; j <= n; j++) disc(a.xM + ((b.xM - a.xM) * j) / n, a.yM + ((b.yM - a.yM) * j) / n, 0.3, [40, 90, 230]);
  }
  disc(road.xs[0]!, road.ys[0]!, 2, [30, 200, 60]);
  const end = Math.min(routeEnd, road.count - 1);
  disc(road.xs[end]!, road.ys[end]!, 2, [220, 40, 40]);
  for (const p of opts.interventions ?? []) disc(p.xM, p.yM, 1.5, [255, 150, 0]);
  return new Uint8Array(await sharp(img, { raw: { width: W, height: H, channels: 3 } }).png().toBuffer());
}

/** Encodes an RGB image as PNG bytes. */
export async function rgbToPng(image: { readonly width: number; readonly height: number; readonly data: Uint8Array }): Promise<Uint8Array> {
  return new Uint8Array(await sharp(image.data, { raw: { width: image.width, height: image.height, channels: 3 } }).png().toBuffer());
}
