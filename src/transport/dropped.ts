import { log } from '../core/logger.js';

/**
 * Counts the messages a receiver refused, by reason, with one log line per refusal (at most one
 * a second per reason once a reason repeats, so a flood of garbage cannot flood the log).
 */
export class DroppedMessages {
  private readonly byReason = new Map<string, number>();
  private readonly lastLogMs = new Map<string, number>();
  total = 0;

  constructor(private readonly link: string) {}

  drop(reason: string): void {
    this.total += 1;
    this.byReason.set(reason, (this.byReason.get(reason) ?? 0) + 1);
    const now = Date.now();
    const last = this.lastLogMs.get(reason);
    if (last === undefined || now - last >= 1000) {
      this.lastLogMs.set(reason, now);
      log.warn({ link: this.link, reason, dropped: this.total }, `${this.link}: dropped a message: ${reason}`);
    }
  }

  counts(): Record<string, number> {
    return Object.fromEntries(this.byReason);
  }
}
