import { performance } from 'node:perf_hooks';
import { drivingCommand, forwardRewardM, type DrivingObservation } from '../core/env.js';
import { oneLine } from '../core/errors.js';
import { collectGarbage } from '../core/gc.js';
import { log } from '../core/logger.js';
import {
  EpisodeStepper,
  NonFiniteActionError,
  TASK_COMMANDS,
  type DriveController,
  type EpisodeMode,
  type StepOutcome,
  type TaskCommand,
  type TaskState,
  type TaskStep,
} from '../agent/index.js';
import { FrameStore, type CameraFault, type FrameCounts } from './frames.js';
import { firstTimedOut, Heartbeat, type HeartbeatInput, type HeartbeatState } from './heartbeat.js';
import { LatencyWindow, type LatencySummary } from './latency.js';
import { Odometer } from './odometer.js';
import {
  ackermannCommand,
  type CommandLimits,
  DIAGNOSTIC_LEVEL,
  diagnosticArray,
  driverHasControl,
  fullyQualifiedName,
  MSG,
  speedOf,
  steeringOf,
} from './messages.js';
import type { DriveParams } from './params.js';
import type { LearnerLinkStatus, LearnerLinkView } from './learner-client.js';
import type {
  AckermannDriveStampedMsg,
  BoolMsg,
  CompressedImageMsg,
  ControlModeReportMsg,
  DiagnosticArrayMsg,
  DiagnosticStatusMsg,
  ImageMsg,
  RclModule,
  RclNode,
  RclPublisher,
  RclServiceResponse,
  RclTimer,
  StringMsg,
  TriggerResponseMsg,
} from './rclnodejs-types.js';
import { roundTo } from '../core/math.js';

/**
 * The drive node: camera, measurements and the safety driver in; Ackermann commands, status and
 * episode statistics out; the controller (the learning agent) in between, driven through the same
 * EpisodeStepper (src/agent/episode.ts) as the simulator's training loop drives it
 * (driveEpisode, src/agent/training.ts), with the same action mapping and reward (drivingCommand,
 * forwardRewardM: src/core/env.ts). The node adds what only a car has: time, the safety driver,
 * stale inputs.
 *
 * - One policy step per period (policy_rate_hz) on the newest frame: the outcome of the last
 *   command (its reward: the odometer's advance while it was in force, odometer.ts), then the
 *   next decision.
 *   policy_trigger 'timer' steps on a timer; 'frame' steps on the first frame at least
 *   FRAME_STEP_FRACTION of a period after the last step (no wait for a timer between the frame and
 *   its command), and the timer steps only when no step has run for a whole period (frames late or
 *   gone: the fail-safes keep their bound). Steps never queue: a step still running when the next
 *   is due makes the node skip that one (counted for the timer).
 * - The safety driver taking over (Bool true, or an Autoware control mode other than AUTONOMOUS)
 *   ends the episode: from that moment no drive command is sent; the next step records the
 *   terminal transition, ends the episode, collects the node's garbage (a full collection while
 *   the driver still has the car and no command is due, so that V8 need not start one of its own
 *   during the optimisation: src/core/gc.ts) and starts the optimisation in the background while
 *   the driver resets the car: the controller's optimise(), whose learner yields to the event loop
 *   every 10 ms (UPDATE_SLICE_MS, src/rl/learner.ts), so frames, the safety driver, task
 *   commands, status and the speed-0 hold keep going meanwhile; shutdown() aborts it. The next
 *   episode starts on the next task command, once the driver has handed the car back (a command
 *   given during the optimisation is queued by the task machine).
 * - Fail-safes, each publishing speed 0 on the next step (within one policy period): no frame,
 *   a frame older than max_frame_age_s, max_consecutive_bad_frames unusable frames in a row, an
 *   input whose heartbeat timed out (heartbeat.ts: the safety driver's signal, the control mode,
 *   the measured speed or steering), a non-finite action (never published), an error in the step.
 *   A running episode ends without a terminal transition (nothing is learnt from stale data); the
 *   camera and heartbeat fail-safes clear by themselves when their input returns. A stale safety
 *   signal, an error and a non-finite action are emergency stops (emergency_decel_mps2, no jerk
 *   limit); the others, and every hold, are comfortable stops (stop_decel_mps2, jerk_limit_mps3).
 * - A learner in another process (learner-client.ts) that is lost, with learner_lost_action
 *   'stop': speed 0 on the next step, the episode ends; clears when the learner is back.
 * - While the node has the car but no episode runs (waiting for a command, optimising), it holds
 *   the car with speed-0 commands; while the driver has it, it sends nothing.
 * - shutdown() (SIGINT/SIGTERM, see signals.ts) publishes a speed-0 command first, unless the
 *   driver has the car (a command then could only fight the driver's).
 */

/** Why the node stopped the car: a camera fault, a timed-out input ('stale-<input>'), a bad action, an error. */
export type StopReason =
  | CameraFault
  | `stale-${HeartbeatInput}`
  | 'non-finite-action'
  | 'error'
  // A separate learner lost, with learner_lost_action 'stop' (learner-client.ts).
  | 'learner-lost';

/** Stops that ask for the car's emergency deceleration: the node cannot tell who has the car, or the policy is broken. */
const EMERGENCY_STOPS: readonly StopReason[] = [
  'stale-safety-driver',
  'stale-control-mode',
  'non-finite-action',
  'error',
];

/** Fail-safes that clear by themselves once their input is good again. */
const SELF_CLEARING_STOPS: readonly StopReason[] = [
  'no-frames',
  'stale-camera',
  'bad-frames',
  'stale-speed',
  'stale-steering',
  'stale-safety-driver',
  'stale-control-mode',
  'learner-lost',
];

export interface DriveStatus {
  readonly task: TaskState;
  readonly driverHasControl: boolean;
  /** Number of the running episode (1-based), or null. */
  readonly episode: number | null;
  readonly episodesFinished: number;
  /** An episode the last command asked for, waiting for a good frame and the driver's release. */
  readonly startPending: EpisodeMode | null;
  readonly optimising: boolean;
  /** Updates done so far by the running optimisation (null when none runs). */
  readonly optimisationUpdates: number | null;
  readonly failsafe: { readonly reason: StopReason; readonly detail: string } | null;
  readonly camera: {
    readonly fault: CameraFault | null;
    readonly ageMs: number | null;
    readonly detail: string;
  } & FrameCounts;
  readonly measured: { readonly speedMps: number | null; readonly steeringRad: number | null };
  /** The heartbeat of each input the node watches (heartbeat.ts). */
  readonly inputs: readonly HeartbeatState[];
  readonly lastCommand: { readonly steeringRad: number; readonly speedMps: number } | null;
  readonly latency: { readonly processing: LatencySummary; readonly frameAge: LatencySummary };
  readonly skippedTicks: number;
  /** A separate learner's link (learner_mode child-process or external); null in-process. */
  readonly learner: LearnerLinkStatus | null;
}

/** One finished episode, as published on episodes_topic. */
export interface EpisodeReport {
  readonly episode: number;
  readonly mode: EpisodeMode;
  readonly steps: number;
  /** Sum of rewards: metres driven (measured speed x time). */
  readonly distanceM: number;
  readonly durationS: number;
  readonly endedBy: 'driver' | StopReason;
}

export interface DriveNodeSummary {
  readonly episodes: number;
  readonly endedBy: string;
}

export interface DriveNodeOptions {
  readonly rcl: Pick<RclModule, 'QoS'>;
  readonly node: RclNode;
  readonly params: DriveParams;
  readonly controller: DriveController;
  /** Called with each command's latency figures (the benchmark keeps every sample). */
  readonly onLatency?: (sample: LatencySample) => void;
  /** The link to a learner in another process (learner-client.ts): its fail-safe, status and diagnostics. */
  readonly learnerLink?: LearnerLinkView;
}

/** One command's latency figures, ms. */
export interface LatencySample {
  /** The node's work for the command: the frame's decode (or raw conversion) + the policy step (reward, state, policy, publish). */
  readonly processingMs: number;
  /**
   * Turning the camera message into what the agent reads (the model input, or RGB for a controller
   * that reads images: JPEG/PNG decode, or the raw check and conversion), not counting a wait for
   * an earlier decode.
   */
  readonly decodeMs: number;
  /** The policy step: reward, state (VAE encoder), policy, publish. */
  readonly stepMs: number;
  /**
   * Camera message in -> command out: from the message's arrival to the command that used it
   * (decode, waiting for the policy step to start, the step).
   */
  readonly frameAgeMs: number;
}

interface RunningEpisode {
  readonly number: number;
  readonly mode: EpisodeMode;
  readonly startedAtMs: number;
  /** The odometer when the command in force was sent (its reward is the advance since). */
  odometerAtCommandM: number;
}

/**
 * policy_trigger 'frame': a frame starts a step once this fraction of a period has passed since the
 * last one; less than 1 so that a camera a little early on its schedule keeps the policy rate.
 */
export const FRAME_STEP_FRACTION = 0.9;

/** Before the first safety-driver message the node assumes the driver has the car (it never starts blind). */
const UNKNOWN_MEANS_DRIVER = true;

export class DriveNode {
  readonly finished: Promise<DriveNodeSummary>;
  private readonly node: RclNode;
  private readonly params: DriveParams;
  private readonly controller: DriveController;
  private readonly stepper: EpisodeStepper;
  private readonly odometer = new Odometer();
  private readonly onLatency: ((sample: LatencySample) => void) | undefined;
  private readonly learnerLink: LearnerLinkView | null;
  private readonly frames: FrameStore;
  private readonly commandPub: RclPublisher<AckermannDriveStampedMsg>;
  private readonly statusPub: RclPublisher<StringMsg>;
  private readonly episodesPub: RclPublisher<StringMsg>;
  private readonly diagnosticsPub: RclPublisher<DiagnosticArrayMsg> | null;
  private readonly periodMs: number;
  private readonly timers: RclTimer[] = [];
  private readonly processing = new LatencyWindow();
  private readonly frameAge = new LatencyWindow();
  private readonly heartbeats: Heartbeat[];
  private readonly speedBeat: Heartbeat;
  private readonly steeringBeat: Heartbeat | null;
  private readonly driverBeat: Heartbeat;
  private readonly modeBeat: Heartbeat | null;
  private readonly driveLimits: CommandLimits;
  private readonly stopLimits: CommandLimits;
  private readonly emergencyLimits: CommandLimits;
  private resolveFinished: (summary: DriveNodeSummary) => void = () => {};
  private speedMps: number | null = null;
  private steeringRad: number | null = null;
  private driverBool: boolean | null = null;
  private driverMode: boolean | null = null;
  private interventionLatched = false;
  private episode: RunningEpisode | null = null;
  private startPending: EpisodeMode | null = null;
  private optimisation: Promise<void> | null = null;
  /** Aborted by shutdown(): stops the running optimisation between two updates. */
  private readonly stopping = new AbortController();
  private optimisationUpdates: number | null = null;
  private tickInFlight: Promise<void> | null = null;
  /** The node's clock (ms) when the last policy step started. */
  private lastStepClockMs = -Infinity;
  private failsafe: { reason: StopReason; detail: string } | null = null;
  private lastCommand: { steeringRad: number; speedMps: number } | null = null;
  /** The node's clock (ms) when the last command went out. */
  private lastCommandClockMs = -Infinity;
  private episodesFinished = 0;
  private skippedTicks = 0;
  /** The node's clock (ms) at the last latency log line. */
  private lastLatencyLogMs = 0;
  private closed = false;

  constructor(opts: DriveNodeOptions) {
    this.node = opts.node;
    this.params = opts.params;
    this.controller = opts.controller;
    this.stepper = new EpisodeStepper(opts.controller);
    this.onLatency = opts.onLatency;
    this.learnerLink = opts.learnerLink ?? null;
    const p = opts.params;
    this.periodMs = 1000 / p.policy_rate_hz;
    this.finished = new Promise((resolve) => (this.resolveFinished = resolve));
    this.frames = new FrameStore({
      // The agent's model input, made straight from each camera message (frames.ts).
      modelInput: opts.controller.modelInput,
      expectedWidthPx: p.camera_width_px,
      expectedHeightPx: p.camera_height_px,
      maxFrameAgeMs: p.max_frame_age_s * 1000,
      maxConsecutiveBad: p.max_consecutive_bad_frames,
      clockMs: () => this.clockMs(),
      ...(p.policy_trigger === 'frame' ? { onFrame: () => this.onFrame() } : {}),
    });
    this.speedBeat = new Heartbeat('speed', p.speed_timeout_s * 1000);
    this.steeringBeat = p.steering_topic !== '' ? new Heartbeat('steering', p.steering_timeout_s * 1000) : null;
    this.driverBeat = new Heartbeat('safety-driver', p.safety_driver_timeout_s * 1000);
    this.modeBeat = p.control_mode_topic !== '' ? new Heartbeat('control-mode', p.control_mode_timeout_s * 1000) : null;
    // Safety signals first: firstTimedOut() reports them before the measurements.
    this.heartbeats = [this.driverBeat, this.modeBeat, this.speedBeat, this.steeringBeat].filter(
      (b): b is Heartbeat => b !== null,
    );
    this.driveLimits = {
      accelerationMps2: p.accel_limit_mps2,
      jerkMps3: p.jerk_limit_mps3,
      steeringRateRadps: p.steering_rate_limit_radps,
    };
    this.stopLimits = {
      accelerationMps2: p.stop_decel_mps2,
      jerkMps3: p.jerk_limit_mps3,
      steeringRateRadps: p.steering_rate_limit_radps,
    };
    this.emergencyLimits = {
      accelerationMps2: p.emergency_decel_mps2,
      jerkMps3: 0,
      steeringRateRadps: p.steering_rate_limit_radps,
    };
    const sensor = (): { qos: string } => ({ qos: opts.rcl.QoS.profileSensorData });
    const reliable = (): { qos: string } => ({ qos: opts.rcl.QoS.profileDefault });
    const n = this.node;
    this.commandPub = n.createPublisher<AckermannDriveStampedMsg>(MSG.ackermannStamped, p.command_topic, reliable());
    this.statusPub = n.createPublisher<StringMsg>(MSG.string, p.status_topic, reliable());
    this.episodesPub = n.createPublisher<StringMsg>(MSG.string, p.episodes_topic, reliable());
    this.diagnosticsPub = p.publish_diagnostics
      ? n.createPublisher<DiagnosticArrayMsg>(MSG.diagnosticArray, '/diagnostics', reliable())
      : null;

    if (p.camera_type === MSG.compressedImage) {
      n.createSubscription<CompressedImageMsg>(p.camera_type, p.camera_topic, sensor(), (m) =>
        this.frames.onCompressed(m),
      );
    } else {
      n.createSubscription<ImageMsg>(p.camera_type, p.camera_topic, sensor(), (m) => this.frames.onRaw(m));
    }
    n.createSubscription<unknown>(p.speed_type, p.speed_topic, sensor(), (m) => this.onSpeed(speedOf(p.speed_type, m)));
    if (p.steering_topic !== '') {
      n.createSubscription<unknown>(p.steering_type, p.steering_topic, sensor(), (m) =>
        this.onSteering(steeringOf(p.steering_type, m)),
      );
    }
    // The safety signals: a best-effort subscription, because DDS matches it with reliable and
    // best-effort publishers alike (a reliable one would never hear a best-effort publisher:
    // QoS-incompatible, silent). A lost message does not matter: the signal is a heartbeat,
    // published continually, and its timeout stops the car when it stops arriving.
    const driverTrueMeansDriver = p.safety_driver_true_means === 'driver-has-control';
    n.createSubscription<BoolMsg>(MSG.bool, p.safety_driver_topic, sensor(), (m) =>
      this.onDriver('bool', driverTrueMeansDriver ? m.data : !m.data),
    );
    if (p.control_mode_topic !== '') {
      n.createSubscription<ControlModeReportMsg>(p.control_mode_type, p.control_mode_topic, sensor(), (m) =>
        this.onDriver('mode', driverHasControl(m)),
      );
    }
    n.createSubscription<StringMsg>(MSG.string, p.task_topic, reliable(), (m) => {
      this.command(m.data.trim());
    });
    if (p.task_services) {
      for (const command of TASK_COMMANDS) {
        n.createService<Record<string, never>, TriggerResponseMsg>(
          MSG.trigger,
          `~/${command}`,
          reliable(),
          (_req, response: RclServiceResponse<TriggerResponseMsg>) => {
            response.send(this.command(command));
          },
        );
      }
    }
  }

  /** Starts the policy and status timers. */
  start(): void {
    this.lastLatencyLogMs = this.clockMs();
    this.timers.push(this.node.createTimer(BigInt(Math.round(this.periodMs * 1e6)), () => this.onTick()));
    this.timers.push(
      this.node.createTimer(BigInt(Math.round(1e9 / this.params.status_rate_hz)), () => this.publishStatus()),
    );
    // During an optimisation the learner's time slices delay every timer a little, so holds at
    // the policy rate alone would leave gaps a little over one period: a second hold, half a
    // period after each, and one from the learner's progress callback between two updates
    // whenever half a period has passed since the last command (the optimisation itself keeps the
    // holds going when the timers are late) keep every gap under one period.
    this.timers.push(
      this.node.createTimer(BigInt(Math.round((this.periodMs / 2) * 1e6)), () => this.refreshHoldWhileOptimising()),
    );
    log.info(
      {
        camera: this.params.camera_topic,
        type: this.params.camera_type,
        command: this.params.command_topic,
        policyHz: this.params.policy_rate_hz,
      },
      'drive node started: waiting for the safety driver to hand over and a task command (train/test/undo/done)',
    );
  }

  /** A task command from the topic or a service; the answer says what happens. */
  command(text: string): TriggerResponseMsg {
    if (this.closed) return { success: false, message: 'the node is shutting down' };
    if (!(TASK_COMMANDS as readonly string[]).includes(text)) {
      const message = `unknown task command '${text}': use ${TASK_COMMANDS.join(', ')}`;
      log.warn(message);
      return { success: false, message };
    }
    const step = this.controller.command(text as TaskCommand);
    if (step.refused) {
      log.warn({ command: text, why: step.refused }, 'task command refused');
      return { success: false, message: step.refused };
    }
    this.applyEffects(step);
    const message = this.startPending
      ? `${this.startPending} episode starts ${this.driverHasControl() ? 'when the safety driver hands the car over' : 'with the next good frame'}`
      : step.state.phase === 'optimising'
        ? `queued: '${text}' starts when the optimisation has finished`
        : `${text}: ok (${step.state.phase})`;
    log.info({ command: text, phase: step.state.phase }, message);
    this.publishStatus();
    return { success: true, message };
  }

  status(): DriveStatus {
    const health = this.frames.health(this.clockMs());
    return {
      task: this.controller.taskState,
      driverHasControl: this.driverHasControl(),
      episode: this.episode?.number ?? null,
      episodesFinished: this.episodesFinished,
      startPending: this.startPending,
      optimising: this.optimisation !== null,
      optimisationUpdates: this.optimisationUpdates,
      failsafe: this.failsafe,
      camera: {
        fault: health.fault,
        ageMs: Number.isFinite(health.ageMs) ? Math.round(health.ageMs) : null,
        detail: health.detail,
        ...this.frames.counts,
      },
      measured: { speedMps: this.speedMps, steeringRad: this.steeringRad },
      inputs: this.heartbeats.map((b) => b.state(this.clockMs())),
      lastCommand: this.lastCommand,
      latency: { processing: this.processing.summary(), frameAge: this.frameAge.summary() },
      skippedTicks: this.skippedTicks,
      learner: this.learnerLink?.status() ?? null,
    };
  }

  /**
   * Resolves when no policy step or decode (and, unless told otherwise, no optimisation) is in
   * flight: tests and the benchmark wait on it; a signalled shutdown does not wait for the learner.
   */
  async idle(options: { readonly optimisation: boolean } = { optimisation: true }): Promise<void> {
    for (;;) {
      const pending = [this.tickInFlight, options.optimisation ? this.optimisation : null].filter(
        (x): x is Promise<void> => x !== null,
      );
      await this.frames.settled();
      if (pending.length === 0) return;
      await Promise.all(pending);
    }
  }

  /**
   * Stops the node: a speed-0 command is published first unless the driver has the car, then
   * the timers stop and `finished` resolves. Idempotent.
   */
  shutdown(reason: string): void {
    if (this.closed) return;
    const driver = this.driverHasControl();
    if (!driver) this.hold();
    this.closed = true;
    this.stopping.abort();
    for (const t of this.timers) t.cancel();
    log.info(
      { reason, episodes: this.episodesFinished },
      driver
        ? 'drive node stopped (the driver has the car: no command sent)'
        : 'drive node stopped (speed 0 published)',
    );
    this.resolveFinished({ episodes: this.episodesFinished, endedBy: reason });
  }

  // ---- inputs ----

  private onSpeed(speedMps: number): void {
    if (!Number.isFinite(speedMps)) {
      log.warn({ speedMps }, 'ignored a non-finite speed measurement');
      return;
    }
    this.speedMps = speedMps;
    const nowMs = this.clockMs();
    this.odometer.update(speedMps, nowMs);
    this.speedBeat.beat(nowMs);
  }

  private onSteering(steeringRad: number): void {
    if (!Number.isFinite(steeringRad)) {
      log.warn({ steeringRad }, 'ignored a non-finite steering measurement');
      return;
    }
    this.steeringRad = steeringRad;
    this.steeringBeat?.beat(this.clockMs());
  }

  private onDriver(source: 'bool' | 'mode', hasControl: boolean): void {
    (source === 'bool' ? this.driverBeat : this.modeBeat)?.beat(this.clockMs());
    const before = this.driverHasControl();
    if (source === 'bool') this.driverBool = hasControl;
    else this.driverMode = hasControl;
    const now = this.driverHasControl();
    if (now === before) return;
    if (now && this.episode) this.interventionLatched = true;
    // Handed back while the node optimises: hold at once, not at the next tick, so the commands
    // go on without a gap (the holds that follow come every half period).
    if (!now && this.optimisation !== null && this.episode === null && !this.closed) this.hold();
    log.info(
      { source },
      now ? 'safety driver took over: no drive commands from now on' : 'safety driver handed the car over',
    );
    this.publishStatus();
  }

  private driverHasControl(): boolean {
    const bool = this.driverBool ?? UNKNOWN_MEANS_DRIVER;
    const mode = this.params.control_mode_topic === '' ? false : (this.driverMode ?? UNKNOWN_MEANS_DRIVER);
    return bool || mode;
  }

  private measuredSteeringRad(): number {
    return this.params.steering_topic === '' ? (this.lastCommand?.steeringRad ?? 0) : (this.steeringRad ?? NaN);
  }

  // ---- the policy step ----

  private onTick(): void {
    if (this.closed) return;
    // policy_trigger 'frame': the timer is the fallback, for when no frame has started a step.
    if (this.params.policy_trigger === 'frame' && this.clockMs() - this.lastStepClockMs < this.periodMs) return;
    if (this.tickInFlight) {
      this.skippedTicks += 1;
      return;
    }
    this.startTick();
  }

  private onFrame(): void {
    if (this.closed || this.tickInFlight) return;
    if (this.clockMs() - this.lastStepClockMs < FRAME_STEP_FRACTION * this.periodMs) return;
    this.startTick();
  }

  private startTick(): void {
    this.lastStepClockMs = this.clockMs();
    this.tickInFlight = this.tick().finally(() => (this.tickInFlight = null));
  }

  private async tick(): Promise<void> {
    const startedAt = performance.now();
    try {
      await this.step(startedAt);
    } catch (err) {
      log.error({ err }, 'error in the policy step: stopping the car');
      await this.stop('error', oneLine(err));
    }
    this.maybeLogLatency();
  }

  private async step(startedAt: number): Promise<void> {
    const nowMs = this.clockMs();
    const health = this.frames.health(nowMs);
    const stale = firstTimedOut(this.heartbeats.map((b) => b.state(nowMs)));
    const learnerFault = this.learnerLink?.fault() ?? null;
    this.clearRecoveredFailsafe(health.fault, stale, learnerFault);
    if (this.controller.taskState.phase === 'done') return;

    if (this.driverHasControl() || this.interventionLatched) {
      if (this.episode) await this.endEpisode('driver', health.fault === null && stale === null);
      this.interventionLatched = false;
      return; // the driver has the car: send nothing
    }
    // The safety signals first: without them the node cannot tell whether it may drive.
    if (stale && (stale.input === 'safety-driver' || stale.input === 'control-mode')) {
      await this.stop(`stale-${stale.input}`, staleDetail(stale));
      return;
    }
    if (health.fault !== null) {
      await this.stop(health.fault, health.detail);
      return;
    }
    if (stale) {
      await this.stop(`stale-${stale.input}`, staleDetail(stale));
      return;
    }
    if (learnerFault !== null) {
      await this.stop('learner-lost', learnerFault);
      return;
    }
    const frame = this.frames.newest!;
    const steeringRad = this.measuredSteeringRad();
    const speedMps = this.speedMps;
    if (speedMps === null || !Number.isFinite(steeringRad)) {
      this.hold();
      return; // no episode without the car's measurements
    }
    if (!this.episode && (!this.startPending || this.optimisation)) {
      this.hold();
      return;
    }
    // The frame's decode before this step (a raw frame is converted inside it, by read()).
    const decodedBeforeMs = frame.decodeMs;
    const obs: DrivingObservation = { ...(await frame.read()), speedMps, steeringRad };

    if (!this.episode) {
      if (!this.startPending || this.closed) return; // 'done' or a shutdown while the frame was read
      const mode = this.startPending;
      this.startPending = null;
      await this.stepper.begin(obs);
      if (this.closed || this.controller.taskState.phase !== 'driving') return; // 'done' meanwhile
      this.failsafe = null;
      this.episode = { number: this.episodesFinished + 1, mode, startedAtMs: nowMs, odometerAtCommandM: 0 };
      log.info({ episode: this.episode.number, mode }, 'episode started');
      this.publishStatus();
    } else if (this.stepper.awaitingOutcome) {
      await this.stepper.outcome(this.outcome(this.episode, obs, nowMs, false));
    }
    // The driver may have taken over (or said done) while the state was being encoded.
    if (
      this.driverHasControl() ||
      this.interventionLatched ||
      this.closed ||
      this.controller.taskState.phase !== 'driving'
    )
      return;

    let action: Float32Array;
    try {
      action = this.stepper.decide();
    } catch (err) {
      if (!(err instanceof NonFiniteActionError)) throw err;
      log.error(
        { action: err.action, episode: this.episode.number },
        'non-finite action from the policy: not published, speed 0 instead',
      );
      await this.stop('non-finite-action', `action [${err.action.join(', ')}]`);
      return;
    }
    const command = drivingCommand(action, {
      maxSteeringRad: this.params.max_steering_rad,
      maxSpeedMps: this.params.max_speed_mps,
    });
    this.publishDrive(command.steeringRad, command.speedMps, this.driveLimits);
    this.episode.odometerAtCommandM = this.odometer.readingM(nowMs);
    this.frames.markUsed();
    const publishedAt = performance.now();
    // A raw frame's conversion ran inside this step: it counts as decode, not as step.
    const decodeMs = frame.decodeMs;
    const stepMs = publishedAt - startedAt - (decodeMs - decodedBeforeMs);
    const sample: LatencySample = {
      processingMs: decodeMs + stepMs,
      decodeMs,
      stepMs,
      frameAgeMs: publishedAt - frame.arrivedAtMs,
    };
    this.processing.add(sample.processingMs);
    this.frameAge.add(sample.frameAgeMs);
    this.onLatency?.(sample);
  }

  /** The outcome of the command in force: the odometer's advance since it was sent (the one reward), and `obs`. */
  private outcome(ep: RunningEpisode, obs: DrivingObservation, nowMs: number, terminated: boolean): StepOutcome {
    const reward = forwardRewardM(ep.odometerAtCommandM, this.odometer.readingM(nowMs));
    return { reward, observation: obs, terminated };
  }

  /** A fail-safe: speed 0 now (an emergency stop for the EMERGENCY_STOPS), the running episode ends. */
  private async stop(reason: StopReason, detail: string): Promise<void> {
    const emergency = EMERGENCY_STOPS.includes(reason);
    if (this.failsafe?.reason !== reason)
      log.warn({ reason, detail, emergency }, emergency ? 'fail-safe: emergency stop' : 'fail-safe: speed 0');
    this.failsafe = { reason, detail };
    if (!this.driverHasControl()) this.hold();
    if (this.episode) {
      try {
        await this.endEpisode(reason, false);
      } catch (err) {
        // The controller is in an unknown state: forget the episode, keep the car stopped.
        log.error({ err }, 'could not end the episode cleanly');
        this.episode = null;
        this.stepper.abandon();
      }
    }
  }

  /** A camera or heartbeat fail-safe clears once the camera and every input are good again. */
  private clearRecoveredFailsafe(
    cameraFault: CameraFault | null,
    stale: HeartbeatState | null,
    learnerFault: string | null,
  ): void {
    if (
      cameraFault === null &&
      stale === null &&
      learnerFault === null &&
      this.failsafe &&
      SELF_CLEARING_STOPS.includes(this.failsafe.reason)
    ) {
      log.info({ was: this.failsafe.reason }, 'inputs recovered: fail-safe cleared');
      this.failsafe = null;
    }
  }

  private async endEpisode(endedBy: EpisodeReport['endedBy'], observeTerminal: boolean): Promise<void> {
    const ep = this.episode!;
    this.episode = null;
    const nowMs = this.clockMs();
    let terminal: StepOutcome | undefined;
    const frame = this.frames.newest;
    if (endedBy === 'driver' && observeTerminal && this.stepper.awaitingOutcome && frame && this.speedMps !== null) {
      const steeringRad = this.measuredSteeringRad();
      if (Number.isFinite(steeringRad))
        terminal = this.outcome(ep, { ...(await frame.read()), speedMps: this.speedMps, steeringRad }, nowMs, true);
    }
    // The episode must end even where the terminal step cannot be recorded, or the task machine
    // would refuse every later command.
    const summary = await this.stepper.end(terminal, (err) => log.error({ err }, 'could not record the terminal step'));
    this.episodesFinished += 1;
    const report: EpisodeReport = {
      episode: ep.number,
      mode: ep.mode,
      steps: summary.steps,
      distanceM: roundTo(summary.return, 3),
      durationS: roundTo((nowMs - ep.startedAtMs) / 1000, 3),
      endedBy,
    };
    this.episodesPub.publish({ data: JSON.stringify(report) });
    log.info(report, `episode ${ep.number} (${ep.mode}) ended by ${endedBy}: ${report.distanceM} m`);
    if (endedBy === 'driver' && this.params.collect_garbage_on_takeover && this.driverHasControl()) {
      const pauseMs = collectGarbage();
      if (pauseMs !== null)
        log.debug({ pauseMs: roundTo(pauseMs, 2) }, 'garbage collected while the driver has the car');
    }
    if (this.controller.optimisationDue) this.optimisation = this.optimise().finally(() => (this.optimisation = null));
    this.publishStatus();
  }

  /**
   * Between episodes, off the policy step: the controller's optimisation while the driver resets
   * the car, with the node's progress (status) and its shutdown signal. The controller's optimise()
   * finishes the task step (and may start a queued episode).
   */
  private async optimise(): Promise<void> {
    // Let the tick that ended the episode finish first (its episode report and status go out).
    await new Promise<void>((resolve) => setImmediate(resolve));
    if (this.closed) return;
    const t0 = performance.now();
    try {
      this.optimisationUpdates = 0;
      const result = await this.controller.optimise({
        onProgress: (done) => {
          this.optimisationUpdates = done;
          this.refreshHoldWhileOptimising(this.periodMs / 2);
        },
        signal: this.stopping.signal,
      });
      if (this.closed) return; // shutting down: the task step does not matter any more
      const stats = result.stats ?? null;
      log.info(
        {
          seconds: roundTo((performance.now() - t0) / 1000, 3),
          ...(stats ? { updates: stats.updates, criticLoss: stats.criticLoss, skipped: stats.skipped } : {}),
        },
        'optimisation finished',
      );
      this.applyEffects(result.next);
      await this.checkpoint();
    } catch (err) {
      log.error({ err }, 'optimisation failed');
    } finally {
      this.optimisationUpdates = null;
    }
    this.publishStatus();
  }

  private applyEffects(step: TaskStep): void {
    for (const effect of step.effects) {
      if (effect.kind === 'start-episode') this.startPending = effect.mode;
      if (effect.kind === 'finish') void this.finish();
    }
  }

  private async finish(): Promise<void> {
    if (this.episode) {
      // 'done' while driving: the episode is abandoned (the task machine has already finished it).
      log.warn({ episode: this.episode.number }, "'done' during an episode: stopping the car");
      this.episode = null;
      this.stepper.abandon();
    }
    this.startPending = null;
    this.hold();
    await this.optimisation;
    await this.checkpoint();
    this.shutdown('done');
  }

  private async checkpoint(): Promise<void> {
    const dir = this.params.checkpoint_dir;
    if (dir === '' || !this.controller.save) return;
    try {
      await this.controller.save(dir);
      log.info({ dir }, 'checkpoint written');
    } catch (err) {
      log.error({ err, dir }, 'could not write the checkpoint');
    }
  }

  // ---- outputs ----

  /** A speed-0 hold while the node optimises with the car, unless one went out less than `minGapMs` ago. */
  private refreshHoldWhileOptimising(minGapMs = 0): void {
    if (
      this.closed ||
      this.optimisation === null ||
      this.episode !== null ||
      this.tickInFlight !== null ||
      this.driverHasControl()
    )
      return;
    if (this.lastCommand?.speedMps !== 0) return; // the policy step has not taken the car to a hold
    if (this.clockMs() - this.lastCommandClockMs < minGapMs) return;
    this.hold();
  }

  /**
   * Speed 0, wheels where they are: a comfortable stop, or an emergency one while an emergency
   * fail-safe stands (a later hold must not ease the braking of the stop before it).
   */
  private hold(): void {
    const emergency = this.failsafe !== null && EMERGENCY_STOPS.includes(this.failsafe.reason);
    this.publishDrive(this.holdSteeringRad(), 0, emergency ? this.emergencyLimits : this.stopLimits);
  }

  private holdSteeringRad(): number {
    const measured = this.measuredSteeringRad();
    return Number.isFinite(measured) ? measured : 0;
  }

  private publishDrive(steeringRad: number, speedMps: number, limits: CommandLimits): void {
    if (this.closed) return;
    this.commandPub.publish(
      ackermannCommand(this.node.now().nanoseconds, this.params.command_frame_id, steeringRad, speedMps, limits),
    );
    this.lastCommand = { steeringRad, speedMps };
    this.lastCommandClockMs = this.clockMs();
  }

  private publishStatus(): void {
    if (this.closed) return;
    const s = this.status();
    this.statusPub.publish({ data: JSON.stringify(s) });
    this.diagnosticsPub?.publish(diagnosticArray(this.node.now().nanoseconds, this.diagnostics(s)));
  }

  /**
   * The status as diagnostics, one DiagnosticStatus per task, named as diagnostic_updater names
   * them ('<node>: <task>', so the aggregator groups them) with the node's full name as hardware_id
   * unless diagnostics_hardware_id is set.
   */
  private diagnostics(s: DriveStatus): DiagnosticStatusMsg[] {
    const prefix = `${this.node.name()}: `;
    const hardwareId =
      this.params.diagnostics_hardware_id !== '' ? this.params.diagnostics_hardware_id : fullyQualifiedName(this.node);
    const status = (
      task: string,
      level: number,
      message: string,
      values: Record<string, unknown>,
    ): DiagnosticStatusMsg => ({
      level,
      name: prefix + task,
      message,
      hardware_id: hardwareId,
      values: Object.entries(values).map(([key, value]) => ({ key, value: String(value) })),
    });
    const learnerStatus = (d: ReturnType<LearnerLinkView['diagnostic']>) =>
      status('learner', d.level, d.message, d.values);
    const driveLevel = s.failsafe ? DIAGNOSTIC_LEVEL.ERROR : DIAGNOSTIC_LEVEL.OK;
    const driveMessage = s.failsafe
      ? `fail-safe ${s.failsafe.reason}: ${s.failsafe.detail}`
      : `${s.task.phase}${s.episode !== null ? ` episode ${s.episode} (${s.task.mode})` : ''}${s.driverHasControl ? ', safety driver has the car' : ''}`;
    const stale = s.inputs.filter((i) => i.timedOut);
    return [
      status('drive', driveLevel, driveMessage, {
        phase: s.task.phase,
        mode: s.task.mode ?? '',
        learning_episodes: s.task.learningEpisodes,
        episodes_finished: s.episodesFinished,
        driver_has_control: s.driverHasControl,
        failsafe: s.failsafe?.reason ?? '',
        latency_p50_ms: s.latency.processing.p50Ms,
        latency_p99_ms: s.latency.processing.p99Ms,
        skipped_ticks: s.skippedTicks,
      }),
      status(
        'camera',
        s.camera.fault ? DIAGNOSTIC_LEVEL.WARN : DIAGNOSTIC_LEVEL.OK,
        s.camera.fault ? `${s.camera.fault}: ${s.camera.detail}` : 'ok',
        {
          fault: s.camera.fault ?? '',
          frame_age_ms: s.camera.ageMs ?? '',
          frames_received: s.camera.received,
          frames_bad: s.camera.bad,
        },
      ),
      status(
        'inputs',
        stale.length > 0 ? DIAGNOSTIC_LEVEL.STALE : DIAGNOSTIC_LEVEL.OK,
        stale.length > 0 ? `stale: ${stale.map(staleDetail).join('; ')}` : 'ok',
        Object.fromEntries(
          s.inputs.flatMap((i) => [
            [`${i.input}_age_ms`, i.ageMs ?? 'never'],
            [`${i.input}_timeout_ms`, i.timeoutMs],
          ]),
        ),
      ),
      ...(this.learnerLink ? [learnerStatus(this.learnerLink.diagnostic())] : []),
    ];
  }

  /** Every latency_log_period_s of the node's clock (sim time where /clock drives it, like the policy timer). */
  private maybeLogLatency(): void {
    const periodMs = this.params.latency_log_period_s * 1000;
    const now = this.clockMs();
    if (periodMs <= 0 || now - this.lastLatencyLogMs < periodMs) return;
    this.lastLatencyLogMs = now;
    const processing = this.processing.summary();
    if (processing.count === 0) return;
    const frameAge = this.frameAge.summary();
    log.info(
      { processing, frameAge, skippedTicks: this.skippedTicks },
      `control loop: processing (decode + step) p50 ${processing.p50Ms} ms, p99 ${processing.p99Ms} ms; ` +
        `camera message in -> command out p50 ${frameAge.p50Ms} ms, p99 ${frameAge.p99Ms} ms (over the last ${processing.count} commands)`,
    );
  }

  private clockMs(): number {
    return Number(this.node.now().nanoseconds) / 1e6;
  }
}

function staleDetail(s: HeartbeatState): string {
  return s.ageMs === null
    ? `no ${s.input} message received (timeout ${s.timeoutMs} ms)`
    : `last ${s.input} message ${s.ageMs} ms ago (timeout ${s.timeoutMs} ms)`;
}
