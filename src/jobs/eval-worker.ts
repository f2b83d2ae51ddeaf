import { oneLine, UserError } from '../core/errors.js';
import { driveJob, type DriveJob } from './eval-drive.js';

/**
 * A child process of `daydrive eval --workers N` (see eval-parallel.ts): receives one DriveJob
 * over IPC, drives it, sends back `{ ok: true, result }` or `{ ok: false, error, user }`, exits.
 */
process.once('message', (job: DriveJob) => {
  driveJob(job).then(
    (result) => process.send!({ ok: true, result }, () => process.exit(0)),
    (err: unknown) =>
      process.send!({ ok: false, error: oneLine(err), user: err instanceof UserError }, () => process.exit(1)),
  );
});
