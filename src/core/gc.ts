import { performance } from 'node:perf_hooks';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

/**
 * A full garbage collection now, for a moment when a pause costs nothing. V8 starts its major
 * collections when its heuristics say: when the old generation has grown, or (the memory reducer)
 * when the allocation rate has just fallen, which is what a drive node does when it stops driving
 * and holds the car. Collected at a moment of our choosing, the heap has room for the seconds
 * after, and V8 has no reason to start a collection of its own in them.
 *
 * Node gives scripts `gc` only under --expose-gc; the flag is set at run time and the function
 * taken from a new context (jest-leak-detector does the same), so the process needs no
 * command-line flag. Returns the pause in ms, or null where the function is not available.
 */
export function collectGarbage(): number | null {
  const gc = fullCollection();
  if (gc === null) return null;
  const t0 = performance.now();
  gc();
  return performance.now() - t0;
}

let gcFunction: (() => void) | null | undefined;

function fullCollection(): (() => void) | null {
  if (gcFunction === undefined) {
    try {
      setFlagsFromString('--expose-gc');
      const gc: unknown = runInNewContext('gc');
      gcFunction = typeof gc === 'function' ? (gc as () => void) : null;
    } catch {
      gcFunction = null;
    }
  }
  return gcFunction;
}
