/**
 * The car's odometer from its speed readings: each reading holds until the next (zero-order
 * hold), so the distance between two policy steps counts every reading that arrived between them,
 * at whatever rate the car publishes its speed. The reward of a command is the odometer's advance
 * while it was in force (`forwardRewardM`, src/core/env.ts: the simulator's reward is its advance
 * along the lane centre line).
 */
export class Odometer {
  private totalM = 0;
  private speedMps = 0;
  private atMs: number | null = null;

  /** A speed reading (m/s) at `clockMs` of the node's clock. */
  update(speedMps: number, clockMs: number): void {
    this.totalM = this.readingM(clockMs);
    this.speedMps = speedMps;
    this.atMs = clockMs;
  }

  /** Metres driven up to `clockMs` (the last reading held since it arrived; 0 before any). */
  readingM(clockMs: number): number {
    return this.atMs === null ? this.totalM : this.totalM + this.speedMps * (Math.max(0, clockMs - this.atMs) / 1000);
  }
}
