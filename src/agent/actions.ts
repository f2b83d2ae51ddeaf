import { clamp } from '../core/math.js';

/**
 * From the policy's output to the command the world executes. Both live in [-1, 1]^2
 * ([steering, speed]); the world maps them to radians and metres per second.
 */

/** Moves `steering` at most `maxChange` away from `lastSteering` (Raffin: 0.15 of the range per step). */
export function limitSteeringChange(steering: number, lastSteering: number, maxChange: number): number {
  return clamp(steering, lastSteering - maxChange, lastSteering + maxChange);
}

/**
 * The policy's speed output u in [-1, 1] onto the world's speed action, restricted to the
 * fraction [lo, hi] of the world's set-point range: fraction = lo + (hi - lo) (u + 1) / 2, and
 * the world reads action -1 as 0 m/s and +1 as its maximum, so action = 2 fraction - 1.
 */
export function worldSpeedAction(u: number, [lo, hi]: readonly [number, number]): number {
  const fraction = lo + ((hi - lo) * (clamp(u, -1, 1) + 1)) / 2;
  return 2 * fraction - 1;
}

/** The shaped command: what to store as the executed action, and what to send to the world. */
export interface ShapedAction {
  /** In the policy's action space: the learner stores this (the action actually taken). */
  readonly executed: Float32Array;
  /** In the world's action space (DrivingEnvironment.step / the ROS node's Ackermann mapping). */
  readonly world: Float32Array;
}

/** Remembers the last steering command so the per-step change can be limited. */
export class ActionShaper {
  private lastSteering = 0;

  constructor(
    private readonly maxSteeringChangePerStep: number,
    private readonly speedFractionRange: readonly [number, number],
  ) {}

  /** Starts an episode from the car's current steering (normalised to [-1, 1]). */
  reset(steering: number): void {
    this.lastSteering = clamp(steering, -1, 1);
  }

  shape(policyAction: ArrayLike<number>): ShapedAction {
    const steering = limitSteeringChange(
      clamp(policyAction[0] as number, -1, 1),
      this.lastSteering,
      this.maxSteeringChangePerStep,
    );
    const speed = clamp(policyAction[1] as number, -1, 1);
    this.lastSteering = steering;
    return {
      executed: Float32Array.of(steering, speed),
      world: Float32Array.of(steering, worldSpeedAction(speed, this.speedFractionRange)),
    };
  }
}
