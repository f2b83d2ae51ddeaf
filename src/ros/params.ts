import { z } from 'zod';
import { parseWith } from '../core/config.js';
import { UserError } from '../core/errors.js';
import { CAMERA_TYPES, SPEED_TYPES, STEERING_TYPES } from './messages.js';
import { RCL_PARAMETER_TYPE, type RclModule, type RclNode } from './rclnodejs-types.js';

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
    camera_topic: z.string().min(1).default('/camera/image_raw'),
    camera_type: z.enum(CAMERA_TYPES).default('sensor_msgs/msg/Image'),
    camera_width_px: z.number().int().min(0).default(0),
    camera_height_px: z.number().int().min(0).default(0),
    speed_topic: z.string().min(1).default('/odom'),
    speed_type: z.enum(SPEED_TYPES).default('nav_msgs/msg/Odometry'),
    steering_topic: z.string().default(''),
    steering_type: z.enum(STEERING_TYPES).default('std_msgs/msg/Float64'),
    safety_driver_topic: z.string().min(1).default('/safety_driver/engaged'),
    control_mode_topic: z.string().default(''),
    task_topic: z.string().min(1).default('~/task'),
    task_services: z.boolean().default(true),
    command_topic: z.string().min(1).default('/ackermann_cmd'),
    command_frame_id: z.string().default('base_link'),
    status_topic: z.string().min(1).default('~/status'),
    episodes_topic: z.string().min(1).default('~/episodes'),
    publish_diagnostics: z.boolean().default(true),
    policy_rate_hz: z.number().min(1).max(100).default(10),
    policy_trigger: z.enum(POLICY_TRIGGERS).default('timer'),
    status_rate_hz: z.number().min(0.1).max(50).default(1),
    max_steering_rad: z.number().positive().max(1.5).default(0.45),
    max_speed_mps: z.number().positive().max(30).default(10 / 3.6),
    max_frame_age_s: z.number().positive().max(10).default(0.3),
    max_consecutive_bad_frames: z.number().int().min(1).max(10_000).default(10),
    shutdown_flush_s: z.number().min(0).max(5).default(0.1),
    latency_log_period_s: z.number().min(0).default(10),
    config_file: z.string().default(''),
    vae_model_dir: z.string().default(''),
    checkpoint_dir: z.string().default(''),
  })
  .strict()
  .refine((p) => (p.camera_width_px === 0) === (p.camera_height_px === 0), {
    message: 'set both camera_width_px and camera_height_px, or neither (0 = any size)',
    path: ['camera_width_px'],
  });

export type DriveParams = z.output<typeof driveParamsSchema>;
export type PolicyTrigger = DriveParams['policy_trigger'];
export type DriveParamName = keyof DriveParams;

type ParamKind = keyof typeof RCL_PARAMETER_TYPE;

/** Each parameter's ROS type and what it means (the description `ros2 param describe` shows). */
export const DRIVE_PARAMETERS: Readonly<Record<DriveParamName, { readonly kind: ParamKind; readonly description: string }>> = {
  camera_topic: { kind: 'string', description: 'front camera topic' },
  camera_type: { kind: 'string', description: `camera message type: ${CAMERA_TYPES.join(' or ')} (jpeg/png)` },
  camera_width_px: { kind: 'integer', description: 'expected frame width, pixels; frames of another size are dropped as bad (0 with height 0: any size)' },
  camera_height_px: { kind: 'integer', description: 'expected frame height, pixels (0 with width 0: any size)' },
  speed_topic: { kind: 'string', description: 'measured forward speed topic' },
  speed_type: { kind: 'string', description: `speed message type: ${SPEED_TYPES.join(', ')}` },
  steering_topic: { kind: 'string', description: "measured front-wheel steering angle topic (rad, + left); '' = use the last commanded angle" },
  steering_type: { kind: 'string', description: `steering message type: ${STEERING_TYPES.join(', ')}` },
  safety_driver_topic: { kind: 'string', description: 'std_msgs/msg/Bool from the safety driver: true = the driver has taken over (an intervention), false = the node may drive' },
  control_mode_topic: { kind: 'string', description: "optional Autoware autoware_vehicle_msgs/msg/ControlModeReport topic: any mode but AUTONOMOUS (MANUAL, DISENGAGED, ...) is an intervention; '' = not used" },
  task_topic: { kind: 'string', description: 'std_msgs/msg/String task commands: train, test, undo, done' },
  task_services: { kind: 'bool', description: 'also offer the task commands as std_srvs/srv/Trigger services ~/train, ~/test, ~/undo, ~/done' },
  command_topic: { kind: 'string', description: 'ackermann_msgs/msg/AckermannDriveStamped output (steering angle rad, speed m/s)' },
  command_frame_id: { kind: 'string', description: 'frame_id of the command header' },
  status_topic: { kind: 'string', description: 'std_msgs/msg/String: the node status as JSON (task, fail-safes, frames, latency)' },
  episodes_topic: { kind: 'string', description: 'std_msgs/msg/String: one JSON object per finished episode' },
  publish_diagnostics: { kind: 'bool', description: 'also publish the status as diagnostic_msgs/msg/DiagnosticArray on /diagnostics' },
  policy_rate_hz: { kind: 'double', description: 'policy rate: one command per period, on the newest frame (the paper: 10 Hz)' },
  policy_trigger: {
    kind: 'string',
    description:
      "what starts a policy step: 'timer' (every period, on the newest frame) or 'frame' (the first frame that arrives at least 0.9 periods after the last step, so a command follows its frame at once; the timer steps only when no frame has, which keeps the fail-safes within one period)",
  },
  status_rate_hz: { kind: 'double', description: 'status and diagnostics rate' },
  max_steering_rad: { kind: 'double', description: 'steering angle of action +1 (full left), rad' },
  max_speed_mps: { kind: 'double', description: 'speed set-point of action +1, m/s (the paper capped the car at 10 km/h)' },
  max_frame_age_s: { kind: 'double', description: 'a frame older than this (header stamp, else arrival) or no frame at all stops the car (speed 0) and ends the episode' },
  max_consecutive_bad_frames: { kind: 'integer', description: 'this many unusable frames in a row (corrupt, wrong size, unknown encoding) stop the car and end the episode' },
  shutdown_flush_s: {
    kind: 'double',
    description: 'on shutdown (done, SIGINT, SIGTERM): keep the node alive this long after the final speed-0 command, so that it leaves over DDS before the node is destroyed, s',
  },
  latency_log_period_s: { kind: 'double', description: 'log the control-loop latency (p50/p99/max) this often, s; 0 = never' },
  config_file: { kind: 'string', description: "agent configuration (YAML/JSON: seed, algo, vaeModel, agent, learner, exploration; a `daydrive train` config works as is); '' = defaults" },
  vae_model_dir: { kind: 'string', description: "VAE model directory; '' = the config file's vaeModel, else models/vae-sim" },
  checkpoint_dir: { kind: 'string', description: "agent checkpoint: loaded at start if present, written after every optimisation and at done; '' = none" },
};

export const DRIVE_PARAM_NAMES = Object.keys(DRIVE_PARAMETERS) as DriveParamName[];

/** The defaults (what the node runs with when nothing overrides them). */
export const DEFAULT_DRIVE_PARAMS: DriveParams = driveParamsSchema.parse({});

/**
 * Declares every parameter on the node (overrides from --params-file / the launch file apply
 * here), reads the values back and validates them.
 */
export function declareDriveParams(rcl: Pick<RclModule, 'Parameter' | 'ParameterDescriptor'>, node: RclNode): DriveParams {
  const raw: Record<string, unknown> = {};
  for (const name of DRIVE_PARAM_NAMES) {
    const { kind, description } = DRIVE_PARAMETERS[name];
    const type = RCL_PARAMETER_TYPE[kind];
    const fallback = DEFAULT_DRIVE_PARAMS[name];
    // rclnodejs holds PARAMETER_INTEGER values as bigint.
    const value = kind === 'integer' ? BigInt(fallback as number) : fallback;
    const declared = node.declareParameter(new rcl.Parameter(name, type, value), new rcl.ParameterDescriptor(name, type, description));
    if (declared.type !== type) {
      throw new UserError(`invalid drive parameter ${name}: expected a ${kind}, got ROS parameter type ${declared.type}`);
    }
    raw[name] = typeof declared.value === 'bigint' ? Number(declared.value) : declared.value;
  }
  return parseDriveParams(raw, 'drive parameters');
}

export function parseDriveParams(raw: unknown, source: string): DriveParams {
  return parseWith(driveParamsSchema, raw, source);
}
