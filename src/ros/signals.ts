import { constants } from 'node:os';
import { log } from '../core/logger.js';
import type { RclModule } from './rclnodejs-types.js';

/** Where signals come from: the process, or a stand-in in tests. */
export interface SignalSource {
  on(signal: NodeJS.Signals, listener: (signal: NodeJS.Signals) => void): unknown;
  off(signal: NodeJS.Signals, listener: (signal: NodeJS.Signals) => void): unknown;
}

const SIGNALS: readonly NodeJS.Signals[] = ['SIGINT', 'SIGTERM'];

/** The exit status of a process ended by `signal`, as a shell reports it: 128 + the signal number (SIGINT 130, SIGTERM 143). */
export function signalExitCode(signal: NodeJS.Signals): number {
  return 128 + constants.signals[signal];
}

/**
 * Takes SIGINT and SIGTERM over from rclnodejs. rclnodejs installs a SIGINT handler when it is
 * loaded that shuts every context down at once, after which nothing can be published: the car
 * would keep its last command. So call this right after loading rclnodejs, before anything else
 * can take time. Ours calls `onSignal` (which publishes speed 0, then shuts down); a second signal
 * exits at once with 128 + its number. Returns a function that removes our handlers.
 */
export function takeOverSignals(
  rcl: Pick<RclModule, 'removeSignalHandlers'>,
  onSignal: (signal: NodeJS.Signals) => void,
  source: SignalSource = process,
  exit: (code: number) => void = (code) => process.exit(code),
): () => void {
  rcl.removeSignalHandlers();
  let received = 0;
  const handler = (signal: NodeJS.Signals): void => {
    received += 1;
    if (received > 1) {
      log.warn({ signal }, 'second signal: exiting now');
      exit(signalExitCode(signal));
      return;
    }
    log.info({ signal }, 'signal: stopping the car and shutting down');
    onSignal(signal);
  };
  for (const s of SIGNALS) source.on(s, handler);
  return () => {
    for (const s of SIGNALS) source.off(s, handler);
  };
}
