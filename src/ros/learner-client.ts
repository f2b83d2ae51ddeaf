import type { ChildProcess } from 'node:child_process';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { UserError } from '../core/errors.js';
import { log } from '../core/logger.js';
import type { VehicleScale } from '../agent/index.js';
import type { DdpgLearner } from '../rl/learner.js';
import type { Learner } from '../rl/types.js';
import { ActorLink } from '../transport/actor-link.js';
import { CarLearner, type CarOptimiseMode, type LearnerHealth } from '../transport/car-learner.js';
import { childExit, childMessage, lowerPriority, startChild } from '../transport/children.js';
import {
  DEFAULT_LEARNER_ENDPOINTS,
  LOOPBACK_ANY_PORT,
  parseEndpoints,
  type LinkEndpoints,
} from '../transport/endpoint.js';
import type { LearnerProcessOptions } from '../transport/learner-runner.js';
import { clientSecurity, readCurveKeys, serverSecurity, type CurveKeys } from '../transport/security.js';
import { DIAGNOSTIC_LEVEL } from './messages.js';
import type { DriveParams, LEARNER_LOST_ACTIONS, LEARNER_MODES } from './params.js';
import { readDriveAgentConfig, type DriveAgentConfig } from './agent-config.js';
import { DEFAULT_VAE_MODEL_DIR } from '../vision/encoder.js';
import { HEARTBEAT_MS, PEER_TIMEOUT_MS } from '../transport/protocol.js';

/**
 * The drive node's link to a learner in another process (learner_mode child-process or
 * external; in-process needs none of this): starts and supervises the learner process
 * (src/transport/learner-process.ts, restarted from its checkpoint when it dies), or connects to
 * `daydrive learner` (the launch file starts it, or it runs on another machine; anything but
 * loopback needs CURVE keys, as the rest of src/transport). The agent's learner is a CarLearner on this link; the node
 * reads `fault()` (learner_lost_action 'stop': a lost learner stops the car) and `diagnostic()`.
 */

export type LearnerMode = (typeof LEARNER_MODES)[number];
export type LearnerLostAction = (typeof LEARNER_LOST_ACTIONS)[number];

/** The drive parameters this file reads (params.ts declares them). */
export interface LearnerClientParams {
  readonly learner_mode: LearnerMode;
  readonly learner_endpoints: string;
  readonly learner_curve_keys: string;
  readonly learner_timeout_s: number;
  readonly learner_lost_action: LearnerLostAction;
  readonly learner_optimise: CarOptimiseMode;
  readonly learner_nice: number;
  readonly checkpoint_dir: string;
}

/** What the learner process builds its learner from (the node's config_file sections and the car's scale). */
export interface DriveLearnerSettings {
  readonly learning: unknown;
  readonly vehicle: VehicleScale;
  readonly vaeModelDir: string | null;
}

/** What the drive node reads of the learner link (node.ts): its fail-safe, its status and diagnostics. */
export interface LearnerLinkView {
  /** Why the car must stop for the learner (lost, learner_lost_action 'stop'), or null. */
  fault(): string | null;
  status(): LearnerLinkStatus;
  diagnostic(): { readonly level: number; readonly message: string; readonly values: Record<string, unknown> };
}

export interface LearnerLinkStatus extends LearnerHealth {
  readonly mode: LearnerMode;
  readonly lostAction: LearnerLostAction;
  readonly restarts: number;
}

/** Learner process start (backend, VAE, a checkpoint's replay) before 'ready'. */
const START_TIMEOUT_MS = 120_000;
const RESTART_DELAY_MS = 1000;
const MAX_RESTARTS = 10;
/** The car's transitions per message: small, so that little is in flight when a learner dies (10 Hz: 1.6 s). */
const CAR_TRANSITIONS_PER_MESSAGE = 16;
/** The subdirectory of checkpoint_dir holding the learner process's checkpoint. */
export const LEARNER_PROCESS_CHECKPOINT = 'learner-process';

/** The car's scale and VAE the agent is built with, from the node's parameters and its config_file sections. */
export function driveLearnerSettings(
  params: Pick<DriveParams, 'max_steering_rad' | 'max_speed_mps' | 'policy_rate_hz' | 'vae_model_dir'>,
  config: DriveAgentConfig,
): DriveLearnerSettings {
  return {
    learning: config,
    vehicle: {
      maxSteeringRad: params.max_steering_rad,
      maxSpeedMps: params.max_speed_mps,
      policyPeriodS: 1 / params.policy_rate_hz,
    },
    vaeModelDir:
      config.agent.state === 'vae'
        ? params.vae_model_dir !== ''
          ? params.vae_model_dir
          : (config.vaeModel ?? DEFAULT_VAE_MODEL_DIR)
        : null,
  };
}

/** Where a learner process of this node keeps its checkpoint: `<checkpoint_dir>/learner-process`, or null without checkpoint_dir. */
export function learnerCheckpointDir(params: Pick<LearnerClientParams, 'checkpoint_dir'>): string | null {
  return params.checkpoint_dir !== '' ? join(params.checkpoint_dir, LEARNER_PROCESS_CHECKPOINT) : null;
}

/**
 * The learner process's options as the drive node gives them (child-process), also those of
 * `daydrive learner` (a learner started apart): the node's learning settings, its keys file, and
 * without a checkpoint of its own the node's in-process one to start from.
 */
export function learnerProcessOptions(
  params: Pick<LearnerClientParams, 'learner_curve_keys' | 'checkpoint_dir'>,
  settings: DriveLearnerSettings,
  endpoints: LinkEndpoints,
  checkpointDir: string,
): LearnerProcessOptions {
  return {
    config: null,
    // Without a checkpoint of its own, the learner starts from the node's in-process one (switching modes keeps what was learnt).
    drive: { ...settings, startFrom: params.checkpoint_dir !== '' ? join(params.checkpoint_dir, 'learner') : null },
    endpoints,
    curveKeys: params.learner_curve_keys !== '' ? params.learner_curve_keys : null,
    checkpointDir,
    weightsEveryUpdates: 50,
    heartbeatMs: HEARTBEAT_MS,
    actorTimeoutMs: PEER_TIMEOUT_MS,
  };
}

/**
 * `daydrive learner`'s checkpoint without --checkpoint-dir or checkpoint_dir, relative to where it
 * runs (the launch file runs it in the daydrive directory): a fixed place, so that a learner started
 * again resumes, beside `daydrive train`'s runs.
 */
export const EXTERNAL_LEARNER_CHECKPOINT = join('runs', 'car-learner');

/** What `daydrive learner` takes in place of the parameters: its flags (undefined: the parameters' value). */
export interface ExternalLearnerFlags {
  /** UPLINK,DOWNLINK; default learner_endpoints, else DEFAULT_LEARNER_ENDPOINTS. */
  readonly endpoints?: string;
  readonly curveKeys?: string;
  /** Default `<checkpoint_dir>/learner-process` (where a child learner of the node keeps it), else EXTERNAL_LEARNER_CHECKPOINT. */
  readonly checkpointDir?: string;
}

/**
 * The options of a learner started apart from the node (`daydrive learner`, the launch file's
 * learner for learner_mode external): what the node would give its child learner, from the same
 * parameters (config_file, vae_model_dir, the car's scale, checkpoint_dir, learner_curve_keys),
 * bound at the learner's endpoints. Its checkpoint: --checkpoint-dir, else where the node's child
 * learner keeps it, else EXTERNAL_LEARNER_CHECKPOINT (a learner started again resumes from it).
 */
export async function externalLearnerOptions(
  params: DriveParams,
  flags: ExternalLearnerFlags,
): Promise<LearnerProcessOptions> {
  const endpointsText = flags.endpoints ?? (params.learner_endpoints !== '' ? params.learner_endpoints : null);
  const endpoints =
    endpointsText === null
      ? DEFAULT_LEARNER_ENDPOINTS
      : parseEndpoints(endpointsText, flags.endpoints !== undefined ? '--endpoints' : 'learner_endpoints');
  const checkpointDir = flags.checkpointDir ?? learnerCheckpointDir(params) ?? EXTERNAL_LEARNER_CHECKPOINT;
  const settings = driveLearnerSettings(params, await readDriveAgentConfig(params.config_file));
  const withKeys = flags.curveKeys !== undefined ? { ...params, learner_curve_keys: flags.curveKeys } : params;
  return learnerProcessOptions(withKeys, settings, endpoints, checkpointDir);
}

export class DriveLearnerClient implements LearnerLinkView {
  private carLearner: CarLearner | null = null;
  private episodeMode: () => 'explore' | 'train' | 'test' | null = () => null;
  private restarts = 0;
  private closing = false;
  private heartbeat: NodeJS.Timeout;

  private constructor(
    private readonly params: LearnerClientParams,
    readonly link: ActorLink,
    private child: ChildProcess | null,
    private readonly childOptions: LearnerProcessOptions | null,
  ) {
    link.receive((m) => this.carLearner?.onDownlink(m));
    this.heartbeat = setInterval(() => link.sendHeartbeat(), HEARTBEAT_MS);
    if (child) this.supervise(child);
  }

  /**
   * Starts (child-process) or connects to (external) the learner; null for in-process. A bad
   * endpoint, a non-loopback endpoint without keys, or a learner process that fails to start is
   * a one-line UserError.
   */
  static async start(params: LearnerClientParams, settings: DriveLearnerSettings): Promise<DriveLearnerClient | null> {
    if (params.learner_mode === 'in-process') return null;
    const keys: CurveKeys | null =
      params.learner_curve_keys !== '' ? await readCurveKeys(params.learner_curve_keys) : null;
    if (params.learner_mode === 'external') {
      if (params.learner_endpoints === '')
        throw new UserError(
          "learner_mode 'external' needs learner_endpoints (UPLINK,DOWNLINK, where the learner binds)",
        );
      const endpoints = parseEndpoints(params.learner_endpoints, 'learner_endpoints');
      const link = new ActorLink(endpoints, 0, clientSecurity(endpoints, keys));
      log.info({ endpoints }, 'connecting to the external learner');
      return new DriveLearnerClient(params, link, null, null);
    }
    const bindAt =
      params.learner_endpoints === ''
        ? LOOPBACK_ANY_PORT
        : parseEndpoints(params.learner_endpoints, 'learner_endpoints');
    serverSecurity(bindAt, keys); // refuses a non-loopback endpoint without keys before anything starts
    const checkpointDir = learnerCheckpointDir(params) ?? (await mkdtemp(join(tmpdir(), 'daydrive-learner-')));
    const options = learnerProcessOptions(params, settings, bindAt, checkpointDir);
    const child = startChild('learner-process', options);
    lowerPriority(child.pid, params.learner_nice);
    let ready: { endpoints: LinkEndpoints; learningEpisodes: number };
    try {
      ready = await childMessage(child, 'ready', START_TIMEOUT_MS);
    } catch (err) {
      child.kill('SIGKILL');
      throw new UserError(`the learner process did not start: ${(err as Error).message}`);
    }
    log.info(
      { endpoints: ready.endpoints, pid: child.pid, checkpointDir, learningEpisodes: ready.learningEpisodes },
      'learner process started',
    );
    const link = new ActorLink(ready.endpoints, 0, clientSecurity(ready.endpoints, keys));
    // A restarted learner binds where the first one did (the car's sockets reconnect by themselves).
    return new DriveLearnerClient(params, link, child, { ...options, endpoints: ready.endpoints });
  }

  /** The agent's learner (createDrivingAgent's wrapLearner): a CarLearner on this link. */
  wrapLearner = (local: DdpgLearner): Learner => {
    this.carLearner = new CarLearner(local, this.link, {
      optimise: this.params.learner_optimise,
      learnerTimeoutMs: this.params.learner_timeout_s * 1000,
      transitionsPerMessage: CAR_TRANSITIONS_PER_MESSAGE,
      episodeMode: () => this.episodeMode(),
    });
    return this.carLearner;
  };

  /** Ties the link to the agent: its task state names the mode of each episode sent; says hello to the learner. */
  attach(agent: {
    readonly taskState: { readonly mode: 'explore' | 'train' | 'test' | null };
    readonly stateSize: number;
  }): void {
    const learner = this.requireLearner();
    this.episodeMode = () => agent.taskState.mode;
    this.link.hello(agent.stateSize, learner.actionSize);
  }

  fault(): string | null {
    if (this.params.learner_lost_action !== 'stop') return null;
    const h = this.requireLearner().health();
    if (h.state === 'ok') return null;
    return h.state === 'connecting'
      ? 'no word from the learner yet (learner_lost_action stop)'
      : `no word from the learner for ${h.silentMs} ms (learner_timeout_s ${this.params.learner_timeout_s}; learner_lost_action stop)`;
  }

  status(): LearnerLinkStatus {
    return {
      ...this.requireLearner().health(),
      mode: this.params.learner_mode,
      lostAction: this.params.learner_lost_action,
      restarts: this.restarts,
    };
  }

  diagnostic(): { level: number; message: string; values: Record<string, unknown> } {
    const s = this.status();
    const level =
      s.state === 'ok'
        ? DIAGNOSTIC_LEVEL.OK
        : s.lostAction === 'stop' && s.state === 'lost'
          ? DIAGNOSTIC_LEVEL.ERROR
          : DIAGNOSTIC_LEVEL.WARN;
    const what = s.lostAction === 'stop' ? 'the car is stopped' : 'driving the last weights';
    const message =
      s.state === 'ok'
        ? `${s.optimising ? 'optimising' : 'ok'} (${s.learningEpisodes} learning episodes, replay ${s.replaySize})`
        : s.state === 'connecting'
          ? `waiting for the learner: learning stopped, ${what}`
          : `learner lost (silent ${s.silentMs} ms): learning stopped, ${what}`;
    return {
      level,
      message,
      values: {
        mode: s.mode,
        state: s.state,
        silent_ms: s.silentMs ?? 'never',
        lost_action: s.lostAction,
        incarnation: s.incarnation ?? '',
        restarts: s.restarts,
        learning_episodes: s.learningEpisodes,
        replay_size: s.replaySize,
        updates: s.updates,
        weights_received: s.weightsReceived,
        optimisations_missed: s.optimisationsMissed,
        transitions_sent: s.transitionsSent,
        dropped_messages: s.dropped,
      },
    };
  }

  /**
   * Stops the link: a child learner is told to stop (it checkpoints, with what it still owes)
   * and waited for; an external one is asked for a checkpoint and left running.
   */
  async close(): Promise<void> {
    if (this.closing) return;
    this.closing = true;
    clearInterval(this.heartbeat);
    const child = this.child;
    if (child && child.exitCode === null && child.signalCode === null) {
      this.link.sendTask('stop');
      await Promise.race([this.link.flush(), sleep(2000)]);
      await childExit(child, 30_000);
    } else if (!child) {
      this.link.sendTask('checkpoint');
      await Promise.race([this.link.flush(), sleep(2000)]);
    }
    this.link.close();
  }

  private supervise(child: ChildProcess): void {
    child.once('exit', (code, signal) => {
      if (this.closing) return;
      const how = signal ?? `code ${String(code)}`;
      if (this.restarts >= MAX_RESTARTS) {
        log.error(`the learner process died (${how}) ${MAX_RESTARTS + 1} times: not restarted; learning has stopped`);
        return;
      }
      this.restarts += 1;
      log.warn(`the learner process died (${how}): restarting it from its checkpoint`);
      setTimeout(() => {
        if (this.closing || !this.childOptions) return;
        this.child = startChild('learner-process', this.childOptions);
        lowerPriority(this.child.pid, this.params.learner_nice);
        this.supervise(this.child);
      }, RESTART_DELAY_MS);
    });
  }

  /** The learner process's pid (tests kill it); null for an external learner. */
  get childPid(): number | null {
    return this.child?.pid ?? null;
  }

  private requireLearner(): CarLearner {
    if (!this.carLearner) throw new Error('the learner client has no agent: build the agent with its wrapLearner');
    return this.carLearner;
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
