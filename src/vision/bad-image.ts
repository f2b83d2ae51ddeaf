import { UserError } from '../core/errors.js';

/** What is wrong with a frame. */
export type BadImageProblem =
  'zero-size' | 'unknown-encoding' | 'size-mismatch' | 'corrupt' | 'truncated' | 'unreadable';

/** A frame that cannot be used; the message names the problem. Catch it to skip the frame. */
export class BadImageError extends UserError {
  override name = 'BadImageError';
  constructor(
    readonly problem: BadImageProblem,
    message: string,
  ) {
    super(message);
  }
}
