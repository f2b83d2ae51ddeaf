import { pino, type Logger } from 'pino';

export type { Logger };

/** The levels DAYDRIVE_LOG_LEVEL accepts (pino's, quietest last). */
export const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'] as const;

/**
 * What is wrong with DAYDRIVE_LOG_LEVEL, or null when it is unset or valid. The logger then runs
 * at 'info'; the CLI reports the problem as a one-line error before any command (pino itself
 * would throw a stack trace at import).
 */
export function logLevelProblem(value = process.env.DAYDRIVE_LOG_LEVEL): string | null {
  if (value === undefined || (LOG_LEVELS as readonly string[]).includes(value)) return null;
  const hint = value.toLowerCase().startsWith('warn') ? " (did you mean 'warn'?)" : '';
  return `DAYDRIVE_LOG_LEVEL '${value}' is not a log level${hint}: use one of ${LOG_LEVELS.join(', ')}`;
}

/**
 * The process logger: JSON lines on stderr (stdout is kept for results and the final `--json`
 * object). In a terminal the lines are prettified by pino-pretty unless DAYDRIVE_LOG_JSON=1.
 * Level from DAYDRIVE_LOG_LEVEL (default 'info'; tests set 'silent' or 'warn').
 */
function createLogger(): Logger {
  const level = logLevelProblem() === null ? (process.env.DAYDRIVE_LOG_LEVEL ?? 'info') : 'info';
  const pretty = process.stderr.isTTY && process.env.DAYDRIVE_LOG_JSON !== '1';
  if (pretty) {
    return pino({
      level,
      transport: {
        target: 'pino-pretty',
        options: { destination: 2, colorize: true, ignore: 'pid,hostname', translateTime: 'HH:MM:ss' },
      },
    });
  }
  return pino({ level, base: undefined }, pino.destination(2));
}

export const log: Logger = createLogger();
