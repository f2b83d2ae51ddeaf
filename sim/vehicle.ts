import type { VehicleConfig } from './config.js';
import { drivingCommand } from '../src/core/env.js';
import { maxSetpointMps } from './config.js';
import { clamp } from '../src/core/math.js';

/**
 * Kinematic bicycle model with the low-level controllers of the car: the steering actuator moves
 * towards its command at a limited rate, and a proportional speed controller (acceleration and
 * braking limited) tracks the speed set-point. Both run at physicsHz inside one policy step.
 * Reference point: the rear axle (x, y); yaw counter-clockwise from +x.
 */
export interface VehicleState {
  xM: number;
  yM: number;
  yawRad: number;
  speedMps: number;
  steeringRad: number;
}

export interface VehicleCommand {
  /** Steering angle command, radians (+ left), already within the steering limit. */
  readonly steeringRad: number;
  /** Speed set-point, m/s, >= 0. */
  readonly speedSetpointMps: number;
}

export class Vehicle {
  readonly state: VehicleState = { xM: 0, yM: 0, yawRad: 0, speedMps: 0, steeringRad: 0 };

  constructor(readonly cfg: VehicleConfig) {}

  /** Places the car at rest (or at `speedMps`) with straight wheels. */
  place(xM: number, yM: number, yawRad: number, speedMps = 0): void {
    Object.assign(this.state, { xM, yM, yawRad, speedMps, steeringRad: 0 });
  }

  /** Maps a normalised action in [-1, 1]^2 (already clipped) to a command. */
  command(steeringAction: number, speedAction: number): VehicleCommand {
    const { steeringRad, speedMps } = drivingCommand([steeringAction, speedAction], {
      maxSteeringRad: this.cfg.maxSteeringRad,
      maxSpeedMps: maxSetpointMps(this.cfg),
    });
    return { steeringRad, speedSetpointMps: speedMps };
  }

  /** Advances one policy period (physicsHz / policyHz sub-steps of explicit Euler). */
  stepPolicyPeriod(cmd: VehicleCommand): void {
    const n = this.cfg.physicsHz / this.cfg.policyHz;
    const dt = 1 / this.cfg.physicsHz;
    for (let k = 0; k < n; k++) this.substep(cmd, dt);
  }

  private substep(cmd: VehicleCommand, dt: number): void {
    const c = this.cfg;
    const s = this.state;
    // Rate-limited steering actuator.
    const maxDelta = c.maxSteeringRateRadPerS * dt;
    const dSteer = clamp(cmd.steeringRad - s.steeringRad, -maxDelta, maxDelta);
    s.steeringRad = clamp(s.steeringRad + dSteer, -c.maxSteeringRad, c.maxSteeringRad);
    // P speed controller: a = k (v* - v), limited; speed never negative (no reverse gear).
    const accel = Math.min(
      Math.max(c.speedGainPerS * (cmd.speedSetpointMps - s.speedMps), -c.maxDecelMps2),
      c.maxAccelMps2,
    );
    const v0 = s.speedMps;
    s.speedMps = Math.max(0, v0 + accel * dt);
    const v = 0.5 * (v0 + s.speedMps);
    // Kinematic bicycle at the rear axle: x' = v cos(psi), y' = v sin(psi), psi' = v tan(delta) / L.
    s.xM += v * Math.cos(s.yawRad) * dt;
    s.yM += v * Math.sin(s.yawRad) * dt;
    s.yawRad += (v * Math.tan(s.steeringRad) * dt) / c.wheelbaseM;
  }
}
