import { join } from 'node:path';
import { initBackend } from '../core/backend.js';
import { UserError } from '../core/errors.js';
import { exists } from '../core/files.js';
import { log } from '../core/logger.js';
import { createDrivingAgent, type DrivingAgent } from '../agent/index.js';
import { DEFAULT_VAE_MODEL_DIR, loadVaeEncoder } from '../vision/encoder.js';
import type { ImageEncoder } from '../vision/types.js';
import { readDriveAgentConfig } from './agent-config.js';
import { loadRclnodejs } from './load.js';
import { DriveNode, type DriveNodeSummary } from './node.js';
import { declareDriveParams, type DriveParams } from './params.js';
import type { RclModule } from './rclnodejs-types.js';
import { takeOverSignals } from './signals.js';

/** The ROS node name (a launch file may remap it with `-r __node:=NAME`). */
export const NODE_NAME = 'daydrive';

/** The file DrivingAgent.save writes into a checkpoint directory (its presence means "resume"). */
const AGENT_CHECKPOINT_FILE = 'agent.json';

export interface RunDriveOptions {
  /** Arguments for rcl after `--ros-args` (remaps, -p, --params-file), as ros2 launch passes them. */
  readonly rosArgs: readonly string[];
  /** A ROS parameters YAML (`daydrive drive --params FILE`): given to rcl as --params-file. */
  readonly paramsFile?: string;
  /** A loaded rclnodejs (tests pass the stand-in); default: import rclnodejs. */
  readonly rcl?: RclModule;
}

export interface DriveRunSummary extends DriveNodeSummary {
  readonly params: DriveParams;
}

/** Builds the learning agent the parameters and the config file describe. */
export async function buildDriveAgent(params: DriveParams): Promise<{ agent: DrivingAgent; encoder: ImageEncoder | null }> {
  const config = await readDriveAgentConfig(params.config_file);
  await initBackend();
  let encoder: ImageEncoder | null = null;
  if (config.agent.state === 'vae') {
    const dir = params.vae_model_dir !== '' ? params.vae_model_dir : (config.vaeModel ?? DEFAULT_VAE_MODEL_DIR);
    encoder = await loadVaeEncoder(dir);
  }
  const agent = createDrivingAgent({
    agent: config.agent,
    algo: config.algo,
    learner: config.learner,
    exploration: config.exploration,
    encoder,
    vehicle: { maxSteeringRad: params.max_steering_rad, maxSpeedMps: params.max_speed_mps },
    seed: config.seed,
  });
  if (params.checkpoint_dir !== '' && (await exists(join(params.checkpoint_dir, AGENT_CHECKPOINT_FILE)))) {
    await agent.load(params.checkpoint_dir);
    log.info({ dir: params.checkpoint_dir, learningEpisodes: agent.taskState.learningEpisodes }, 'agent resumed from its checkpoint');
  }
  return { agent, encoder };
}

/**
 * `daydrive drive`: loads rclnodejs, starts ROS, declares the parameters, builds the agent and
 * runs the drive node until 'done' or a signal. SIGINT/SIGTERM are taken over from rclnodejs so
 * that a speed-0 command goes out before ROS shuts down.
 */
export async function runDrive(opts: RunDriveOptions): Promise<DriveRunSummary> {
  const rcl = opts.rcl ?? (await loadRclnodejs());
  const rosArgs = [...opts.rosArgs, ...(opts.paramsFile ? ['--params-file', opts.paramsFile] : [])];
  // rcl parses argv as a program's: name first, its own arguments after --ros-args.
  const argv = [process.argv[0] ?? 'node', 'daydrive', ...(rosArgs.length > 0 ? ['--ros-args', ...rosArgs] : [])];
  try {
    await rcl.init(undefined, argv);
  } catch (err) {
    throw new UserError(`ROS 2 initialisation failed: ${(err as Error).message.split('\n')[0]}`);
  }
  let agentParts: { agent: DrivingAgent; encoder: ImageEncoder | null } | null = null;
  const rosNode = new rcl.Node(NODE_NAME);
  try {
    let params: DriveParams;
    try {
      params = declareDriveParams(rcl, rosNode);
    } catch (err) {
      if (err instanceof UserError) throw err;
      throw new UserError(`invalid drive parameters: ${(err as Error).message.split('\n')[0]}`);
    }
    agentParts = await buildDriveAgent(params);
    const drive = new DriveNode({ rcl, node: rosNode, params, controller: agentParts.agent });
    const release = takeOverSignals(rcl, (signal) => drive.shutdown(signal));
    try {
      drive.start();
      rosNode.spin();
      const summary = await drive.finished;
      await drive.idle({ optimisation: false });
      return { ...summary, params };
    } finally {
      release();
    }
  } finally {
    rosNode.destroy();
    if (!rcl.isShutdown()) rcl.shutdown();
    agentParts?.agent.dispose();
    agentParts?.encoder?.dispose();
  }
}
