import { join } from 'node:path';
import { initBackend } from '../core/backend.js';
import { exists } from '../core/files.js';
import { parseWith } from '../core/config.js';
import { createAgentFromSettings, type DrivingAgent, type VehicleScale } from '../agent/index.js';
import { driveAgentConfigSchema } from '../ros/agent-config.js';
import { loadVaeEncoder } from '../vision/encoder.js';
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
 * The learner process (started by `daydrive train --actors N`, and by `daydrive drive` with
 * learner_mode child-process; a launch file may start it for an external one): owns the learner and its
 * prioritized replay, checkpoints to `checkpointDir`, resumes from it when it holds one. Tells
 * its parent 'ready' with the bound endpoints, 'done' when a stop task has checkpointed.
 */

/**
 * `daydrive drive`'s learner (src/ros/learner-client.ts): the drive node's config_file learning
 * sections and the car's scale, in place of a train configuration.
 */
export interface DriveLearnerRecipe {
  /** config_file's learning sections (seed, algo, agent, learner, exploration), validated again here. */
  readonly learning: unknown;
  readonly vehicle: VehicleScale;
  /** The VAE the node encodes frames with (agent.state 'vae'), for the state size; null otherwise. */
  readonly vaeModelDir: string | null;
  /**
   * A learner checkpoint to start from when this process has none of its own: the drive node's
   * in-process checkpoint (`<checkpoint_dir>/learner`), so that switching learner_mode keeps what
   * was learnt. Null: none.
   */
  readonly startFrom?: string | null;
}

export interface LearnerProcessOptions {
  /** A `daydrive train` configuration (raw); ignored when `drive` is given. */
  readonly config: unknown;
  readonly drive?: DriveLearnerRecipe;
  readonly endpoints: LinkEndpoints;
  readonly curveKeys: string | null;
  readonly checkpointDir: string;
  readonly weightsEveryUpdates: number;
  readonly heartbeatMs: number;
  readonly actorTimeoutMs: number;
}

async function main(): Promise<void> {
  const opts = JSON.parse(process.argv[2] ?? '{}') as LearnerProcessOptions;
  const security = serverSecurity(opts.endpoints, opts.curveKeys ? await readCurveKeys(opts.curveKeys) : null);
  await initBackend();
  const { agent, optimisationSteps, checkpointEvery } = await buildLearnerAgent(opts);
  const learner = agent.learner;
  if (!hasPolicyWeights(learner)) throw new Error('this learner cannot share its policy weights');
  const link = await LearnerLink.bind(opts.endpoints, security);
  const service = new LearnerService({
    learner,
    link,
    optimisationSteps,
    checkpointDir: opts.checkpointDir,
    checkpointEveryEpisodes: checkpointEvery,
    weightsEveryUpdates: opts.weightsEveryUpdates,
    heartbeatMs: opts.heartbeatMs,
    actorTimeoutMs: opts.actorTimeoutMs,
  });
  if (
    !(await service.resume()) &&
    opts.drive?.startFrom &&
    (await exists(join(opts.drive.startFrom, 'learner.json')))
  ) {
    await learner.load(opts.drive.startFrom);
    log.info(
      { dir: opts.drive.startFrom, replay: learner.replaySize() },
      "learner started from the drive node's checkpoint",
    );
  }
  service.start();
  log.info({ endpoints: link.endpoints, pid: process.pid }, 'learner listening');
  tellParent({
    kind: 'ready',
    endpoints: link.endpoints,
    learningEpisodes: service.learningEpisodes,
    incarnation: service.incarnation,
  });
  // Between two updates, as a 'stop' task: stopping under a running optimisation would dispose the learner it uses.
  const onSignal = () => service.requestStop();
  process.on('SIGTERM', onSignal);
  // Ctrl-C reaches the whole process group: with a parent, the parent decides when to stop (a 'stop' task).
  process.on('SIGINT', () => {
    if (!process.connected) onSignal();
  });
  // A parent that dies (the drive node killed) leaves no learner behind: it checkpoints and exits.
  if (process.connected) process.on('disconnect', onSignal);
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

/** The agent whose learner this process runs: `train`'s (buildAgent) or the drive node's (its config_file and the car's scale). */
async function buildLearnerAgent(
  opts: LearnerProcessOptions,
): Promise<{ agent: DrivingAgent; optimisationSteps: number; checkpointEvery: number }> {
  if (opts.drive) {
    const settings = parseWith(driveAgentConfigSchema, opts.drive.learning, 'drive learner config');
    const encoder = opts.drive.vaeModelDir !== null ? await loadVaeEncoder(opts.drive.vaeModelDir) : null;
    const agent = createAgentFromSettings(settings, encoder, opts.drive.vehicle);
    encoder?.dispose();
    // The car checkpoints after every learning episode: a restarted learner loses only the episode in flight.
    return { agent, optimisationSteps: settings.agent.optimisationSteps, checkpointEvery: 1 };
  }
  const config = parseTrainConfig(opts.config, 'learner config');
  const encoder = await loadEncoderFor(config);
  const agent = buildAgent(config, encoder);
  encoder?.dispose();
  return { agent, optimisationSteps: config.agent.optimisationSteps, checkpointEvery: config.checkpointEvery };
}

main().catch((err: unknown) => {
  process.stderr.write(`daydrive learner: ${oneLine(err)}\n`);
  process.exit(2);
});
