import { UserError } from '../src/core/errors.js';
import { Rng } from '../src/core/rng.js';
import type { RoadConfig } from './config.js';
import { clamp } from '../src/core/math.js';

/**
 * Procedural roads: a centre line of straights, arcs and S-bends drawn from a seed, stored as a
 * dense arc-length-parameterised polyline (x, y, heading at every `sampleSpacingM`) so that
 * projection is a short local walk from the last hit. World frame: x east, y north, headings
 * counter-clockwise from +x (ROS REP 103); lateral offsets are positive to the LEFT of the
 * direction of travel.
 */

export type RoadSegment =
  | { readonly kind: 'straight'; readonly lengthM: number }
  /** Signed curvature: + turns left. */
  | { readonly kind: 'arc'; readonly radiusM: number; readonly angleRad: number; readonly left: boolean };

/** Where a point lies relative to the road centre line. */
export interface RoadProjection {
  /** Arc length along the centre line of the foot point, metres. */
  sM: number;
  /** Signed lateral offset from the centre line, metres, + left. */
  lateralM: number;
  /** Centre-line heading at the foot point, radians. */
  headingRad: number;
  /** Polyline segment index of the foot (pass back as the hint of the next query). */
  index: number;
}

export interface Pose2D {
  readonly xM: number;
  readonly yM: number;
  readonly yawRad: number;
}

/** Wraps an angle to (-pi, pi]. */
export function wrapAngle(a: number): number {
  let r = a % (2 * Math.PI);
  if (r <= -Math.PI) r += 2 * Math.PI;
  else if (r > Math.PI) r -= 2 * Math.PI;
  return r;
}

export class Road {
  readonly xs: Float64Array;
  readonly ys: Float64Array;
  readonly headings: Float64Array;
  /** Number of polyline points. */
  readonly count: number;
  /** Total length of the drawn centre line (route + extra), metres. */
  readonly totalLengthM: number;
  readonly laneWidthM: number;
  readonly laneCount: 1 | 2;
  /** Lateral offset of the lane the car drives in, from the centre line (+ left), metres. */
  readonly laneCentreOffsetM: number;

  constructor(
    /** The segments that make up the centre line, in order. */
    readonly segments: readonly RoadSegment[],
    readonly spacingM: number,
    /** Length of the route the car must drive, metres (<= totalLengthM). */
    readonly routeLengthM: number,
    laneWidthM: number,
    laneCount: 1 | 2,
    drivingSide: 'right' | 'left',
    /** The seed the road was drawn from (NaN for hand-built roads). */
    readonly seed: number = Number.NaN,
    start: Pose2D = { xM: 0, yM: 0, yawRad: 0 },
  ) {
    this.laneWidthM = laneWidthM;
    this.laneCount = laneCount;
    this.laneCentreOffsetM = laneCount === 1 ? 0 : drivingSide === 'right' ? -laneWidthM / 2 : laneWidthM / 2;
    const total = segments.reduce((acc, s) => acc + segmentLength(s), 0);
    const n = Math.floor(total / spacingM) + 1;
    this.count = n;
    this.totalLengthM = (n - 1) * spacingM;
    this.xs = new Float64Array(n);
    this.ys = new Float64Array(n);
    this.headings = new Float64Array(n);
    // Exact integration of each segment at the sample arc lengths (no accumulated drift).
    let segIdx = 0;
    let segStartS = 0;
    let x0 = start.xM;
    let y0 = start.yM;
    let h0 = start.yawRad;
    for (let i = 0; i < n; i++) {
      const s = i * spacingM;
      while (segIdx < segments.length - 1 && s > segStartS + segmentLength(segments[segIdx]!)) {
        const seg = segments[segIdx]!;
        const len = segmentLength(seg);
        const end = advance(seg, x0, y0, h0, len);
        x0 = end.x;
        y0 = end.y;
        h0 = end.h;
        segStartS += len;
        segIdx++;
      }
      const p = advance(segments[segIdx]!, x0, y0, h0, s - segStartS);
      this.xs[i] = p.x;
      this.ys[i] = p.y;
      this.headings[i] = wrapAngle(p.h);
    }
  }

  /** Total width of the paved road, metres. */
  get roadHalfWidthM(): number {
    return (this.laneWidthM * this.laneCount) / 2;
  }

  /** Point at arc length s (clamped to the road) and lateral offset (+ left), with the centre-line heading. */
  pointAt(sM: number, lateralM = 0): { xM: number; yM: number; headingRad: number } {
    const sc = clamp(sM, 0, this.totalLengthM);
    const i = Math.min(Math.floor(sc / this.spacingM), this.count - 2);
    const t = (sc - i * this.spacingM) / this.spacingM;
    const x = this.xs[i]! + t * (this.xs[i + 1]! - this.xs[i]!);
    const y = this.ys[i]! + t * (this.ys[i + 1]! - this.ys[i]!);
    const h = this.headings[i]! + t * wrapAngle(this.headings[i + 1]! - this.headings[i]!);
    return { xM: x - Math.sin(h) * lateralM, yM: y + Math.cos(h) * lateralM, headingRad: wrapAngle(h) };
  }

  /**
   * Projects (x, y) onto the centre line by walking from segment `hint` towards the foot point
   * (a local search: O(distance moved / spacing)). The result is written into `out` to avoid
   * allocation. The lateral sign comes from the 2-D cross product of the segment direction and
   * the point offset; the heading is interpolated along the segment.
   */
  project(xM: number, yM: number, hint: number, out: RoadProjection, maxWalk = 4096): RoadProjection {
    const tc = this.projectLateral(xM, yM, hint, out, maxWalk);
    const i = out.index;
    const h0 = this.headings[i]!;
    out.headingRad = h0 + tc * wrapAngle(this.headings[i + 1]! - h0);
    return out;
  }

  /**
   * project() without the heading: writes `sM`, `lateralM` and `index` and returns the foot's
   * fraction along segment `index`, clamped to [0, 1]. The renderer's per-pixel projection: kept
   * small enough for V8 to inline into the pixel loop (a call per sample was a tenth of a frame).
   */
  projectLateral(xM: number, yM: number, hint: number, out: RoadProjection, maxWalk = 4096): number {
    const xs = this.xs;
    const ys = this.ys;
    const last = this.count - 2;
    let i = hint < 0 ? 0 : hint > last ? last : hint | 0;
    const inv = 1 / this.spacingM;
    let t = 0;
    for (let k = 0; k < maxWalk; k++) {
      const dx = xs[i + 1]! - xs[i]!;
      const dy = ys[i + 1]! - ys[i]!;
      t = ((xM - xs[i]!) * dx + (yM - ys[i]!) * dy) * inv * inv;
      if (t < 0 && i > 0) i--;
      else if (t > 1 && i < last) i++;
      else break;
    }
    const tc = t < 0 ? 0 : t > 1 ? 1 : t;
    const dx = xs[i + 1]! - xs[i]!;
    const dy = ys[i + 1]! - ys[i]!;
    const fx = xs[i]! + tc * dx;
    const fy = ys[i]! + tc * dy;
    const cross = dx * (yM - fy) - dy * (xM - fx);
    const ex = xM - fx;
    const ey = yM - fy;
    const dist = Math.sqrt(ex * ex + ey * ey); // (Math.hypot is several times slower in V8)
    out.sM = (i + t) * this.spacingM;
    out.lateralM = cross >= 0 ? dist : -dist;
    out.index = i;
    return tc;
  }

  /**
   * Like project(), then refines the foot on the curved centre line: the chord foot is off by up
   * to |lateral| * (heading change per sample) / 2, so two Newton steps solve
   * (P - C(s)) . T(s) = 0 with the heading interpolated. For the car (not the renderer's pixels).
   */
  projectPrecise(xM: number, yM: number, hint: number, out: RoadProjection): RoadProjection {
    this.project(xM, yM, hint, out);
    for (let k = 0; k < 2; k++) {
      const sClamped = clamp(out.sM, 0, this.totalLengthM);
      const c = this.pointAt(sClamped);
      const tx = Math.cos(c.headingRad);
      const ty = Math.sin(c.headingRad);
      const along = (xM - c.xM) * tx + (yM - c.yM) * ty;
      const lateral = -(xM - c.xM) * ty + (yM - c.yM) * tx;
      // Curvature from the heading change across the sample.
      const i = Math.min(Math.floor(sClamped / this.spacingM), this.count - 2);
      const kappa = wrapAngle(this.headings[i + 1]! - this.headings[i]!) / this.spacingM;
      out.sM = sClamped + along / Math.max(1e-6, 1 - kappa * lateral);
      out.lateralM = lateral;
      out.headingRad = c.headingRad;
    }
    const sClamped = clamp(out.sM, 0, this.totalLengthM);
    const c = this.pointAt(sClamped);
    out.lateralM = -(xM - c.xM) * Math.sin(c.headingRad) + (yM - c.yM) * Math.cos(c.headingRad);
    out.headingRad = c.headingRad;
    out.index = Math.min(Math.floor(sClamped / this.spacingM), this.count - 2);
    return out;
  }

  /** Global projection (a coarse scan, then a local walk): for queries with no good hint. */
  projectGlobal(xM: number, yM: number, out: RoadProjection): RoadProjection {
    let best = 0;
    let bestD = Infinity;
    const stride = Math.max(1, Math.round(2 / this.spacingM));
    for (let i = 0; i < this.count - 1; i += stride) {
      const d = (this.xs[i]! - xM) ** 2 + (this.ys[i]! - yM) ** 2;
      if (d < bestD) {
        bestD = d;
        best = i;
      }
    }
    return this.project(xM, yM, best, out);
  }
}

export function newProjection(): RoadProjection {
  return { sM: 0, lateralM: 0, headingRad: 0, index: 0 };
}

export function segmentLength(s: RoadSegment): number {
  return s.kind === 'straight' ? s.lengthM : s.radiusM * s.angleRad;
}

/** Pose after driving `d` metres along a segment from (x, y, h): straight line or circular arc. */
function advance(seg: RoadSegment, x: number, y: number, h: number, d: number): { x: number; y: number; h: number } {
  if (seg.kind === 'straight') return { x: x + d * Math.cos(h), y: y + d * Math.sin(h), h };
  const k = (seg.left ? 1 : -1) / seg.radiusM; // signed curvature
  const h1 = h + k * d;
  // Exact arc: x' = x + (sin h1 - sin h) / k, y' = y - (cos h1 - cos h) / k
  return { x: x + (Math.sin(h1) - Math.sin(h)) / k, y: y - (Math.cos(h1) - Math.cos(h)) / k, h: h1 };
}

function pickWeighted<K extends string>(rng: Rng, weights: Readonly<Record<K, number>>): K {
  const keys = Object.keys(weights) as K[];
  const total = keys.reduce((a, k) => a + weights[k], 0);
  let r = rng.uniform() * total;
  for (const k of keys) {
    r -= weights[k];
    if (r < 0) return k;
  }
  return keys[keys.length - 1]!;
}
export { pickWeighted };

const DEG = Math.PI / 180;

/** Draws the segment list of one road; turns alternate loosely so routes wander instead of looping. */
function drawSegments(rng: Rng, cfg: RoadConfig, lengthM: number): RoadSegment[] {
  const segs: RoadSegment[] = [];
  let len = 0;
  if (cfg.startStraightM > 0) {
    segs.push({ kind: 'straight', lengthM: cfg.startStraightM });
    len += cfg.startStraightM;
  }
  let heading = 0; // net heading change so far, to bias turns back towards the start direction
  while (len < lengthM) {
    const kind = pickWeighted(rng, cfg.segmentWeights);
    if (kind === 'straight') {
      const l = rng.range(cfg.straightLengthRangeM[0], cfg.straightLengthRangeM[1]);
      segs.push({ kind: 'straight', lengthM: l });
      len += l;
      continue;
    }
    // Log-uniform radius: tight bends and gentle sweepers equally likely per octave.
    const radius = () => Math.exp(rng.range(Math.log(cfg.radiusRangeM[0]), Math.log(cfg.radiusRangeM[1])));
    const angle = () => rng.range(cfg.arcAngleRangeDeg[0], cfg.arcAngleRangeDeg[1]) * DEG;
    // Turn left with a probability that falls as the road has already turned left.
    const left = rng.uniform() < 0.5 - 0.4 * Math.tanh(heading / (Math.PI / 2));
    if (kind === 'arc') {
      const a: RoadSegment = { kind: 'arc', radiusM: radius(), angleRad: angle(), left };
      segs.push(a);
      len += segmentLength(a);
      heading += (left ? 1 : -1) * a.angleRad;
    } else {
      const r1 = radius();
      const a1 = angle();
      const first: RoadSegment = { kind: 'arc', radiusM: r1, angleRad: a1, left };
      // The second half is a near-mirror of the first (a scaled copy), clamped so that it too
      // stays inside the configured ranges; both factors are always drawn, so clamping never
      // shifts the random stream and the rest of the road is drawn from the same numbers.
      const r2 = clamp(r1 * rng.range(0.8, 1.25), cfg.radiusRangeM[0], cfg.radiusRangeM[1]);
      const a2 = clamp(a1 * rng.range(0.8, 1.25), cfg.arcAngleRangeDeg[0] * DEG, cfg.arcAngleRangeDeg[1] * DEG);
      const second: RoadSegment = { kind: 'arc', radiusM: r2, angleRad: a2, left: !left };
      segs.push(first, second);
      len += segmentLength(first) + segmentLength(second);
      heading += (left ? 1 : -1) * (first.angleRad - second.angleRad);
    }
  }
  return segs;
}

/** True when two parts of the road more than `gapS` apart along it come within `minDistM`. */
function selfIntersects(road: Road, minDistM: number, gapS: number): boolean {
  const stride = Math.max(1, Math.round(2 / road.spacingM));
  const gap = Math.round(gapS / road.spacingM);
  for (let i = 0; i < road.count; i += stride) {
    for (let j = i + gap; j < road.count; j += stride) {
      const d2 = (road.xs[i]! - road.xs[j]!) ** 2 + (road.ys[i]! - road.ys[j]!) ** 2;
      if (d2 < minDistM * minDistM) return true;
    }
  }
  return false;
}

/** Parts of a road more than ROAD_LOOP_GAP_M apart along it must stay ROAD_CLEARANCE_M apart. */
export const ROAD_CLEARANCE_M = 25;
export const ROAD_LOOP_GAP_M = 60;
/** Draws per seed before the configuration is declared unsatisfiable. */
export const ROAD_MAX_ATTEMPTS = 50;

/**
 * The road of a seed: same seed and configuration -> the same road, bit for bit. Roads whose
 * far-apart parts come close (a loop back onto itself) are redrawn from the same stream. With
 * the defaults a draw is rejected rarely (no failure in 20,000 seeds), so 50 straight rejections mean the
 * configuration itself forces loops (tight radii, large turning angles, long routes): that is a
 * UserError naming the settings, not a silently self-intersecting road that the camera, the
 * projection (which may jump to the other branch) and the safety driver would all get wrong.
 */
export function generateRoad(seed: number, cfg: RoadConfig): Road {
  const rng = Rng.fromSeed(seed, 'world-v1');
  const laneCount: 1 | 2 = rng.uniform() < cfg.twoLaneProbability ? 2 : 1;
  const laneWidthM = rng.range(cfg.laneWidthRangeM[0], cfg.laneWidthRangeM[1]);
  const totalM = cfg.routeLengthM + cfg.extraRoadM;
  for (let attempt = 0; attempt < ROAD_MAX_ATTEMPTS; attempt++) {
    const road = new Road(
      drawSegments(rng, cfg, totalM),
      cfg.sampleSpacingM,
      cfg.routeLengthM,
      laneWidthM,
      laneCount,
      cfg.drivingSide,
      seed,
    );
    if (!selfIntersects(road, ROAD_CLEARANCE_M, ROAD_LOOP_GAP_M) && hasBendWithin(road.segments, cfg)) return road;
  }
  const w = cfg.segmentWeights;
  const bend =
    cfg.tightestBendAtMostM === null
      ? ''
      : ` or have no bend of at most road.tightestBendAtMostM ${cfg.tightestBendAtMostM} m in the route`;
  throw new UserError(
    `invalid road config: all ${ROAD_MAX_ATTEMPTS} roads drawn for seed ${seed} loop back onto themselves${bend} (parts more than ` +
      `${ROAD_LOOP_GAP_M} m apart along the road come within ${ROAD_CLEARANCE_M} m) with road.routeLengthM ${cfg.routeLengthM} + road.extraRoadM ${cfg.extraRoadM}, ` +
      `road.radiusRangeM [${cfg.radiusRangeM.join(', ')}], road.arcAngleRangeDeg [${cfg.arcAngleRangeDeg.join(', ')}], ` +
      `road.segmentWeights straight ${w.straight} / arc ${w.arc} / sBend ${w.sBend}: ` +
      'use larger radii, smaller turning angles, more straights or a shorter route',
  );
}

/** Whether the route (its first routeLengthM) has a bend of radius at most cfg.tightestBendAtMostM (always, when null). */
function hasBendWithin(segments: readonly RoadSegment[], cfg: RoadConfig): boolean {
  const limit = cfg.tightestBendAtMostM;
  return limit === null || tightestBendInRouteM(segments, cfg.routeLengthM) <= limit;
}

/** The smallest radius of the arcs that begin within the first routeLengthM of the road (Infinity: none). */
export function tightestBendInRouteM(segments: readonly RoadSegment[], routeLengthM: number): number {
  let tightest = Infinity;
  let startM = 0;
  for (const s of segments) {
    if (startM >= routeLengthM) break;
    if (s.kind === 'arc') tightest = Math.min(tightest, s.radiusM);
    startM += segmentLength(s);
  }
  return tightest;
}

/** A straight road along +x (for tests and demos). */
export function straightRoad(lengthM: number, laneWidthM = 3.2, laneCount: 1 | 2 = 1, spacingM = 0.25): Road {
  return new Road([{ kind: 'straight', lengthM }], spacingM, lengthM, laneWidthM, laneCount, 'right');
}

/** A full circle of radius r turning left, starting at the origin heading +x (centre at (0, r)). */
export function circleRoad(radiusM: number, laneWidthM = 3.2, laneCount: 1 | 2 = 1, spacingM = 0.25): Road {
  const len = 2 * Math.PI * radiusM;
  return new Road(
    [{ kind: 'arc', radiusM, angleRad: 2 * Math.PI, left: true }],
    spacingM,
    len,
    laneWidthM,
    laneCount,
    'right',
  );
}
