import { pino, type Logger } from 'pino';

export type { Logger };

/**
 * The process logger: JSON lines on stderr (stdout is kept for results and the final `--json`
 * object). In a terminal the lines are prettified by pino-pretty unless DAYDRIVE_LOG_JSON=1.
 * Level from DAYDRIVE_LOG_LEVEL (default 'info'; tests set 'silent' or 'warn').
 */
function createLogger(): Logger {
  const level = process.env.DAYDRIVE_LOG_LEVEL ?? 'info';
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
