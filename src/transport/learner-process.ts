import { oneLine } from '../core/errors.js';
import { tellParent } from './children.js';
import { startLearner, type LearnerProcessOptions } from './learner-runner.js';

/**
 * The learner child process (started by `daydrive train --actors N`, and by `daydrive drive` with
 * learner_mode child-process; `daydrive learner` runs the same learner in its own process): its
 * options are one JSON argument (learner-runner.ts). Tells its parent 'ready' with the bound
 * endpoints, 'done' when a stop task has checkpointed.
 */

async function main(): Promise<void> {
  const opts = JSON.parse(process.argv[2] ?? '{}') as LearnerProcessOptions;
  const running = await startLearner(opts);
  const { service, link } = running;
  tellParent({
    kind: 'ready',
    endpoints: running.endpoints,
    learningEpisodes: service.learningEpisodes,
    incarnation: service.incarnation,
  });
  // Between two updates, as a 'stop' task: stopping under a running optimisation would dispose the learner it uses.
  process.on('SIGTERM', running.stop);
  // Ctrl-C reaches the whole process group: with a parent, the parent decides when to stop (a 'stop' task).
  process.on('SIGINT', () => {
    if (!process.connected) running.stop();
  });
  // A parent that dies (the drive node killed) leaves no learner behind: it checkpoints and exits.
  if (process.connected) process.on('disconnect', running.stop);
  await running.finished;
  tellParent({
    kind: 'done',
    learningEpisodes: service.learningEpisodes,
    received: service.received,
    dropped: link.dropped.counts(),
  });
  process.disconnect?.();
}

main().catch((err: unknown) => {
  process.stderr.write(`daydrive learner: ${oneLine(err)}\n`);
  process.exit(2);
});
