/**
 * An error caused by the user's input (bad flag, bad config, corrupt file). The CLI prints its
 * message as one line and exits non-zero, without a stack trace.
 */
export class UserError extends Error {
  override name = 'UserError';
  constructor(
    message: string,
    readonly exitCode: number = 2,
  ) {
    super(message);
  }
}

/** The message of anything thrown, on one line. */
export function oneLine(err: unknown): string {
  const msg = err instanceof Error ? err.message : String(err);
  return msg.replace(/\s*\n\s*/g, ' ').trim();
}
