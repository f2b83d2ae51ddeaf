import type { RgbImage } from '../src/core/env.js';
import type { Appearance } from './appearance.js';
import type { CameraConfig } from './config.js';
import { newProjection, type Pose2D, type Road } from './road.js';

/**
 * Pinhole camera renderer. Each pixel's ray is intersected with the ground plane z = 0
 * (t = h / -ray_up); the hit point is projected onto the road (a local walk seeded by the
 * neighbouring pixel) to get road-local (s, lateral), which decides asphalt, markings, shoulder
 * or verge. Markings and edges are box-filtered over the pixel's footprint on the ground, so thin
 * lines stay visible (as grey) at low resolution instead of flickering. Texture noise is a hash
 * of world coordinates (no stateful RNG), so a frame depends only on (road, appearance, pose).
 * A CameraWindow renders part of the image (the model input: below the sky crop) on a grid of
 * samples, each filtered over its own footprint, box-averaged into output pixels.
 */

/**
 * The part of the camera image a Camera draws and at what resolution: the rows below
 * `topRowsPx` (the sky crop, in pixels of the full widthPx x heightPx image), over the full
 * width, drawn at outWidthPx x outHeightPx, each output pixel the mean of supersampleX x
 * supersampleY samples on a regular grid. The agent's view: the model input straight from the
 * renderer, with no full frame, image library or copy in between (docs/sim.md).
 */
export interface CameraWindow {
  readonly topRowsPx: number;
  readonly outWidthPx: number;
  readonly outHeightPx: number;
  readonly supersampleX: number;
  readonly supersampleY: number;
}

export interface CameraIntrinsics {
  readonly widthPx: number;
  readonly heightPx: number;
  readonly heightM: number;
  readonly forwardM: number;
  readonly pitchDeg: number;
  readonly hfovDeg: number;
  readonly maxRoadRangeM: number;
}

/** Integer hash of a lattice point to [0, 1). */
function hash2(ix: number, iy: number, seed: number): number {
  let h = (Math.imul(ix, 374761393) + Math.imul(iy, 668265263) + seed) | 0;
  h = Math.imul(h ^ (h >>> 13), 1274126177);
  h ^= h >>> 16;
  return (h >>> 0) / 4294967296;
}

/**
 * Bilinear value noise in [0, 1) on a unit lattice, smoothstep-interpolated, for one seed. It
 * keeps the corner hashes of the last cell it was asked about: neighbouring samples mostly fall in
 * the same cell (a cell of the asphalt's patch noise is 2.9 m, several hundred samples near the
 * camera), and the four hashes were a fifth of a frame. The value is the same expression on the
 * same corner values, so a frame is bit-identical with or without the cache.
 */
class LatticeNoise {
  private seed = 0;
  private ix = Number.NaN;
  private iy = Number.NaN;
  /** Corner hash (ix, iy) and the bilinear coefficients b - a, c - a, a - b - c + d. */
  private a = 0;
  private ba = 0;
  private ca = 0;
  private abcd = 0;

  /** Switches to `seed` (a new look); the cached cell belongs to the old one. */
  reseed(seed: number): void {
    if (seed === this.seed) return;
    this.seed = seed;
    this.ix = Number.NaN;
  }

  private cell(ix: number, iy: number): void {
    if (ix === this.ix && iy === this.iy) return;
    const seed = this.seed;
    const a = hash2(ix, iy, seed);
    const b = hash2(ix + 1, iy, seed);
    const c = hash2(ix, iy + 1, seed);
    const d = hash2(ix + 1, iy + 1, seed);
    this.ix = ix;
    this.iy = iy;
    this.a = a;
    this.ba = b - a;
    this.ca = c - a;
    this.abcd = a - b - c + d;
  }

  value(x: number, y: number): number {
    const ix = Math.floor(x);
    const iy = Math.floor(y);
    let fx = x - ix;
    let fy = y - iy;
    fx = fx * fx * (3 - 2 * fx);
    fy = fy * fy * (3 - 2 * fy);
    this.cell(ix, iy);
    return this.a + this.ba * fx + this.ca * fy + this.abcd * fx * fy;
  }

  /**
   * Fine texture grain: interpolated (smooth) where a pixel is smaller than a lattice cell (close
   * to the camera, where blocks would show), the cell's corner hash elsewhere (cheap).
   */
  grain(x: number, y: number, footprintCells: number): number {
    if (footprintCells < 1) return this.value(x, y);
    const ix = Math.floor(x);
    const iy = Math.floor(y);
    return ix === this.ix && iy === this.iy ? this.a : hash2(ix, iy, this.seed);
  }
}

/** 1-D value noise (for the tree line along the azimuth). */
function valueNoise1(x: number, seed: number): number {
  const ix = Math.floor(x);
  let f = x - ix;
  f = f * f * (3 - 2 * f);
  const a = hash2(ix, 0, seed);
  return a + (hash2(ix + 1, 0, seed) - a) * f;
}

/** Fraction of the interval [c - w/2, c + w/2] covered by [lo, hi] (a box filter). */
function coverage(c: number, w: number, lo: number, hi: number): number {
  const a = Math.max(c - 0.5 * w, lo);
  const b = Math.min(c + 0.5 * w, hi);
  return b > a ? (b - a) / w : 0;
}

/** Length of dash pattern (dash D every period P) painted in [0, x]. */
function dashIntegral(x: number, dashM: number, periodM: number): number {
  const k = Math.floor(x / periodM);
  return k * dashM + Math.min(x - k * periodM, dashM);
}

export class Camera {
  /** Size of what render() / renderModelInput() write: the full image, or the window's output. */
  readonly widthPx: number;
  readonly heightPx: number;
  /** The sample grid: widthPx x heightPx, or the window's output times its supersampling. */
  private readonly samplesX: number;
  private readonly samplesY: number;
  private readonly window: CameraWindow | null;
  /** Per sample column: normalised image-plane x (right positive). */
  private readonly colX: Float64Array;
  /** Per sample row: ray forward and up components (camera pitched down). */
  private readonly rowF: Float64Array;
  private readonly rowU: Float64Array;
  /** Per sample column: azimuth of the horizontal ray relative to the car heading (+ left). */
  private readonly colAz: Float64Array;
  /** Angle between neighbouring samples, horizontally and vertically (radians, at the centre). */
  private readonly sampleAngleXRad: number;
  private readonly sampleAngleYRad: number;
  private readonly treeHeight: Float64Array;
  /** Per sample: ray length (ground) or elevation angle (sky); fixed by the intrinsics. */
  private readonly rayNorm: Float64Array;
  private readonly skyElevation: Float64Array;
  /** Per sample haze fraction for `fogVisibilityM` (recomputed when the look changes). */
  private readonly fog: Float64Array;
  private fogVisibilityM = Number.NaN;
  private readonly proj = newProjection();
  /** The texture noises, each on its own seed offset from the look's (see draw()). */
  private readonly vergeNoise = new LatticeNoise();
  private readonly vergeGrain = new LatticeNoise();
  private readonly shoulderGrain = new LatticeNoise();
  private readonly asphaltPatch = new LatticeNoise();
  private readonly asphaltGrain = new LatticeNoise();
  /** Per sample column: offset of its output pixel within an output row (x 3 channels). */
  private readonly outColOffset: Int32Array;

  constructor(
    readonly intrinsics: CameraIntrinsics,
    window?: CameraWindow,
  ) {
    const fullW = intrinsics.widthPx;
    const fullH = intrinsics.heightPx;
    const top = window?.topRowsPx ?? 0;
    if (window) {
      const ints = [window.topRowsPx, window.outWidthPx, window.outHeightPx, window.supersampleX, window.supersampleY];
      if (!ints.every((n) => Number.isInteger(n)) || top < 0 || top >= fullH || ints.slice(1).some((n) => n < 1)) {
        throw new RangeError(`camera window ${JSON.stringify(window)} does not fit a ${fullW}x${fullH} image`);
      }
    }
    this.window = window ?? null;
    this.widthPx = window?.outWidthPx ?? fullW;
    this.heightPx = window?.outHeightPx ?? fullH;
    const w = window ? window.outWidthPx * window.supersampleX : fullW;
    const h = window ? window.outHeightPx * window.supersampleY : fullH;
    this.samplesX = w;
    this.samplesY = h;
    const sx = window?.supersampleX ?? 1;
    this.outColOffset = Int32Array.from({ length: w }, (_, u) => Math.floor(u / sx) * 3);
    const f = fullW / 2 / Math.tan(((intrinsics.hfovDeg / 2) * Math.PI) / 180);
    // Sample spacing in full-image pixels (1 without a window), as in sharp's resize: sample k of
    // n over a span of L pixels sits at (k + 0.5) L / n.
    const stepX = fullW / w;
    const stepY = (fullH - top) / h;
    this.sampleAngleXRad = stepX / f;
    this.sampleAngleYRad = stepY / f;
    const pitch = (intrinsics.pitchDeg * Math.PI) / 180;
    const cp = Math.cos(pitch);
    const sp = Math.sin(pitch);
    this.colX = new Float64Array(w);
    this.colAz = new Float64Array(w);
    this.treeHeight = new Float64Array(w);
    for (let u = 0; u < w; u++) {
      this.colX[u] = ((u + 0.5) * stepX - fullW / 2) / f;
      this.colAz[u] = Math.atan2(-this.colX[u]! * cp, 1);
    }
    this.rowF = new Float64Array(h);
    this.rowU = new Float64Array(h);
    for (let v = 0; v < h; v++) {
      const y = (top + (v + 0.5) * stepY - fullH / 2) / f; // image y, down positive
      // Camera forward = F cos(p) - U sin(p); camera down = -U cos(p) - F sin(p).
      this.rowF[v] = cp - y * sp;
      this.rowU[v] = -sp - y * cp;
    }
    this.rayNorm = new Float64Array(w * h);
    this.skyElevation = new Float64Array(w * h);
    this.fog = new Float64Array(w * h);
    for (let v = 0; v < h; v++) {
      for (let u = 0; u < w; u++) {
        const rf = this.rowF[v]!;
        const ru = this.rowU[v]!;
        const xr = this.colX[u]!;
        this.rayNorm[v * w + u] = Math.sqrt(rf * rf + xr * xr + ru * ru);
        this.skyElevation[v * w + u] = Math.atan2(ru, Math.sqrt(rf * rf + xr * xr));
      }
    }
  }

  /** Haze fraction per ground sample, 1 - exp(-range / visibility), cached per visibility. */
  private updateFog(visibilityM: number): void {
    if (visibilityM === this.fogVisibilityM) return;
    const w = this.samplesX;
    const h = this.samplesY;
    for (let v = 0; v < h; v++) {
      const ru = this.rowU[v]!;
      if (ru >= 0) continue;
      const t = this.intrinsics.heightM / -ru;
      for (let u = 0; u < w; u++) this.fog[v * w + u] = 1 - Math.exp((-t * this.rayNorm[v * w + u]!) / visibilityM);
    }
    this.fogVisibilityM = visibilityM;
  }

  static fromConfig(cfg: CameraConfig, widthPx = cfg.widthPx, heightPx = cfg.heightPx, window?: CameraWindow): Camera {
    return new Camera({ ...cfg, widthPx, heightPx }, window);
  }

  /** A buffer of the right size for render(). */
  allocate(): RgbImage {
    return { width: this.widthPx, height: this.heightPx, data: new Uint8Array(this.widthPx * this.heightPx * 3) };
  }

  /**
   * Renders the view from a car at `pose` (rear axle) into `out` (allocated if absent).
   * `hintIndex` is the road polyline index near the car (speeds up the first projection).
   */
  render(road: Road, look: Appearance, pose: Pose2D, hintIndex = -1, out?: RgbImage): RgbImage {
    if (this.window && (this.window.supersampleX !== 1 || this.window.supersampleY !== 1))
      throw new RangeError('a supersampled camera window renders floats: use renderModelInput');
    const img = out ?? this.allocate();
    if (img.width !== this.widthPx || img.height !== this.heightPx)
      throw new RangeError('render buffer has the wrong size');
    this.draw(road, look, pose, hintIndex, img.data, null);
    return img;
  }

  /**
   * Renders the view into `out` as the model reads it: HWC floats in [0, 1] (a byte level / 255),
   * each pixel the mean of its supersamples (allocated if absent; length widthPx * heightPx * 3).
   */
  renderModelInput(road: Road, look: Appearance, pose: Pose2D, hintIndex = -1, out?: Float32Array): Float32Array {
    const n = this.widthPx * this.heightPx * 3;
    const target = out ?? new Float32Array(n);
    if (target.length !== n) throw new RangeError(`model input buffer has ${target.length} values, expected ${n}`);
    target.fill(0);
    this.draw(road, look, pose, hintIndex, null, target);
    return target;
  }

  /**
   * Shades every sample: into `bytes` (one sample per pixel, rounded to 0..255) or summed into
   * `floats` (each sample's clamped value / (255 x samples per pixel)).
   */
  private draw(
    road: Road,
    look: Appearance,
    pose: Pose2D,
    hintIndex: number,
    bytes: Uint8Array | null,
    floats: Float32Array | null,
  ): void {
    const data = bytes;
    const W = this.samplesX;
    const H = this.samplesY;
    const sx = this.window?.supersampleX ?? 1;
    const sy = this.window?.supersampleY ?? 1;
    const outW = this.widthPx;
    const floatScale = 1 / (255 * sx * sy);
    const outColOffset = this.outColOffset;
    const K = this.intrinsics;
    const cosY = Math.cos(pose.yawRad);
    const sinY = Math.sin(pose.yawRad);
    const camX = pose.xM + K.forwardM * cosY;
    const camY = pose.yM + K.forwardM * sinY;
    const seed = look.noiseSeed;
    const bright = look.brightness;
    const contrast = look.contrast;
    const halfW = road.roadHalfWidthM;
    const shoulderOut = halfW + look.shoulderWidthM;
    const mw = look.markingWidthM;
    const edgeHi = halfW - look.edgeInsetM;
    const edgeLo = edgeHi - mw;
    const pxAX = this.sampleAngleXRad;
    const pxAY = this.sampleAngleYRad;
    const proj = this.proj;
    // The look's colours and amounts as locals: the per-sample code below reads them ~10 times.
    const [vergeR, vergeG, vergeB] = look.vergeColour;
    const [shoulderR, shoulderG, shoulderB] = look.shoulderColour;
    const [asphaltR, asphaltG, asphaltB] = look.asphalt;
    const [markingR, markingG, markingB] = look.markingColour;
    const [centreR, centreG, centreB] = look.centreColour;
    const [hazeR, hazeG, hazeB] = look.haze;
    const { vergeNoise: vergeNoiseAmount, asphaltPatch: patchAmount, asphaltNoise: asphaltNoiseAmount } = look;
    const { edgeLines, centreMarking } = look;
    const { vergeNoise, vergeGrain, shoulderGrain, asphaltPatch, asphaltGrain } = this;
    vergeNoise.reseed(seed + 1);
    vergeGrain.reseed(seed + 2);
    shoulderGrain.reseed(seed + 3);
    asphaltPatch.reseed(seed + 4);
    asphaltGrain.reseed(seed + 5);

    // Sun direction (world) and how strongly a low sun glares.
    const sunCe = Math.cos(look.sunElevationRad);
    const sunX = sunCe * Math.cos(look.sunAzimuthRad);
    const sunY = sunCe * Math.sin(look.sunAzimuthRad);
    const sunZ = Math.sin(look.sunElevationRad);
    const glare = Math.max(0, 1 - look.sunElevationRad / 0.3) * 0.9;
    const sunLight = 0.8 + 0.3 * Math.min(1, sunZ / 0.5); // ground lit less by a low sun

    // Tree line height per column (azimuth-fixed in the world, so it turns with the car).
    if (look.treeline) {
      for (let u = 0; u < W; u++) {
        const az = pose.yawRad + this.colAz[u]!;
        const coarse = valueNoise1(az * 6, seed + 11);
        const fine = valueNoise1(az * 180, seed + 12);
        this.treeHeight[u] = look.treelineHeightRad * (0.35 + 0.9 * coarse) * (0.8 + 0.4 * fine);
      }
    }

    this.updateFog(look.hazeVisibilityM);
    const fogTable = this.fog;
    const normTable = this.rayNorm;
    const elevTable = this.skyElevation;
    let rowHint = hintIndex >= 0 ? hintIndex : road.projectGlobal(camX, camY, proj).index;
    let r = 0;
    let g = 0;
    let b = 0;
    for (let v = H - 1; v >= 0; v--) {
      const outRowOffset = Math.floor(v / sy) * outW * 3;
      const rf = this.rowF[v]!;
      const ru = this.rowU[v]!;
      let hint = rowHint;
      let firstInRow = true;
      for (let u = 0; u < W; u++) {
        const xr = this.colX[u]!;
        // World direction of the ray (unnormalised): forward rf, left -xr, up ru.
        const dirX = rf * cosY + xr * sinY;
        const dirY = rf * sinY - xr * cosY;
        const pix = v * W + u;
        const norm = normTable[pix]!;
        if (ru < 0) {
          const t = K.heightM / -ru;
          const rangeM = t * norm;
          const gx = camX + t * dirX;
          const gy = camY + t * dirY;
          // Footprint of the pixel on the ground: lateral ~ range * angle; along the view
          // direction stretched by 1 / sin(depression).
          const fpL = rangeM * pxAX;
          const fpS = (rangeM * pxAY * norm) / -ru;
          if (rangeM < K.maxRoadRangeM) {
            road.projectLateral(gx, gy, hint, proj, 256); // (s, lateral) only: no heading per pixel
            hint = proj.index;
            if (firstInRow) {
              rowHint = hint;
              firstInRow = false;
            }
          } else {
            proj.lateralM = 1e9;
            proj.sM = 0;
          }
          const d = proj.lateralM;
          const a = d < 0 ? -d : d;
          // Verge (grass / gravel / dirt) everywhere; asphalt and markings blended over it.
          const grainFade = fpL < 0.08 ? 1 : 0.08 / fpL;
          // A footprint wholly on asphalt (its coverage is 1 up to rounding) hides the verge and
          // shoulder under it: their noise is not computed (a third of the cost of such a sample).
          const hidden = a + 0.5 * fpL < halfW;
          if (hidden) {
            r = 0;
            g = 0;
            b = 0;
          } else {
            const vn = vergeNoise.value(gx * 0.5, gy * 0.5) - 0.5;
            const vg = (vergeGrain.grain(gx * 12, gy * 12, fpL * 12) - 0.5) * grainFade;
            const vk = vergeNoiseAmount * (1.2 * vn + vg);
            r = vergeR + vk;
            g = vergeG + vk * 1.1;
            b = vergeB + vk * 0.8;
          }
          if (a < shoulderOut + fpL) {
            if (!hidden) {
              const cs = coverage(a, fpL, -1e9, shoulderOut);
              const sk = (shoulderGrain.grain(gx * 20, gy * 20, fpL * 20) - 0.5) * 30 * grainFade;
              r += (shoulderR + sk - r) * cs;
              g += (shoulderG + sk - g) * cs;
              b += (shoulderB + sk - b) * cs;
            }
            const ca = coverage(a, fpL, -1e9, halfW);
            if (ca > 0) {
              const patch = (asphaltPatch.value(gx * 0.35, gy * 0.35) - 0.5) * 2 * patchAmount;
              const fine = (asphaltGrain.grain(gx * 16, gy * 16, fpL * 16) - 0.5) * 2 * asphaltNoiseAmount * grainFade;
              const k = patch + fine;
              r += (asphaltR + k - r) * ca;
              g += (asphaltG + k - g) * ca;
              b += (asphaltB + k - b) * ca;
              if (edgeLines) {
                const ce = coverage(a, fpL, edgeLo, edgeHi);
                if (ce > 0) {
                  r += (markingR - r) * ce;
                  g += (markingG - g) * ce;
                  b += (markingB - b) * ce;
                }
              }
              if (centreMarking !== 'none') {
                let cc = coverage(d, fpL, -mw / 2, mw / 2);
                if (cc > 0 && centreMarking === 'dashed') {
                  const s = proj.sM;
                  const span = Math.max(fpS, 1e-3);
                  cc *=
                    (dashIntegral(s + span / 2, look.dashLengthM, look.dashPeriodM) -
                      dashIntegral(s - span / 2, look.dashLengthM, look.dashPeriodM)) /
                    span;
                }
                if (cc > 0) {
                  r += (centreR - r) * cc;
                  g += (centreG - g) * cc;
                  b += (centreB - b) * cc;
                }
              }
            }
          }
          r *= sunLight;
          g *= sunLight;
          b *= sunLight;
          // Haze: Beer-Lambert extinction towards the haze colour.
          const fog = fogTable[pix]!;
          r += (hazeR - r) * fog;
          g += (hazeG - g) * fog;
          b += (hazeB - b) * fog;
        } else {
          // Sky: gradient by elevation, tree line at the horizon.
          const elev = elevTable[pix]!;
          const tz = Math.min(1, elev / 0.6);
          const tzp = Math.sqrt(tz);
          r = look.skyHorizon[0] + (look.skyZenith[0] - look.skyHorizon[0]) * tzp;
          g = look.skyHorizon[1] + (look.skyZenith[1] - look.skyHorizon[1]) * tzp;
          b = look.skyHorizon[2] + (look.skyZenith[2] - look.skyHorizon[2]) * tzp;
          if (look.treeline && elev < this.treeHeight[u]!) {
            const tn = (hash2(u, v, seed + 6) - 0.5) * 14;
            r = look.treelineColour[0] + tn;
            g = look.treelineColour[1] + tn;
            b = look.treelineColour[2] + tn;
          }
        }
        if (glare > 0) {
          // Low sun: a glow around its direction (veiling glare), on sky and ground alike.
          const cosAng = (dirX * sunX + dirY * sunY + ru * sunZ) / norm;
          if (cosAng > 0.5) {
            const gl = glare * (Math.exp((cosAng - 1) * 40) * 1.2 + Math.exp((cosAng - 1) * 6) * 0.35);
            r += (look.sunColour[0] - r) * Math.min(1, gl);
            g += (look.sunColour[1] - g) * Math.min(1, gl);
            b += (look.sunColour[2] - b) * Math.min(1, gl);
          }
        }
        // Exposure: brightness scales, contrast stretches about mid-grey.
        r = (r * bright - 128) * contrast + 128;
        g = (g * bright - 128) * contrast + 128;
        b = (b * bright - 128) * contrast + 128;
        if (data !== null) {
          const o = pix * 3;
          data[o] = r < 0 ? 0 : r > 255 ? 255 : r + 0.5;
          data[o + 1] = g < 0 ? 0 : g > 255 ? 255 : g + 0.5;
          data[o + 2] = b < 0 ? 0 : b > 255 ? 255 : b + 0.5;
        } else if (floats !== null) {
          const o = outRowOffset + (outColOffset[u] as number);
          floats[o]! += (r < 0 ? 0 : r > 255 ? 255 : r) * floatScale;
          floats[o + 1]! += (g < 0 ? 0 : g > 255 ? 255 : g) * floatScale;
          floats[o + 2]! += (b < 0 ? 0 : b > 255 ? 255 : b) * floatScale;
        }
      }
    }
  }
}
