import { join } from 'node:path';
import { initBackend } from '../core/backend.js';
import { exists } from '../core/files.js';
import { parseWith } from '../core/config.js';
import { createAgentFromSettings, type DrivingAgent, type VehicleScale } from '../agent/index.js';
import { driveAgentConfigSchema } from '../ros/agent-config.js';
import { loadVaeEncoder } from '../vision/encoder.js';
import { log } from '../core/logger.js';
import { hasPolicyWeights } from '../rl/types.js';
import { buildAgent, loadEncoderFor } from '../jobs/training.js';
import { parseTrainConfig } from '../jobs/train-config.js';
import type { LinkEndpoints } from './endpoint.js';
import { LearnerLink } from './learner-link.js';
import { LearnerService, type LearnerServiceEvent } from './learner-service.js';
import { readCurveKeys, serverSecurity, type ServerCurve } from './security.js';

/**
 * One learner, from its options to its stop: the security check (before anything starts), the
 * learner's agent (`train`'s or the drive node's), the bound link, the resume from its checkpoint
 * and the service. Run by the learner child process (learner-process.ts) and by `daydrive learner`.
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

/** Where a started learner's state came from. */
export type LearnerOrigin = 'checkpoint' | 'drive-checkpoint' | 'new';

export interface RunningLearner {
  /** The bound endpoints (a '*' port resolved). */
  readonly endpoints: LinkEndpoints;
  /** The CURVE server's settings (its public key), or null on loopback without keys. */
  readonly security: ServerCurve | null;
  readonly origin: LearnerOrigin;
  readonly service: LearnerService;
  readonly link: LearnerLink;
  /** Asks the learner to stop between two updates: it checkpoints (what it owes included) and closes the link. */
  stop(): void;
  /** Resolves once stopped (checkpoint written, link closed, agent disposed). */
  readonly finished: Promise<void>;
}

/**
 * Starts a learner. A non-loopback endpoint without the server's keys is a one-line UserError
 * before the backend loads (serverSecurity, the rule the drive node applies too).
 */
export async function startLearner(
  opts: LearnerProcessOptions,
  onEvent?: (event: LearnerServiceEvent) => void,
): Promise<RunningLearner> {
  const security = serverSecurity(opts.endpoints, opts.curveKeys ? await readCurveKeys(opts.curveKeys) : null);
  await initBackend();
  const { agent, optimisationSteps, checkpointEvery } = await buildLearnerAgent(opts);
  const learner = agent.learner;
  if (!hasPolicyWeights(learner)) {
    agent.dispose();
    throw new Error('this learner cannot share its policy weights');
  }
  let link: LearnerLink;
  try {
    link = await LearnerLink.bind(opts.endpoints, security);
  } catch (err) {
    agent.dispose();
    throw err;
  }
  const service = new LearnerService({
    learner,
    link,
    optimisationSteps,
    checkpointDir: opts.checkpointDir,
    checkpointEveryEpisodes: checkpointEvery,
    weightsEveryUpdates: opts.weightsEveryUpdates,
    heartbeatMs: opts.heartbeatMs,
    actorTimeoutMs: opts.actorTimeoutMs,
    ...(onEvent ? { onEvent } : {}),
  });
  let origin: LearnerOrigin = 'new';
  try {
    if (await service.resume()) origin = 'checkpoint';
    else if (opts.drive?.startFrom && (await exists(join(opts.drive.startFrom, 'learner.json')))) {
      await learner.load(opts.drive.startFrom);
      origin = 'drive-checkpoint';
      log.info(
        { dir: opts.drive.startFrom, replay: learner.replaySize() },
        "learner started from the drive node's checkpoint",
      );
    }
  } catch (err) {
    link.close();
    agent.dispose();
    throw err;
  }
  service.start();
  log.info({ endpoints: link.endpoints, pid: process.pid, origin }, 'learner listening');
  return {
    endpoints: link.endpoints,
    security,
    origin,
    service,
    link,
    stop: () => service.requestStop(),
    finished: service.finished.then(() => agent.dispose()),
  };
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
