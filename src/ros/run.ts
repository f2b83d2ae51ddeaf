import { join } from 'node:path';
import { initBackend } from '../core/backend.js';
import { oneLine, UserError } from '../core/errors.js';
import { exists } from '../core/files.js';
import { log } from '../core/logger.js';
import { createAgentFromSettings, type DrivingAgent } from '../agent/index.js';
import type { DdpgLearner } from '../rl/learner.js';
import type { Learner } from '../rl/types.js';
import { loadVaeEncoder, type VaeExpectation } from '../vision/encoder.js';
import type { ImageEncoder } from '../vision/types.js';
import { readDriveAgentConfig } from './agent-config.js';
import { DriveLearnerClient, driveLearnerSettings } from './learner-client.js';
import { loadRclnodejs } from './load.js';
import { DriveNode, type DriveNodeSummary } from './node.js';
import { fullyQualifiedName } from './messages.js';
import { resolveParameterOverrides } from './param-overrides.js';
import { declareDriveParams, type DriveParams } from './params.js';
import type { RclModule, RclNode } from './rclnodejs-types.js';
import { takeOverSignals, type SignalSource } from './signals.js';

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
  /** Where SIGINT/SIGTERM come from, and how a second one exits (tests); default: the process. */
  readonly signals?: SignalSource;
  readonly exit?: (code: number) => void;
}

export interface DriveRunSummary extends DriveNodeSummary {
  /** The node's parameters; null when a signal stopped the start before they were read. */
  readonly params: DriveParams | null;
}

export interface DriveAgentParts {
  readonly agent: DrivingAgent;
  readonly encoder: ImageEncoder | null;
}

/**
 * Builds the learning agent the parameters and the config file describe; with a learner in
 * another process, `learnerClient` starts it and puts the agent's learner on its link.
 */
export async function buildDriveAgent(
  params: DriveParams,
  learnerClient: LearnerClientStarter | null = null,
): Promise<DriveAgentParts & { readonly learnerClient: DriveLearnerClient | null }> {
  const config = await readDriveAgentConfig(params.config_file);
  await initBackend();
  const settings = driveLearnerSettings(params, config);
  const vaeDir = settings.vaeModelDir;
  let encoder: ImageEncoder | null = null;
  if (vaeDir !== null) {
    // What the parameters know of the VAE's input: the camera's frame size, where set. A camera
    // whose aspect ratio differs from the one the VAE was trained on is warned about at load (its
    // frames are stretched to the VAE's input: off-distribution latents). The configuration has
    // no latent or input size for VAE state (the agent's `pixels` section is for pixel state);
    // what ties the latent size down is a checkpoint to resume, checked at its load below.
    const expectation: VaeExpectation =
      params.camera_width_px > 0
        ? { cameraWidthPx: params.camera_width_px, cameraHeightPx: params.camera_height_px }
        : {};
    encoder = await loadVaeEncoder(vaeDir, expectation);
  }
  const vehicle = settings.vehicle;
  // learner_mode child-process / external: the learner's process, then the agent on its link.
  let client: DriveLearnerClient | null = null;
  let wrapLearner: ((local: DdpgLearner) => Learner) | undefined;
  try {
    client = learnerClient ? await learnerClient(settings) : null;
    wrapLearner = client?.wrapLearner;
  } catch (err) {
    encoder?.dispose();
    throw err;
  }
  const agent = createAgentFromSettings(config, encoder, vehicle, wrapLearner);
  client?.attach(agent);
  if (params.checkpoint_dir !== '' && (await exists(join(params.checkpoint_dir, AGENT_CHECKPOINT_FILE)))) {
    try {
      await agent.load(params.checkpoint_dir);
    } catch (err) {
      agent.dispose();
      encoder?.dispose();
      await client?.close();
      // A checkpoint's networks fit only the VAE (latent size) they were trained with: say which one this is.
      const vae =
        encoder && vaeDir
          ? ` (note: the VAE ${vaeDir} has latent size ${encoder.latentSize}; a checkpoint only fits the VAE it was trained with)`
          : '';
      throw new UserError(`cannot resume from checkpoint_dir ${params.checkpoint_dir}: ${oneLine(err)}${vae}`);
    }
    log.info(
      { dir: params.checkpoint_dir, learningEpisodes: agent.taskState.learningEpisodes },
      'agent resumed from its checkpoint',
    );
  }
  return { agent, encoder, learnerClient: client };
}

/** Starts the learner link for the agent's settings (DriveLearnerClient.start with the node's parameters). */
export type LearnerClientStarter = (
  settings: Parameters<typeof DriveLearnerClient.start>[1],
) => Promise<DriveLearnerClient | null>;

/**
 * `daydrive drive`: loads rclnodejs, takes SIGINT/SIGTERM over from it at once, starts ROS,
 * declares the parameters, builds the agent and runs the drive node until 'done' or a signal.
 * A signal while the node runs publishes a speed-0 command, then the node spins for
 * shutdown_flush_s so that the command leaves over DDS before the node is destroyed. A signal
 * during the start (nothing has been commanded yet) stops the start at the next step.
 */
export async function runDrive(opts: RunDriveOptions): Promise<DriveRunSummary> {
  const rcl = opts.rcl ?? (await loadRclnodejs());
  // rclnodejs installs its SIGINT handler when it is loaded: take the signals over before init
  // and the agent's build (seconds: TensorFlow.js, the VAE, a checkpoint), or a Ctrl-C meanwhile
  // would shut ROS down behind our back.
  let drive: DriveNode | null = null;
  let startupSignal: NodeJS.Signals | null = null;
  const release = takeOverSignals(
    rcl,
    (signal) => {
      if (drive) drive.shutdown(signal);
      else startupSignal = signal;
    },
    opts.signals,
    opts.exit,
  );
  const stoppedEarly = (params: DriveParams | null): DriveRunSummary | null => {
    if (startupSignal === null) return null;
    log.info({ signal: startupSignal }, 'signal during the start: not starting the drive node');
    return { episodes: 0, endedBy: startupSignal, params };
  };
  try {
    const rosArgs = [...opts.rosArgs, ...(opts.paramsFile ? ['--params-file', opts.paramsFile] : [])];
    // rcl parses argv as a program's: name first, its own arguments after --ros-args.
    const argv = [process.argv[0] ?? 'node', 'daydrive', ...(rosArgs.length > 0 ? ['--ros-args', ...rosArgs] : [])];
    try {
      await rcl.init(undefined, argv);
    } catch (err) {
      throw new UserError(`ROS 2 initialisation failed: ${(err as Error).message.split('\n')[0]}`);
    }
    // Again after init: harmless where the handler went at load, and covers a version that
    // installs it in init.
    rcl.removeSignalHandlers();
    let rosNode: RclNode | null = null;
    let agentParts: (DriveAgentParts & { readonly learnerClient: DriveLearnerClient | null }) | null = null;
    try {
      const early = stoppedEarly(null);
      if (early) return early;
      rosNode = new rcl.Node(NODE_NAME);
      let params: DriveParams;
      try {
        // The name after remapping (-r __node:=, __ns:=): which params-file keys apply.
        const overrides = await resolveParameterOverrides(rosArgs, fullyQualifiedName(rosNode));
        params = declareDriveParams(rcl, rosNode, overrides);
      } catch (err) {
        if (err instanceof UserError) throw err;
        throw new UserError(`invalid drive parameters: ${(err as Error).message.split('\n')[0]}`);
      }
      agentParts = await buildDriveAgent(params, (settings) => DriveLearnerClient.start(params, settings));
      const late = stoppedEarly(params);
      if (late) return late;
      drive = new DriveNode({
        rcl,
        node: rosNode,
        params,
        controller: agentParts.agent,
        ...(agentParts.learnerClient ? { learnerLink: agentParts.learnerClient } : {}),
      });
      drive.start();
      rosNode.spin();
      const summary = await drive.finished;
      await drive.idle({ optimisation: false });
      // shutdown() has published the final speed-0 command; destroying the node at once could
      // drop it before DDS sends it. The node keeps spinning meanwhile (nothing else publishes).
      await new Promise((resolve) => setTimeout(resolve, params.shutdown_flush_s * 1000));
      return { ...summary, params };
    } finally {
      // A child learner checkpoints and exits; an external one is asked for a checkpoint.
      await agentParts?.learnerClient?.close();
      rosNode?.destroy();
      if (!rcl.isShutdown()) rcl.shutdown();
      agentParts?.agent.dispose();
      agentParts?.encoder?.dispose();
    }
  } finally {
    release();
  }
}
