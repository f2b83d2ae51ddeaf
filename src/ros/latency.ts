import { roundTo } from '../core/math.js';
/**
 * Control-loop latency: the last N samples of a duration, with percentiles for the status
 * message and the periodic log line. A fixed ring keeps the cost constant over a long drive.
 */

export interface LatencySummary {
  readonly count: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly maxMs: number;
}

export class LatencyWindow {
  private readonly samples: Float64Array;
  private next = 0;
  private filled = 0;

  constructor(capacity = 1000) {
    this.samples = new Float64Array(capacity);
  }

  add(ms: number): void {
    this.samples[this.next] = ms;
    this.next = (this.next + 1) % this.samples.length;
    this.filled = Math.min(this.filled + 1, this.samples.length);
  }

  summary(): LatencySummary {
    if (this.filled === 0) return { count: 0, p50Ms: NaN, p99Ms: NaN, maxMs: NaN };
    const sorted = this.samples.slice(0, this.filled).sort();
    const at = (p: number): number => roundTo(sorted[Math.min(this.filled - 1, Math.floor(p * this.filled))]!, 2);
    return { count: this.filled, p50Ms: at(0.5), p99Ms: at(0.99), maxMs: roundTo(sorted[this.filled - 1]!, 2) };
  }
}
