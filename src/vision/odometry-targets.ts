import type { FrameRecord } from './dataset.js';

/**
 * Auxiliary targets a car can compute from its own recording (no simulator ground truth): where
 * the car went next, from odometry, and what the driver commanded. For a frame at time t with
 * pose (x, y, yaw), the pose at t + h (linear interpolation between the recorded poses of the
 * same segment) seen from the car at t:
 *   lateral(h) = -sin(yaw) (x_h - x) + cos(yaw) (y_h - y)     (metres, + = left; REP 103)
 *   headingChange(h) = wrap(yaw_h - yaw)                       (radians, + = left)
 * Over 1-2 s these are the path the driver chose given the road in the frame: its curvature
 * and the correction back to the lane, which is what the latent must carry for steering.
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

/** [lateral offset (m), heading change (rad)] of the pose `horizonS` after sample `i`, in sample i's car frame; null past the end. */
export function futureOffset(samples: readonly PoseSample[], i: number, horizonS: number): [number, number] | null {
  const now = samples[i]!;
  const then = poseAt(samples, now.tS + horizonS);
  if (then === null) return null;
  const dx = then.xM - now.xM;
  const dy = then.yM - now.yM;
  return [-Math.sin(now.yawRad) * dx + Math.cos(now.yawRad) * dy, wrap(then.yawRad - now.yawRad)];
}

export const ODOMETRY_TARGET_NAMES = ['lateral1sM', 'lateral2sM', 'headingChange2sRad', 'driverSteeringRad'] as const;

/**
 * The odometry targets of every frame ([frames x 4], row-major; NaN where a frame has no pose
 * 1-2 s later in its segment, or no command). Frames of one segment share `episode`; their
 * order in time comes from timestampNs. Null when the frames carry no odometry (not a bag).
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
      const one = futureOffset(samples, k, 1);
      const two = futureOffset(samples, k, 2);
      const row = recordIndex * n;
      if (one) values[row] = one[0];
      if (two) {
        values[row + 1] = two[0];
        values[row + 2] = two[1];
      }
      const steer = records[recordIndex]!.commandSteeringRad;
      if (steer !== undefined) values[row + 3] = steer;
    });
  }
  return values;
}
