import type { FrameRecord } from './dataset.js';

/**
 * Auxiliary targets a car can compute from its own recording (no simulator ground truth): the path
 * the car drove around each frame, from odometry. For a frame at time t with pose (x, y, yaw), the
 * pose at t + h (linear interpolation between the recorded poses of the same segment) seen from
 * the car at t:
 *   lateral(h) = -sin(yaw) (x_h - x) + cos(yaw) (y_h - y)     (metres, + = left; REP 103)
 *   headingChange(h) = wrap(yaw_h - yaw)                       (radians, + = left)
 * at h = -4, -3, -2, -1 s (where the car came from) and +1, +2 s (where it went). The past path
 * carries the lane best: the car was in its lane those seconds, so where it came from, seen from
 * where it is, follows from its cross-track and heading error now (a least-squares fit on those
 * two explains 36-72% of each past target's variance on the collection drive, 18-40% of each
 * future one, which depends on the driver's next move: scripts/odometry-target-fit.ts;
 * docs/experiments/2026-12-05-vae-without-ground-truth.md).
 */

export interface PoseSample {
  readonly tS: number;
  readonly xM: number;
  readonly yM: number;
  readonly yawRad: number;
}

const wrap = (a: number): number => Math.atan2(Math.sin(a), Math.cos(a));

/** The pose at time `tS`, interpolated between the samples around it (sorted by time); null outside them. */
export function poseAt(samples: readonly PoseSample[], tS: number): PoseSample | null {
  if (samples.length === 0 || tS < samples[0]!.tS || tS > samples[samples.length - 1]!.tS) return null;
  let lo = 0;
  let hi = samples.length - 1;
  while (hi - lo > 1) {
    const mid = (lo + hi) >> 1;
    if (samples[mid]!.tS <= tS) lo = mid;
    else hi = mid;
  }
  const a = samples[lo]!;
  const b = samples[hi]!;
  const f = b.tS === a.tS ? 0 : (tS - a.tS) / (b.tS - a.tS);
  return {
    tS,
    xM: a.xM + f * (b.xM - a.xM),
    yM: a.yM + f * (b.yM - a.yM),
    yawRad: a.yawRad + f * wrap(b.yawRad - a.yawRad),
  };
}

/** [lateral offset (m), heading change (rad)] of the pose `horizonS` after sample `i` (before it when negative), in sample i's car frame; null outside the samples. */
export function relativePose(samples: readonly PoseSample[], i: number, horizonS: number): [number, number] | null {
  const now = samples[i]!;
  const then = poseAt(samples, now.tS + horizonS);
  if (then === null) return null;
  const dx = then.xM - now.xM;
  const dy = then.yM - now.yM;
  return [-Math.sin(now.yawRad) * dx + Math.cos(now.yawRad) * dy, wrap(then.yawRad - now.yawRad)];
}

/** The horizons of the targets, seconds from the frame (negative: the past). */
export const ODOMETRY_TARGET_HORIZONS_S = [-4, -3, -2, -1, 1, 2] as const;

const horizonName = (h: number): string => (h < 0 ? `Past${-h}s` : `Next${h}s`);

/** Per horizon: lateral offset then heading change ('lateralPast4sM', 'headingChangePast4sRad', ...). */
export const ODOMETRY_TARGET_NAMES: readonly string[] = ODOMETRY_TARGET_HORIZONS_S.flatMap((h) => [
  `lateral${horizonName(h)}M`,
  `headingChange${horizonName(h)}Rad`,
]);

/**
 * The odometry targets of every frame ([frames x ODOMETRY_TARGET_NAMES.length], row-major; NaN
 * where a frame's segment has no pose that far before or after it). Frames of one segment share
 * `episode`; their order in time comes from timestampNs. Null when the frames carry no odometry
 * (not a bag).
 */
export function odometryTargets(records: readonly FrameRecord[]): Float64Array | null {
  if (!records.some((r) => r.odomXM !== undefined)) return null;
  const n = ODOMETRY_TARGET_NAMES.length;
  const values = new Float64Array(records.length * n).fill(Number.NaN);
  const bySegment = new Map<number, number[]>();
  records.forEach((r, i) => {
    if (r.odomXM === undefined || r.odomYM === undefined || r.odomYawRad === undefined || r.timestampNs === undefined)
      return;
    const list = bySegment.get(r.episode) ?? [];
    list.push(i);
    bySegment.set(r.episode, list);
  });
  for (const indices of bySegment.values()) {
    const t0 = BigInt(records[indices[0]!]!.timestampNs!);
    const sorted = [...indices].sort((a, b) =>
      Number(BigInt(records[a]!.timestampNs!) - BigInt(records[b]!.timestampNs!)),
    );
    const samples = sorted.map((i) => {
      const r = records[i]!;
      return { tS: Number(BigInt(r.timestampNs!) - t0) / 1e9, xM: r.odomXM!, yM: r.odomYM!, yawRad: r.odomYawRad! };
    });
    sorted.forEach((recordIndex, k) => {
      ODOMETRY_TARGET_HORIZONS_S.forEach((h, j) => {
        const pose = relativePose(samples, k, h);
        if (pose === null) return;
        values[recordIndex * n + 2 * j] = pose[0];
        values[recordIndex * n + 2 * j + 1] = pose[1];
      });
    });
  }
  return values;
}
