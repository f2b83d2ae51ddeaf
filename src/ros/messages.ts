/**
 * ROS message types the node speaks, and the conversions between them and plain numbers:
 * builtin times, the Ackermann command, the measured speed and steering from the message
 * types vehicles publish, the Autoware control mode, diagnostics.
 */
import type {
  AckermannDriveStampedMsg,
  ControlModeReportMsg,
  DiagnosticArrayMsg,
  DiagnosticStatusMsg,
  FloatMsg,
  HeaderMsg,
  OdometryMsg,
  RclNode,
  SteeringReportMsg,
  TimeMsg,
  VelocityReportMsg,
} from './rclnodejs-types.js';

export const MSG = {
  image: 'sensor_msgs/msg/Image',
  compressedImage: 'sensor_msgs/msg/CompressedImage',
  odometry: 'nav_msgs/msg/Odometry',
  float64: 'std_msgs/msg/Float64',
  float32: 'std_msgs/msg/Float32',
  bool: 'std_msgs/msg/Bool',
  string: 'std_msgs/msg/String',
  velocityReport: 'autoware_vehicle_msgs/msg/VelocityReport',
  steeringReport: 'autoware_vehicle_msgs/msg/SteeringReport',
  controlModeReport: 'autoware_vehicle_msgs/msg/ControlModeReport',
  /** Older Autoware (Autoware.Auto) stacks: the same fields and mode constants. */
  autoControlModeReport: 'autoware_auto_vehicle_msgs/msg/ControlModeReport',
  ackermannStamped: 'ackermann_msgs/msg/AckermannDriveStamped',
  diagnosticArray: 'diagnostic_msgs/msg/DiagnosticArray',
  trigger: 'std_srvs/srv/Trigger',
} as const;

export const CAMERA_TYPES = [MSG.image, MSG.compressedImage] as const;

/** Speed sources and how each carries forward speed (m/s). */
export const SPEED_TYPES = [MSG.odometry, MSG.float64, MSG.float32, MSG.velocityReport] as const;
export type SpeedType = (typeof SPEED_TYPES)[number];

/** Steering sources and how each carries the front-wheel angle (rad, + left). */
export const STEERING_TYPES = [MSG.float64, MSG.float32, MSG.steeringReport] as const;
export type SteeringType = (typeof STEERING_TYPES)[number];

/** ControlModeReport types: Autoware's and the older Autoware.Auto one (same fields and modes). */
export const CONTROL_MODE_TYPES = [MSG.controlModeReport, MSG.autoControlModeReport] as const;
export type ControlModeType = (typeof CONTROL_MODE_TYPES)[number];

export function speedOf(type: SpeedType, msg: unknown): number {
  switch (type) {
    case MSG.odometry:
      return (msg as OdometryMsg).twist.twist.linear.x;
    case MSG.velocityReport:
      return (msg as VelocityReportMsg).longitudinal_velocity;
    case MSG.float64:
    case MSG.float32:
      return (msg as FloatMsg).data;
  }
}

export function steeringOf(type: SteeringType, msg: unknown): number {
  return type === MSG.steeringReport ? (msg as SteeringReportMsg).steering_tire_angle : (msg as FloatMsg).data;
}

/**
 * Autoware ControlModeReport.mode. Only AUTONOMOUS hands the car to the node; every other mode
 * (MANUAL, DISENGAGED, steer- or velocity-only, not ready) means it does not command the car.
 */
export const CONTROL_MODE = {
  NO_COMMAND: 0,
  AUTONOMOUS: 1,
  AUTONOMOUS_STEER_ONLY: 2,
  AUTONOMOUS_VELOCITY_ONLY: 3,
  MANUAL: 4,
  DISENGAGED: 5,
  NOT_READY: 6,
} as const;

export function driverHasControl(report: ControlModeReportMsg): boolean {
  return report.mode !== CONTROL_MODE.AUTONOMOUS;
}

/** Milliseconds of a builtin time; 0 for the zero stamp some drivers leave unset. */
export function timeMsgToMs(t: TimeMsg): number {
  return t.sec * 1000 + t.nanosec / 1e6;
}

export function nsToTimeMsg(ns: bigint): TimeMsg {
  return { sec: Number(ns / 1_000_000_000n), nanosec: Number(ns % 1_000_000_000n) };
}

export function header(stampNs: bigint, frameId: string): HeaderMsg {
  return { stamp: nsToTimeMsg(stampNs), frame_id: frameId };
}

/**
 * The rate limits a command asks for. AckermannDrive.msg: acceleration, jerk and
 * steering_angle_velocity are magnitudes, and 0 means "change as fast as possible".
 */
export interface CommandLimits {
  readonly accelerationMps2: number;
  readonly jerkMps3: number;
  readonly steeringRateRadps: number;
}

/** An Ackermann command: steering angle (rad, + left) and speed (m/s) with the rate limits to reach them. */
export function ackermannCommand(
  stampNs: bigint,
  frameId: string,
  steeringRad: number,
  speedMps: number,
  limits: CommandLimits,
): AckermannDriveStampedMsg {
  return {
    header: header(stampNs, frameId),
    drive: {
      steering_angle: steeringRad,
      steering_angle_velocity: limits.steeringRateRadps,
      speed: speedMps,
      acceleration: limits.accelerationMps2,
      jerk: limits.jerkMps3,
    },
  };
}

export const DIAGNOSTIC_LEVEL = { OK: 0, WARN: 1, ERROR: 2, STALE: 3 } as const;

export function diagnosticArray(stampNs: bigint, status: readonly DiagnosticStatusMsg[]): DiagnosticArrayMsg {
  return { header: header(stampNs, ''), status };
}

/** '/ns/name' (rclnodejs Node.namespace() is '/' at the root). */
export function fullyQualifiedName(node: Pick<RclNode, 'name' | 'namespace'>): string {
  const ns = node.namespace();
  return `${ns.endsWith('/') ? ns : `${ns}/`}${node.name()}`;
}
