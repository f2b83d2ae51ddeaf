import type { Road } from './road.js';
import { wrapAngle } from './road.js';
import type { CarPose } from './driving-env.js';
import { clamp } from '../src/core/math.js';

/**
 * Pure pursuit on the true road (Coulter 1992): steer the rear axle onto a circle through a goal
 * point `lookahead` metres ahead on the lane centre: delta = atan(2 L sin(alpha) / l_d), alpha
 * the bearing of the goal from the car's heading. A scripted driver for tests, data collection
 * and baselines; it reads the road, so it is not a policy an agent could learn from.
 */
export interface PurePursuitOptions {
  readonly wheelbaseM: number;
  readonly maxSteeringRad: number;
  /** Lookahead distance, metres (default 4). */
  readonly lookaheadM?: number;
  /** Speed action in [-1, 1] (default 1 = the maximum set-point). */
  readonly speedAction?: number;
  /** Lateral offset of the followed line from the lane centre, metres (+ left; default 0). */
  readonly offsetM?: number;
}

/** The action [steering, speed] in [-1, 1] that pure pursuit takes from `pose` at distance `sM`. */
export function purePursuitAction(road: Road, pose: CarPose, sM: number, opts: PurePursuitOptions): [number, number] {
  const ld = opts.lookaheadM ?? 4;
  const goal = road.pointAt(sM + ld, road.laneCentreOffsetM + (opts.offsetM ?? 0));
  const alpha = wrapAngle(Math.atan2(goal.yM - pose.yM, goal.xM - pose.xM) - pose.yawRad);
  const dist = Math.max(Math.hypot(goal.xM - pose.xM, goal.yM - pose.yM), 1e-6);
  const steeringRad = Math.atan((2 * opts.wheelbaseM * Math.sin(alpha)) / dist);
  const steer = clamp(steeringRad / opts.maxSteeringRad, -1, 1);
  return [steer, opts.speedAction ?? 1];
}

/** Pure pursuit for a simulator env's current road and car (wheelbase and steering limit from its config). */
export function purePursuitForEnv(
  env: {
    readonly road: Road;
    readonly pose: CarPose;
    readonly distanceAlongRouteM: number;
    readonly config: { readonly vehicle: { readonly wheelbaseM: number; readonly maxSteeringRad: number } };
  },
  opts: Omit<PurePursuitOptions, 'wheelbaseM' | 'maxSteeringRad'> = {},
): [number, number] {
  return purePursuitAction(env.road, env.pose, env.distanceAlongRouteM, {
    wheelbaseM: env.config.vehicle.wheelbaseM,
    maxSteeringRad: env.config.vehicle.maxSteeringRad,
    ...opts,
  });
}
