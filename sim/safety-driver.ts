import type { InterventionReason } from '../src/core/env.js';
import type { SafetyConfig } from './config.js';

/** What the simulated safety driver looks at. */
export interface SafetyInputs {
  /** Signed offset of the car from its lane centre, metres. */
  readonly crossTrackErrorM: number;
  /** Car yaw minus road heading, radians in (-pi, pi]. */
  readonly headingErrorRad: number;
  readonly speedMps: number;
  readonly laneWidthM: number;
  readonly speedCapMps: number;
}

/**
 * The simulated safety driver: takes over when the car leaves its lane (|cross-track error| >
 * lane half-width + margin), points too far off the road direction, or exceeds the speed cap.
 * Checks run in that order; the first that fires is the reason.
 */
export class SafetyDriver {
  private readonly maxHeadingRad: number;

  constructor(readonly cfg: SafetyConfig) {
    this.maxHeadingRad = (cfg.maxHeadingErrorDeg * Math.PI) / 180;
  }

  /** Lateral limit for a lane of this width, metres. */
  maxCrossTrackM(laneWidthM: number): number {
    return laneWidthM / 2 + this.cfg.offLaneMarginM;
  }

  check(x: SafetyInputs): InterventionReason | null {
    if (!(Math.abs(x.crossTrackErrorM) <= this.maxCrossTrackM(x.laneWidthM))) return 'off-lane';
    if (!(Math.abs(x.headingErrorRad) <= this.maxHeadingRad)) return 'heading';
    if (!(x.speedMps <= x.speedCapMps + this.cfg.overspeedToleranceMps)) return 'overspeed';
    return null;
  }
}
