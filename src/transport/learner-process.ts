import { initBackend } from '../core/backend.js';
import { oneLine } from '../core/errors.js';
import { log } from '../core/logger.js';
import { hasPolicyWeights } from '../rl/types.js';
import { buildAgent, loadEncoderFor } from '../jobs/training.js';
import { parseTrainConfig } from '../jobs/train-config.js';
import { tellParent } from './children.js';
import type { LinkEndpoints } from './endpoint.js';
import { LearnerLink } from './learner-link.js';
import { LearnerService } from './learner-service.js';
import { readCurveKeys, serverSecurity } from './security.js';

/**
 * The learner process (started by `daydrive train --actors N`): owns the learner and its
 * prioritized replay, checkpoints to `checkpointDir`, resumes from it when it holds one. Tells
 * its parent 'ready' with the bound endpoints, 'done' when a stop task has checkpointed.
 */

export interface LearnerProcessOptions {
  readonly config: unknown;
  readonly endpoints: LinkEndpoints;
  readonly curveKeys: string | null;
  readonly checkpointDir: string;
  readonly weightsEveryUpdates: number;
  readonly heartbeatMs: number;
  readonly actorTimeoutMs: number;
}

async function main(): Promise<void> {
  const opts = JSON.parse(process.argv[2] ?? '{}') as LearnerProcessOptions;
  const config = parseTrainConfig(opts.config, 'learner config');
  const security = serverSecurity(opts.endpoints, opts.curveKeys ? await readCurveKeys(opts.curveKeys) : null);
  await initBackend();
  const encoder = await loadEncoderFor(config);
  const agent = buildAgent(config, encoder);
  encoder?.dispose();
  const learner = agent.learner;
  if (!hasPolicyWeights(learner)) throw new Error('this learner cannot share its policy weights');
  const link = await LearnerLink.bind(opts.endpoints, security);
  const service = new LearnerService({
    learner,
    link,
    optimisationSteps: config.agent.optimisationSteps,
    checkpointDir: opts.checkpointDir,
    checkpointEveryEpisodes: config.checkpointEvery,
    weightsEveryUpdates: opts.weightsEveryUpdates,
    heartbeatMs: opts.heartbeatMs,
    actorTimeoutMs: opts.actorTimeoutMs,
  });
  await service.resume();
  service.start();
  log.info({ endpoints: link.endpoints, pid: process.pid }, 'learner listening');
  tellParent({
    kind: 'ready',
    endpoints: link.endpoints,
    learningEpisodes: service.learningEpisodes,
    incarnation: service.incarnation,
  });
  const onSignal = () => void service.stop();
  process.on('SIGTERM', onSignal);
  // Ctrl-C reaches the whole process group: with a parent, the parent decides when to stop (a 'stop' task).
  process.on('SIGINT', () => {
    if (!process.connected) onSignal();
  });
  await service.finished;
  tellParent({
    kind: 'done',
    learningEpisodes: service.learningEpisodes,
    received: service.received,
    dropped: link.dropped.counts(),
  });
  agent.dispose();
  process.disconnect?.();
}

main().catch((err: unknown) => {
  process.stderr.write(`daydrive learner: ${oneLine(err)}\n`);
  process.exit(2);
});
