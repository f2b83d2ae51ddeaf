import type { Transition } from './types.js';

/** Throws a RangeError naming `field` when a value is not finite or the length is not `expectedLength`. */
export function checkFinite(values: ArrayLike<number>, field: string, expectedLength?: number): void {
  if (expectedLength !== undefined && values.length !== expectedLength) {
    throw new RangeError(`${field} has ${values.length} components, expected ${expectedLength}`);
  }
  for (let i = 0; i < values.length; i++) {
    if (!Number.isFinite(values[i] as number))
      throw new RangeError(`${field}[${i}] is ${values[i]}: transitions must be finite`);
  }
}

/**
 * What the learner accepts: states of `stateSize` finite components whose leading `imageSize` are
 * image values in [0, 1], actions of `actionSize` components in [-1, 1], a finite reward.
 */
export function checkTransition(t: Transition, stateSize: number, actionSize: number, imageSize: number): void {
  checkFinite(t.state, 'state', stateSize);
  checkFinite(t.action, 'action', actionSize);
  checkFinite([t.reward], 'reward');
  checkFinite(t.nextState, 'nextState', stateSize);
  if (imageSize > 0) {
    for (const [field, s] of [
      ['state', t.state],
      ['nextState', t.nextState],
    ] as const) {
      for (let i = 0; i < imageSize; i++) {
        const v = s[i] as number;
        if (v < 0 || v > 1) throw new RangeError(`${field}[${i}] is ${v}: image components must lie in [0, 1]`);
      }
    }
  }
  for (let i = 0; i < t.action.length; i++) {
    const a = t.action[i] as number;
    if (a < -1 || a > 1) throw new RangeError(`action[${i}] is ${a}: actions must lie in [-1, 1]`);
  }
}
