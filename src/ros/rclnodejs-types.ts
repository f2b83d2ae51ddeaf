/**
 * The parts of rclnodejs (2.x) the drive node uses, typed from its published declarations
 * (types/index.d.ts, node.d.ts, parameter.d.ts, qos.d.ts, time.d.ts, timer.d.ts, publisher.d.ts,
 * service.d.ts). rclnodejs is an optional dependency that cannot be installed without a sourced
 * ROS 2, so the node is written against these narrow shapes: the real module satisfies them
 * (src/ros/load.ts) and the tests use an in-process stand-in (test/ros/fake-rclnodejs.ts).
 *
 * Message objects are the plain objects rclnodejs delivers and accepts: field names as in the
 * .msg files, `uint8[]` fields as Uint8Array (enableTypedArray, the default), builtin times as
 * {sec, nanosec}.
 */

// ---- messages (the fields the node reads or writes) ----

// The camera messages and their header: one shape for the node, bags and the converters.
export type { CompressedImageMsg, HeaderMsg, ImageMsg, TimeMsg } from '../vision/image-messages.js';
import type { HeaderMsg, TimeMsg } from '../vision/image-messages.js';

/** geometry_msgs/msg/Vector3 */
export interface Vector3Msg {
  readonly x: number;
  readonly y: number;
  readonly z: number;
}

/** nav_msgs/msg/Odometry (the twist part; the pose is not used). */
export interface OdometryMsg {
  readonly header: HeaderMsg;
  readonly twist: { readonly twist: { readonly linear: Vector3Msg; readonly angular: Vector3Msg } };
}

/** std_msgs/msg/Float32, Float64 */
export interface FloatMsg {
  readonly data: number;
}

/** std_msgs/msg/Bool */
export interface BoolMsg {
  readonly data: boolean;
}

/** std_msgs/msg/String */
export interface StringMsg {
  readonly data: string;
}

/** autoware_vehicle_msgs/msg/VelocityReport */
export interface VelocityReportMsg {
  readonly header: HeaderMsg;
  readonly longitudinal_velocity: number;
}

/** autoware_vehicle_msgs/msg/SteeringReport */
export interface SteeringReportMsg {
  readonly stamp: TimeMsg;
  readonly steering_tire_angle: number;
}

/** autoware_vehicle_msgs/msg/ControlModeReport (mode constants in messages.ts). */
export interface ControlModeReportMsg {
  readonly stamp: TimeMsg;
  readonly mode: number;
}

/** ackermann_msgs/msg/AckermannDrive */
export interface AckermannDriveMsg {
  readonly steering_angle: number;
  readonly steering_angle_velocity: number;
  readonly speed: number;
  readonly acceleration: number;
  readonly jerk: number;
}

/** ackermann_msgs/msg/AckermannDriveStamped */
export interface AckermannDriveStampedMsg {
  readonly header: HeaderMsg;
  readonly drive: AckermannDriveMsg;
}

/** diagnostic_msgs/msg/KeyValue */
export interface KeyValueMsg {
  readonly key: string;
  readonly value: string;
}

/** diagnostic_msgs/msg/DiagnosticStatus */
export interface DiagnosticStatusMsg {
  /** OK 0, WARN 1, ERROR 2, STALE 3 */
  readonly level: number;
  readonly name: string;
  readonly message: string;
  readonly hardware_id: string;
  readonly values: readonly KeyValueMsg[];
}

/** diagnostic_msgs/msg/DiagnosticArray */
export interface DiagnosticArrayMsg {
  readonly header: HeaderMsg;
  readonly status: readonly DiagnosticStatusMsg[];
}

/** std_srvs/srv/Trigger response (the request is empty). */
export interface TriggerResponseMsg {
  readonly success: boolean;
  readonly message: string;
}

// ---- the API ----

/** rclnodejs Time (node.now()). */
export interface RclTime {
  readonly nanoseconds: bigint;
}

/** rclnodejs Publisher<T> */
export interface RclPublisher<M> {
  publish(message: M): void;
}

/** rclnodejs Timer */
export interface RclTimer {
  cancel(): void;
}

/** rclnodejs ServiceResponse<T> (the second argument of a service callback). */
export interface RclServiceResponse<R> {
  send(response: R): void;
}

/** rclnodejs Options (createPublisher / createSubscription / createService). */
export interface RclEntityOptions {
  /** A QoS profile name, e.g. QoS.profileSensorData = 'qos_profile_sensor_data'. */
  readonly qos?: string;
  readonly enableTypedArray?: boolean;
}

/** rclnodejs ParameterType values (a const enum in its declarations). */
export const RCL_PARAMETER_TYPE = {
  bool: 1,
  integer: 2,
  double: 3,
  string: 4,
} as const;

/** rclnodejs Parameter: PARAMETER_INTEGER values are bigint. */
export interface RclParameter {
  readonly name: string;
  readonly type: number;
  readonly value: unknown;
}

/** rclnodejs ParameterDescriptor */
export interface RclParameterDescriptor {
  readonly name: string;
  readonly type: number;
  readonly description: string;
  readonly readOnly: boolean;
}

/** rclnodejs Node (the methods the drive node calls). */
export interface RclNode {
  name(): string;
  /** The node's namespace ('/' at the root). */
  namespace(): string;
  now(): RclTime;
  createPublisher<M>(typeClass: string, topic: string, options?: RclEntityOptions): RclPublisher<M>;
  createSubscription<M>(
    typeClass: string,
    topic: string,
    options: RclEntityOptions,
    callback: (message: M) => void,
  ): unknown;
  createService<Req, Res>(
    typeClass: string,
    serviceName: string,
    options: RclEntityOptions,
    callback: (request: Req, response: RclServiceResponse<Res>) => void,
  ): unknown;
  /** period in nanoseconds */
  createTimer(period: bigint, callback: () => void): RclTimer;
  /** ignoreOverride: true declares the given value, whatever rclnodejs's own overrides say. */
  declareParameter(
    parameter: RclParameter,
    descriptor?: RclParameterDescriptor,
    ignoreOverride?: boolean,
  ): RclParameter;
  getParameter(name: string): RclParameter;
  spin(timeout?: number): void;
  destroy(): void;
}

/** The rclnodejs module (its default export). */
export interface RclModule {
  /** argv: the process arguments; rcl reads the ones after `--ros-args` (remaps, --params-file). */
  init(context?: undefined, argv?: string[]): Promise<void>;
  readonly Node: new (nodeName: string, namespace?: string) => RclNode;
  readonly Parameter: new (name: string, type: number, value?: unknown) => RclParameter;
  readonly ParameterDescriptor: new (
    name: string,
    type: number,
    description?: string,
    readOnly?: boolean,
  ) => RclParameterDescriptor;
  readonly QoS: { readonly profileSensorData: string; readonly profileDefault: string };
  /** Removes rclnodejs's own SIGINT handler (which shuts ROS down without telling the node). */
  removeSignalHandlers(): void;
  shutdown(): void;
  isShutdown(): boolean;
}
