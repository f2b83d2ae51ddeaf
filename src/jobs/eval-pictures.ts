import sharp, { type OverlayOptions } from 'sharp';
import { renderVegaLitePng, type TopLevelSpec } from '../core/chart.js';
import { writeFileSafely } from '../core/files.js';
import type { LookRow, RoadResult } from '../agent/evaluation.js';
import type { FailurePictures } from './eval-drive.js';

/**
 * The evaluation's pictures: each failed road as the camera saw it at its first disengagement,
 * beside its map (driven path blue, disengagements orange), with its look; and the clean-road
 * share per look with its 95% interval.
 */

const escapeXml = (s: string): string => s.replace(/[<>&'"]/g, (c) => `&#${c.charCodeAt(0)};`);

/** One row per failed road: frame | map | caption. Null when no road failed. */
export async function failedRoadsPng(
  policy: string,
  failures: readonly FailurePictures[],
  roads: readonly RoadResult[],
  path: string,
): Promise<boolean> {
  if (failures.length === 0) return false;
  const rowH = 250;
  const frameW = 320;
  const mapW = 250;
  const textW = 300;
  const width = frameW + mapW + textW + 20;
  const height = 40 + failures.length * rowH;
  const layers: OverlayOptions[] = [];
  const lines: string[] = [
    `<text x="10" y="26" font-size="18" font-family="sans-serif" font-weight="bold">${escapeXml(`${policy}: roads with a disengagement`)}</text>`,
  ];
  for (const [i, f] of failures.entries()) {
    const top = 40 + i * rowH;
    const road = roads.find((r) => r.routeSeed === f.roadSeed);
    const frame = Buffer.from(f.framePngBase64, 'base64');
    const map = await sharp(Buffer.from(f.mapPngBase64, 'base64'))
      .resize(mapW - 10, rowH - 10, { fit: 'inside' })
      .png()
      .toBuffer();
    layers.push({ input: frame, left: 5, top: top + 5 }, { input: map, left: frameW + 10, top: top + 5 });
    const caption = [
      `road ${f.roadSeed}`,
      road
        ? `${road.disengagements} disengagement${road.disengagements === 1 ? '' : 's'} in ${road.distanceM.toFixed(0)} m`
        : '',
      ...Object.entries(road?.look ?? {}).map(([k, v]) => `${k}: ${v}`),
    ].filter((s) => s !== '');
    caption.forEach((c, j) =>
      lines.push(
        `<text x="${frameW + mapW + 20}" y="${top + 24 + j * 22}" font-size="15" font-family="sans-serif">${escapeXml(c)}</text>`,
      ),
    );
  }
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}">${lines.join('')}</svg>`;
  layers.push({ input: Buffer.from(svg), left: 0, top: 0 });
  const png = await sharp({ create: { width, height, channels: 3, background: '#ffffff' } })
    .composite(layers)
    .png()
    .toBuffer();
  await writeFileSafely(path, png);
  return true;
}

/** Clean-road share per look level (bars) with bootstrap 95% intervals (rules), one colour per policy. */
export async function looksChartPng(rows: readonly (LookRow & { policy: string })[], path: string): Promise<void> {
  const values = rows
    .filter((r) => r.roads > 0)
    .map((r) => ({
      look: `${r.factor}: ${r.level}`,
      policy: r.policy,
      share: r.cleanShare.estimate,
      lo: r.cleanShare.lo,
      hi: r.cleanShare.hi,
      roads: r.roads,
    }));
  const spec: TopLevelSpec = {
    $schema: 'https://vega.github.io/schema/vega-lite/v5.json',
    title: 'Roads driven without a disengagement, by look (95% bootstrap interval)',
    data: { values },
    width: 520,
    height: { step: 14 },
    encoding: {
      y: { field: 'look', type: 'nominal', title: null, sort: null },
      yOffset: { field: 'policy' },
      color: { field: 'policy', type: 'nominal', title: null },
    },
    layer: [
      {
        mark: 'bar',
        encoding: {
          x: { field: 'share', type: 'quantitative', title: 'share of roads clean', scale: { domain: [0, 1] } },
        },
      },
      {
        mark: { type: 'rule', color: 'black' },
        encoding: { x: { field: 'lo', type: 'quantitative' }, x2: { field: 'hi' } },
      },
    ],
  };
  await renderVegaLitePng(spec, path);
}
