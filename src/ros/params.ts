import { z } from 'zod';
import { parseWith } from '../core/config.js';
import { UserError } from '../core/errors.js';
import { log } from '../core/logger.js';
import { CAR_OPTIMISE_MODES } from '../transport/car-learner.js';
import { parseEndpoints } from '../transport/endpoint.js';
import { CAMERA_TYPES, CONTROL_MODE_TYPES, SPEED_TYPES, STEERING_TYPES } from './messages.js';
import { RCL_PARAMETER_TYPE, type RclModule, type RclNode } from './rclnodejs-types.js';

/**
 * What `true` on safety_driver_topic means. 'driver-has-control' (the default): true = the safety
 * driver has the car (an intervention). 'autonomy-enabled': true = autonomy is engaged (the
 * Autoware / drive-by-wire meaning of "engaged"), false = the driver has the car.
 */
export const SAFETY_DRIVER_POLARITIES = ['driver-has-control', 'autonomy-enabled'] as const;

/** Where the learner runs, and what the car does while a separate one is lost (learner-client.ts). */
export const LEARNER_MODES = ['in-process', 'child-process', 'external'] as const;
export const LEARNER_LOST_ACTIONS = ['stop', 'drive-last-weights'] as const;

/** What starts a policy step (see DRIVE_PARAMETERS.policy_trigger). */
export const POLICY_TRIGGERS = ['timer', 'frame'] as const;

/**
 * The drive node's ROS parameters: declared on the node with their types, defaults and
 * descriptions (so `ros2 param describe` shows them), overridden by a --params-file or the
 * launch file, then validated here (a bad value is one error naming the parameter).
 * launch/config/daydrive.params.yaml lists every one of them with the same default
 * (test/ros/params.test.ts keeps the two in step). Names are the ROS names (snake_case, units).
 */
export const driveParamsSchema = z
  .object({
    camera_topic: z.string().min(1).default('camera/image_raw'),
    camera_type: z.enum(CAMERA_TYPES).default('sensor_msgs/msg/Image'),
    camera_width_px: z.number().int().min(0).default(0),
    camera_height_px: z.number().int().min(0).default(0),
    speed_topic: z.string().min(1).default('odom'),
    speed_type: z.enum(SPEED_TYPES).default('nav_msgs/msg/Odometry'),
    steering_topic: z.string().default(''),
    steering_type: z.enum(STEERING_TYPES).default('std_msgs/msg/Float64'),
    speed_timeout_s: z.number().min(0).max(10).default(0.3),
    steering_timeout_s: z.number().min(0).max(10).default(0.3),
    safety_driver_topic: z.string().min(1).default('safety_driver/has_control'),
    safety_driver_true_means: z.enum(SAFETY_DRIVER_POLARITIES).default('driver-has-control'),
    safety_driver_timeout_s: z.number().min(0).max(10).default(0.5),
    control_mode_topic: z.string().default(''),
    control_mode_type: z.enum(CONTROL_MODE_TYPES).default('autoware_vehicle_msgs/msg/ControlModeReport'),
    control_mode_timeout_s: z.number().min(0).max(10).default(0.5),
    task_topic: z.string().min(1).default('~/task'),
    task_services: z.boolean().default(true),
    command_topic: z.string().min(1).default('ackermann_cmd'),
    command_frame_id: z.string().default('base_link'),
    status_topic: z.string().min(1).default('~/status'),
    episodes_topic: z.string().min(1).default('~/episodes'),
    publish_diagnostics: z.boolean().default(true),
    diagnostics_hardware_id: z.string().default(''),
    policy_rate_hz: z.number().min(1).max(100).default(10),
    policy_trigger: z.enum(POLICY_TRIGGERS).default('timer'),
    status_rate_hz: z.number().min(0.1).max(50).default(1),
    max_steering_rad: z.number().positive().max(1.5).default(0.45),
    max_speed_mps: z
      .number()
      .positive()
      .max(30)
      .default(10 / 3.6),
    accel_limit_mps2: z.number().min(0).max(20).default(1.0),
    stop_decel_mps2: z.number().positive().max(20).default(2.0),
    emergency_decel_mps2: z.number().min(0).max(20).default(0),
    jerk_limit_mps3: z.number().min(0).max(100).default(2.0),
    steering_rate_limit_radps: z.number().min(0).max(20).default(1.5),
    max_frame_age_s: z.number().positive().max(10).default(0.3),
    max_consecutive_bad_frames: z.number().int().min(1).max(10_000).default(10),
    shutdown_flush_s: z.number().min(0).max(5).default(0.1),
    latency_log_period_s: z.number().min(0).default(10),
    config_file: z.string().default(''),
    vae_model_dir: z.string().default(''),
    checkpoint_dir: z.string().default(''),
    // The learner's process (src/ros/learner-client.ts, docs/transport.md "The car").
    learner_mode: z.enum(LEARNER_MODES).default('child-process'),
    learner_endpoints: z.string().default(''),
    learner_curve_keys: z.string().default(''),
    learner_timeout_s: z.number().positive().max(60).default(2),
    learner_lost_action: z.enum(LEARNER_LOST_ACTIONS).default('stop'),
    learner_optimise: z.enum(CAR_OPTIMISE_MODES).default('between-episodes'),
    learner_nice: z.number().int().min(0).max(19).default(10),
    collect_garbage_on_takeover: z.boolean().default(true),
  })
  .strict()
  .refine((p) => (p.camera_width_px === 0) === (p.camera_height_px === 0), {
    message: 'set both camera_width_px and camera_height_px, or neither (0 = any size)',
    path: ['camera_width_px'],
  })
  .superRefine(checkLearnerEndpoints);

/** learner_endpoints is empty or UPLINK,DOWNLINK; an external learner needs it (the keys are checked at start). */
function checkLearnerEndpoints(p: { learner_mode: string; learner_endpoints: string }, ctx: z.RefinementCtx): void {
  const issue = (message: string) => ctx.addIssue({ code: 'custom', path: ['learner_endpoints'], message });
  if (p.learner_endpoints === '') {
    if (p.learner_mode === 'external') issue("learner_mode 'external' needs learner_endpoints (UPLINK,DOWNLINK)");
    return;
  }
  try {
    parseEndpoints(p.learner_endpoints, 'learner_endpoints');
  } catch (err) {
    issue((err as Error).message);
  }
}

export type DriveParams = z.output<typeof driveParamsSchema>;
export type PolicyTrigger = DriveParams['policy_trigger'];
export type DriveParamName = keyof DriveParams;

type ParamKind = keyof typeof RCL_PARAMETER_TYPE;

/** Each parameter's ROS type and what it means (the description `ros2 param describe` shows). */
export const DRIVE_PARAMETERS: Readonly<
  Record<DriveParamName, { readonly kind: ParamKind; readonly description: string }>
> = {
  camera_topic: { kind: 'string', description: 'front camera topic' },
  camera_type: { kind: 'string', description: `camera message type: ${CAMERA_TYPES.join(' or ')} (jpeg/png)` },
  camera_width_px: {
    kind: 'integer',
    description: 'expected frame width, pixels; frames of another size are dropped as bad (0 with height 0: any size)',
  },
  camera_height_px: { kind: 'integer', description: 'expected frame height, pixels (0 with width 0: any size)' },
  speed_topic: { kind: 'string', description: 'measured forward speed topic' },
  speed_type: { kind: 'string', description: `speed message type: ${SPEED_TYPES.join(', ')}` },
  steering_topic: {
    kind: 'string',
    description: "measured front-wheel steering angle topic (rad, + left); '' = use the last commanded angle",
  },
  steering_type: { kind: 'string', description: `steering message type: ${STEERING_TYPES.join(', ')}` },
  speed_timeout_s: {
    kind: 'double',
    description: 'no speed measurement for this long stops the car (speed 0) and ends the episode, s; 0 = no check',
  },
  steering_timeout_s: {
    kind: 'double',
    description: 'no steering measurement for this long stops the car, s (only with a steering_topic); 0 = no check',
  },
  safety_driver_topic: {
    kind: 'string',
    description:
      'std_msgs/msg/Bool from the safety driver, published at 10 Hz or more; with safety_driver_true_means driver-has-control: true = the driver has the car (an intervention), false = the node may drive',
  },
  safety_driver_true_means: {
    kind: 'string',
    description:
      "what true on safety_driver_topic means: 'driver-has-control' (true = intervention) or 'autonomy-enabled' (true = the node may drive, as Autoware's and drive-by-wire 'engaged')",
  },
  safety_driver_timeout_s: {
    kind: 'double',
    description:
      'no safety-driver message for this long counts as an intervention: emergency stop, the episode ends, s; 0 = no check (latched: not for a car)',
  },
  control_mode_topic: {
    kind: 'string',
    description:
      "optional Autoware ControlModeReport topic: any mode but AUTONOMOUS (MANUAL, DISENGAGED, ...) is an intervention; '' = not used",
  },
  control_mode_type: {
    kind: 'string',
    description: `ControlModeReport type: ${CONTROL_MODE_TYPES.join(' (Autoware 2023 on) or ')} (older Autoware.Auto stacks); same fields and modes`,
  },
  control_mode_timeout_s: {
    kind: 'double',
    description: 'no control-mode report for this long counts as an intervention (emergency stop), s; 0 = no check',
  },
  task_topic: { kind: 'string', description: 'std_msgs/msg/String task commands: train, test, undo, done' },
  task_services: {
    kind: 'bool',
    description: 'also offer the task commands as std_srvs/srv/Trigger services ~/train, ~/test, ~/undo, ~/done',
  },
  command_topic: {
    kind: 'string',
    description:
      'ackermann_msgs/msg/AckermannDriveStamped output (steering angle rad, speed m/s); relative: under the node namespace',
  },
  command_frame_id: { kind: 'string', description: 'frame_id of the command header' },
  status_topic: {
    kind: 'string',
    description: 'std_msgs/msg/String: the node status as JSON (task, fail-safes, frames, latency)',
  },
  episodes_topic: { kind: 'string', description: 'std_msgs/msg/String: one JSON object per finished episode' },
  publish_diagnostics: {
    kind: 'bool',
    description:
      "also publish the status as diagnostic_msgs/msg/DiagnosticArray on /diagnostics (name 'daydrive: <task>', hardware_id the node's full name)",
  },
  diagnostics_hardware_id: {
    kind: 'string',
    description: "hardware_id of the diagnostics (the car's name); '' = the node's full name (/namespace/name)",
  },
  policy_rate_hz: {
    kind: 'double',
    description: 'policy rate: one command per period, on the newest frame (the paper: 10 Hz)',
  },
  policy_trigger: {
    kind: 'string',
    description:
      "what starts a policy step: 'timer' (every period, on the newest frame) or 'frame' (the first frame that arrives at least 0.9 periods after the last step, so a command follows its frame at once; the timer steps only when no frame has, which keeps the fail-safes within one period)",
  },
  status_rate_hz: { kind: 'double', description: 'status and diagnostics rate' },
  max_steering_rad: { kind: 'double', description: 'steering angle of action +1 (full left), rad' },
  max_speed_mps: {
    kind: 'double',
    description: 'speed set-point of action +1, m/s (the paper capped the car at 10 km/h)',
  },
  accel_limit_mps2: {
    kind: 'double',
    description:
      'acceleration limit of the drive commands (AckermannDrive acceleration), m/s^2; 0 = as fast as the car can',
  },
  stop_decel_mps2: {
    kind: 'double',
    description: 'deceleration of a comfortable stop (holds, stale camera or measurements, end of an episode), m/s^2',
  },
  emergency_decel_mps2: {
    kind: 'double',
    description:
      'deceleration of an emergency stop (stale safety-driver signal or control mode, an error, a non-finite action), m/s^2; 0 = as fast as the car can (AckermannDrive.msg)',
  },
  jerk_limit_mps3: {
    kind: 'double',
    description: 'jerk limit of drive commands and comfortable stops, m/s^3 (emergency stops: none); 0 = none',
  },
  steering_rate_limit_radps: {
    kind: 'double',
    description: 'steering angle velocity limit of every command, rad/s; 0 = as fast as the car can',
  },
  max_frame_age_s: {
    kind: 'double',
    description:
      'a frame older than this (header stamp, else arrival) or no frame at all stops the car (speed 0) and ends the episode',
  },
  max_consecutive_bad_frames: {
    kind: 'integer',
    description:
      'this many unusable frames in a row (corrupt, wrong size, unknown encoding) stop the car and end the episode',
  },
  shutdown_flush_s: {
    kind: 'double',
    description:
      'on shutdown (done, SIGINT, SIGTERM): keep the node alive this long after the final speed-0 command, so that it leaves over DDS before the node is destroyed, s',
  },
  latency_log_period_s: {
    kind: 'double',
    description: 'log the control-loop latency (p50/p99/max) this often, s; 0 = never',
  },
  config_file: {
    kind: 'string',
    description:
      "agent configuration (YAML/JSON: seed, algo, vaeModel, agent, learner, exploration; a `daydrive train` config works as is); '' = defaults",
  },
  vae_model_dir: {
    kind: 'string',
    description: "VAE model directory; '' = the config file's vaeModel, else models/vae-sim",
  },
  checkpoint_dir: {
    kind: 'string',
    description:
      "agent checkpoint: loaded at start if present, written after every optimisation and at done; '' = none",
  },
  learner_mode: {
    kind: 'string',
    description:
      "where the learner runs: 'in-process' (the node's own event loop optimises between episodes), 'child-process' (a learner process the node starts and restarts from its checkpoint; the control loop only acts) or 'external' (`daydrive learner` at learner_endpoints: started by the launch file with learner_mode:=external, or on another machine)",
  },
  learner_endpoints: {
    kind: 'string',
    description:
      "the learner's UPLINK,DOWNLINK ZeroMQ endpoints (tcp://HOST:PORT); '' = free loopback ports (child-process); anything but loopback needs learner_curve_keys",
  },
  learner_curve_keys: {
    kind: 'string',
    description: "CURVE keys file (JSON, docs/transport.md); needed for a non-loopback learner_endpoints; '' = none",
  },
  learner_timeout_s: {
    kind: 'double',
    description:
      'no word (heartbeat, weights, event) from a separate learner for this long: the learner is lost, learning stops, s',
  },
  learner_lost_action: {
    kind: 'string',
    description:
      "what the car does while the learner is lost: 'stop' (speed 0, the episode ends; clears when it is back) or 'drive-last-weights' (episodes go on with the last weights, their transitions queued for it)",
  },
  learner_optimise: {
    kind: 'string',
    description:
      "'between-episodes' (the paper: the node waits for the learner's optimisation while the driver resets the car; commands are queued) or 'continuous' (the learner optimises while the car drives the next episode, with the weights broadcast meanwhile)",
  },
  learner_nice: {
    kind: 'integer',
    description:
      'how many nice steps below the node the learner process runs (0-19; a child-process learner, and `daydrive learner` lowers its own), so the control loop wins the CPU when both want it; 0 = the same priority',
  },
  collect_garbage_on_takeover: {
    kind: 'bool',
    description:
      'a full garbage collection in the node when an episode ends with the safety driver in control (no command is due then), so that V8 need not start a major collection of its own while the node holds the car during the optimisation that follows',
  },
};

export const DRIVE_PARAM_NAMES = Object.keys(DRIVE_PARAMETERS) as DriveParamName[];

/** The defaults (what the node runs with when nothing overrides them). */
export const DEFAULT_DRIVE_PARAMS: DriveParams = driveParamsSchema.parse({});

/**
 * Declares every parameter on the node with its value from `overrides` (resolveParameterOverrides:
 * the params files and -p rules that match the node) or its default, read-only, and validates the
 * values. Read-only because the node reads its parameters once: rclnodejs then refuses a set
 * request (`ros2 param set`) with "Parameter <name> is readonly" instead of answering success and
 * changing nothing. An integer given for a double parameter (`policy_rate_hz: 10`) is taken as the
 * double it means; any other type mismatch is one error naming the parameter.
 */
export function declareDriveParams(
  rcl: Pick<RclModule, 'Parameter' | 'ParameterDescriptor'>,
  node: RclNode,
  overrides: ReadonlyMap<string, unknown>,
): DriveParams {
  const unknown = [...overrides.keys()].filter((name) => !(name in DRIVE_PARAMETERS) && name !== 'use_sim_time');
  if (unknown.length > 0)
    log.warn({ unknown }, `unknown drive parameters ignored: ${unknown.join(', ')} (docs/ros.md lists the parameters)`);
  const raw: Record<string, unknown> = {};
  for (const name of DRIVE_PARAM_NAMES) {
    const { kind, description } = DRIVE_PARAMETERS[name];
    const type = RCL_PARAMETER_TYPE[kind];
    const value = overrides.has(name) ? overrideValue(name, kind, overrides.get(name)) : DEFAULT_DRIVE_PARAMS[name];
    // rclnodejs holds PARAMETER_INTEGER values as bigint.
    const rosValue = kind === 'integer' ? BigInt(value as number) : value;
    const declared = node.declareParameter(
      new rcl.Parameter(name, type, rosValue),
      new rcl.ParameterDescriptor(name, type, description, true),
      true,
    );
    raw[name] = typeof declared.value === 'bigint' ? Number(declared.value) : declared.value;
  }
  return parseDriveParams(raw, 'drive parameters');
}

/** An override's value for a parameter of `kind`, or a one-line error naming the parameter. */
export function overrideValue(name: string, kind: ParamKind, value: unknown): unknown {
  const ok =
    kind === 'double'
      ? typeof value === 'number' && Number.isFinite(value)
      : kind === 'integer'
        ? typeof value === 'number' && Number.isSafeInteger(value)
        : kind === 'bool'
          ? typeof value === 'boolean'
          : typeof value === 'string';
  if (!ok)
    throw new UserError(
      `invalid drive parameter ${name}: expected ${kind === 'integer' ? 'an integer' : `a ${kind}`}, got ${JSON.stringify(value)}`,
    );
  return value;
}

export function parseDriveParams(raw: unknown, source: string): DriveParams {
  return parseWith(driveParamsSchema, raw, source);
}
