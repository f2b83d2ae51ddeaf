import { hostname } from 'node:os';
import { initBackend } from '../core/backend.js';
import { oneLine } from '../core/errors.js';
import { BadConfigurationError, runTrialSeed, type SeedTask } from './trial-seed.js';
import type { ChildReply, ChildRequest } from './child-protocol.js';

/**
 * A trial process: runs trial seeds sent by its parent (the local pool or a queue worker) over
 * IPC, one at a time. It lives in its own process group (the parent kills the group), and it
 * exits when its parent goes: a SIGKILLed parent cannot kill it, but its IPC channel closes, and
 * training checks that at every episode.
 */
let startupS = 0;
const worker = process.env.DAYDRIVE_SWEEP_WORKER ?? `${hostname()}:${process.ppid}`;

process.on('disconnect', () => process.exit(1));
process.on('SIGINT', () => {}); // the parent decides: a terminal's Ctrl-C must not kill a trial half-way on its own

function reply(message: ChildReply): void {
  if (process.connected) process.send!(message);
}

process.on('message', (message: ChildRequest) => {
  if (message.type !== 'run') return;
  const task: SeedTask = message.task;
  const startup = startupS;
  startupS = 0;
  runTrialSeed(task, { worker, startupS: startup, shouldStop: () => !process.connected })
    .then((result) => reply({ type: 'result', result }))
    .catch((err: unknown) =>
      reply({ type: 'failed', message: oneLine(err), badConfiguration: err instanceof BadConfigurationError }),
    );
});

await initBackend();
// Process start, module load and backend start-up: the first trial seed carries it.
startupS = process.uptime();
reply({ type: 'ready' });
