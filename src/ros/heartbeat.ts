/**
 * Input freshness: each input the node drives on (the safety driver's signal, the control mode,
 * the measured speed and steering) must keep arriving, or the node stops the car. Modelled on
 * Autoware's vehicle_cmd_gate `isHeartbeatTimeout`: a timeout of 0 disables the check, an input
 * never received is timed out, otherwise it is timed out when the last message is older than the
 * timeout.
 */

/** Autoware vehicle_cmd_gate isHeartbeatTimeout: `timeoutMs` 0 = never; nothing received yet = timed out. */
export function isHeartbeatTimeout(lastReceivedMs: number | null, nowMs: number, timeoutMs: number): boolean {
  if (timeoutMs === 0) return false;
  if (lastReceivedMs === null) return true;
  return nowMs - lastReceivedMs > timeoutMs;
}

/** The inputs with a heartbeat, as named in the status, the diagnostics and the fail-safe reason. */
export const HEARTBEAT_INPUTS = ['safety-driver', 'control-mode', 'speed', 'steering'] as const;
export type HeartbeatInput = (typeof HEARTBEAT_INPUTS)[number];

export interface HeartbeatState {
  readonly input: HeartbeatInput;
  /** ms since the last message (null: none received yet). */
  readonly ageMs: number | null;
  readonly timeoutMs: number;
  readonly timedOut: boolean;
}

/** The first timed-out input (in HEARTBEAT_INPUTS order: the safety signals first), or null. */
export function firstTimedOut(states: readonly HeartbeatState[]): HeartbeatState | null {
  return states.find((s) => s.timedOut) ?? null;
}

/** One input's last arrival on the node's clock; `state(now)` says whether it is stale. */
export class Heartbeat {
  private lastMs: number | null = null;

  constructor(
    readonly input: HeartbeatInput,
    private readonly timeoutMs: number,
  ) {}

  beat(nowMs: number): void {
    this.lastMs = nowMs;
  }

  state(nowMs: number): HeartbeatState {
    return {
      input: this.input,
      ageMs: this.lastMs === null ? null : Math.round(nowMs - this.lastMs),
      timeoutMs: this.timeoutMs,
      timedOut: isHeartbeatTimeout(this.lastMs, nowMs, this.timeoutMs),
    };
  }
}
