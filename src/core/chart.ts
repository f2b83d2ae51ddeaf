import sharp from 'sharp';
import * as vega from 'vega';
import { compile, type TopLevelSpec } from 'vega-lite';
import { writeFileSafely } from './files.js';

export type { TopLevelSpec };

/**
 * Renders a Vega-Lite spec to PNG headless: Vega's 'none' renderer makes SVG (no canvas needed),
 * sharp rasterises it. Used for learning curves and other charts people would rather look at.
 */
export async function renderVegaLitePng(spec: TopLevelSpec, path: string, scale = 2): Promise<void> {
  const view = new vega.View(vega.parse(compile(spec).spec), { renderer: 'none' });
  const svg = await view.toSVG();
  view.finalize();
  const png = await sharp(Buffer.from(svg), { density: 72 * scale })
    .flatten({ background: '#ffffff' })
    .png()
    .toBuffer();
  await writeFileSafely(path, png);
}

export interface LineSeriesPoint {
  readonly x: number;
  readonly y: number;
  readonly series: string;
}

/** A simple multi-series line chart (x, y, series) with points, as a PNG. */
export async function lineChartPng(
  points: readonly LineSeriesPoint[],
  opts: { title: string; xTitle: string; yTitle: string; path: string; width?: number; height?: number },
): Promise<void> {
  const spec: TopLevelSpec = {
    $schema: 'https://vega.github.io/schema/vega-lite/v5.json',
    title: opts.title,
    width: opts.width ?? 560,
    height: opts.height ?? 300,
    data: { values: points.map((p) => ({ ...p })) },
    mark: { type: 'line', point: true },
    encoding: {
      x: { field: 'x', type: 'quantitative', title: opts.xTitle },
      y: { field: 'y', type: 'quantitative', title: opts.yTitle },
      color: { field: 'series', type: 'nominal', title: null },
    },
  };
  await renderVegaLitePng(spec, opts.path);
}
