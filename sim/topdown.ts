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
 * blue and where the safety driver took over (interventions) as orange dots. A key under the map
 * names each colour and gives a scale bar in metres. Drawn by stamping discs along the polylines
 * (no projection per pixel). Returns PNG bytes.
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
    disc(road.xs[i]!, road.ys[i]!, road.roadHalfWidthM, i > routeEnd ? COLOURS.extra : COLOURS.route);
  }
  for (let i = 0; i <= Math.min(routeEnd, road.count - 1); i += step)
    disc(road.xs[i]!, road.ys[i]!, 0.12, [235, 235, 235]);
  const path = opts.path ?? [];
  for (let k = 1; k < path.length; k++) {
    const a = path[k - 1]!;
    const b = path[k]!;
    const n = Math.max(1, Math.ceil((Math.hypot(b.xM - a.xM, b.yM - a.yM) * scale) / 0.7));
    for (let j = 0; j <= n; j++)
      disc(a.xM + ((b.xM - a.xM) * j) / n, a.yM + ((b.yM - a.yM) * j) / n, 0.3, COLOURS.path);
  }
  disc(road.xs[0]!, road.ys[0]!, 2, COLOURS.start);
  const end = Math.min(routeEnd, road.count - 1);
  disc(road.xs[end]!, road.ys[end]!, 2, COLOURS.end);
  for (const p of opts.interventions ?? []) disc(p.xM, p.yM, 1.5, COLOURS.intervention);
  const legend = legendSvg(W, scale, Math.max(11, Math.round(size / 60)), road.routeLengthM);
  const map = sharp(img, { raw: { width: W, height: H, channels: 3 } });
  const png = await map
    .extend({ bottom: legend.heightPx, background: '#ffffff' })
    .composite([{ input: Buffer.from(legend.svg), left: 0, top: H }])
    .png()
    .toBuffer();
  return new Uint8Array(png);
}

const COLOURS = {
  start: [30, 200, 60],
  end: [220, 40, 40],
  path: [40, 90, 230],
  intervention: [255, 150, 0],
  route: [85, 85, 88],
  extra: [150, 150, 150],
} as const satisfies Record<string, readonly [number, number, number]>;

const rgb = (c: readonly [number, number, number]): string => `rgb(${c.join(',')})`;

/** A round length for a scale bar near `targetM` metres: 1, 2 or 5 times a power of ten. */
export function scaleBarLengthM(targetM: number): number {
  const power = 10 ** Math.floor(Math.log10(Math.max(targetM, 1e-9)));
  return [5, 2, 1].map((k) => k * power).find((m) => m <= targetM) ?? power;
}

/**
 * The map's key, drawn under it (never over the road): what each colour means (the orange dots
 * are where the safety driver took over) and a scale bar in metres. Laid out in rows that fit
 * the map's width.
 */
function legendSvg(
  widthPx: number,
  pxPerM: number,
  fontPx: number,
  routeLengthM: number,
): { svg: string; heightPx: number } {
  const dot = (c: readonly [number, number, number]) => (x: number, y: number) =>
    `<circle cx="${x + fontPx / 2}" cy="${y}" r="${fontPx / 2.4}" fill="${rgb(c)}"/>`;
  const bar = (c: readonly [number, number, number], h: number) => (x: number, y: number) =>
    `<rect x="${x}" y="${y - h / 2}" width="${fontPx}" height="${h}" fill="${rgb(c)}"/>`;
  const items: { mark: (x: number, y: number) => string; label: string }[] = [
    { mark: dot(COLOURS.start), label: 'start' },
    { mark: dot(COLOURS.end), label: `end of the ${Math.round(routeLengthM)} m route` },
    { mark: bar(COLOURS.path, fontPx / 3), label: 'path driven' },
    { mark: dot(COLOURS.intervention), label: 'safety driver took over' },
    { mark: bar(COLOURS.route, fontPx), label: 'route' },
    { mark: bar(COLOURS.extra, fontPx), label: 'road beyond it' },
  ];
  const scaleM = scaleBarLengthM(widthPx / 4 / pxPerM);
  const scalePx = scaleM * pxPerM;
  const charPx = fontPx * 0.6; // DejaVu Sans: about 0.6 em per character
  const gap = fontPx;
  const rowPx = Math.round(fontPx * 1.7);
  const parts: string[] = [];
  let x = gap / 2;
  let row = 0;
  const place = (itemPx: number): [number, number] => {
    if (x + itemPx > widthPx - gap / 2 && x > gap / 2) {
      row++;
      x = gap / 2;
    }
    const at: [number, number] = [x, rowPx * row + rowPx / 2];
    x += itemPx + gap;
    return at;
  };
  for (const item of items) {
    const [ix, iy] = place(fontPx * 1.4 + item.label.length * charPx);
    parts.push(item.mark(ix, iy), `<text x="${ix + fontPx * 1.4}" y="${iy + fontPx * 0.35}">${item.label}</text>`);
  }
  const scaleLabel = `${scaleM} m`;
  const [sx, sy] = place(scalePx + fontPx * 0.5 + scaleLabel.length * charPx);
  parts.push(
    `<path d="M${sx} ${sy - fontPx / 3}V${sy + fontPx / 3}M${sx} ${sy}H${sx + scalePx}M${sx + scalePx} ${sy - fontPx / 3}V${sy + fontPx / 3}" stroke="black" stroke-width="2" fill="none"/>`,
    `<text x="${sx + scalePx + fontPx * 0.5}" y="${sy + fontPx * 0.35}">${scaleLabel}</text>`,
  );
  const heightPx = rowPx * (row + 1);
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${widthPx}" height="${heightPx}"><g font-family="DejaVu Sans, sans-serif" font-size="${fontPx}" fill="black">${parts.join('')}</g></svg>`;
  return { svg, heightPx };
}

/** Encodes an RGB image as PNG bytes. */
export async function rgbToPng(image: {
  readonly width: number;
  readonly height: number;
  readonly data: Uint8Array;
}): Promise<Uint8Array> {
  return new Uint8Array(
    await sharp(image.data, { raw: { width: image.width, height: image.height, channels: 3 } })
      .png()
      .toBuffer(),
  );
}
