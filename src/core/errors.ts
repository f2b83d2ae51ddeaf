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

/** What a system error code means for the person who gave the path (the code itself follows in brackets). */
const FS_CAUSES: Readonly<Record<string, string>> = {
  ENOENT: 'no such file or directory',
  ENOTDIR: 'a part of the path is a file, not a directory',
  EISDIR: 'it is a directory',
  EEXIST: 'it already exists',
  EACCES: 'permission denied',
  EPERM: 'the operation is not permitted there',
  EROFS: 'the file system is read-only',
  ENOSPC: 'no space left on the device',
  EDQUOT: 'the disk quota is exhausted',
  EMFILE: 'too many open files',
  ENAMETOOLONG: 'the name is too long',
  ENOTEMPTY: 'the directory is not empty',
  EBUSY: 'it is in use (a mount point or the current directory?)',
  EXDEV: 'it is on another file system',
  EIO: 'an input/output error of the device',
  ELOOP: 'too many symbolic links',
};

/** A Node.js system error (fs, net): it carries a code such as ENOENT. */
export function isSystemError(err: unknown): err is NodeJS.ErrnoException & { code: string } {
  return (
    err instanceof Error &&
    typeof (err as NodeJS.ErrnoException).code === 'string' &&
    /^E[A-Z]+$/.test((err as NodeJS.ErrnoException).code!)
  );
}

/** "no space left on the device (ENOSPC)": the cause of a system error in words. */
export function systemErrorCause(err: NodeJS.ErrnoException): string {
  const code = err.code ?? 'unknown';
  return `${FS_CAUSES[code] ?? (err.message.split(',')[0] ?? err.message).replace(/^E[A-Z]+:\s*/, '')} (${code})`;
}

/**
 * A file-system failure as one line naming the path and the cause, for the person who chose the
 * path: `cannot write runs/x/config.json: no space left on the device (ENOSPC)`. Anything that
 * is not a system error is returned unchanged (a bug keeps its stack).
 */
export function fileSystemError(err: unknown, action: string, path: string): unknown {
  if (err instanceof UserError || !isSystemError(err)) return err;
  return new UserError(`cannot ${action} ${path}: ${systemErrorCause(err)}`);
}
