/**
 * The ROS 2 message definitions a bag of daydrive's topics carries (as `ros2 bag record` stores
 * them in an MCAP schema record: the type's .msg text, then each dependency after a line of 80
 * '=' and `MSG: pkg/Type`), and the topic names the simulator's recorder uses.
 */

export const BAG_TOPICS = {
  camera: '/camera/image_raw/compressed',
  odometry: '/odom',
  command: '/ackermann_cmd',
} as const;

export const BAG_TYPES = {
  compressedImage: 'sensor_msgs/msg/CompressedImage',
  odometry: 'nav_msgs/msg/Odometry',
  ackermannStamped: 'ackermann_msgs/msg/AckermannDriveStamped',
} as const;

const SEP = '\n================================================================================\n';

const HEADER_DEPS = [
  'MSG: std_msgs/Header\nbuiltin_interfaces/Time stamp\nstring frame_id',
  'MSG: builtin_interfaces/Time\nint32 sec\nuint32 nanosec',
];

const def = (body: string, deps: readonly string[]): string => [body, ...deps].join(SEP) + '\n';

export const MESSAGE_DEFINITIONS: Readonly<Record<string, string>> = {
  [BAG_TYPES.compressedImage]: def('std_msgs/Header header\nstring format\nuint8[] data', HEADER_DEPS),
  [BAG_TYPES.odometry]: def(
    'std_msgs/Header header\nstring child_frame_id\ngeometry_msgs/PoseWithCovariance pose\ngeometry_msgs/TwistWithCovariance twist',
    [
      ...HEADER_DEPS,
      'MSG: geometry_msgs/PoseWithCovariance\nPose pose\nfloat64[36] covariance',
      'MSG: geometry_msgs/Pose\nPoint position\nQuaternion orientation',
      'MSG: geometry_msgs/Point\nfloat64 x\nfloat64 y\nfloat64 z',
      'MSG: geometry_msgs/Quaternion\nfloat64 x 0\nfloat64 y 0\nfloat64 z 0\nfloat64 w 1',
      'MSG: geometry_msgs/TwistWithCovariance\nTwist twist\nfloat64[36] covariance',
      'MSG: geometry_msgs/Twist\nVector3  linear\nVector3  angular',
      'MSG: geometry_msgs/Vector3\nfloat64 x\nfloat64 y\nfloat64 z',
    ],
  ),
  [BAG_TYPES.ackermannStamped]: def('std_msgs/Header header\nAckermannDrive drive', [
    ...HEADER_DEPS,
    'MSG: ackermann_msgs/AckermannDrive\nfloat32 steering_angle\nfloat32 steering_angle_velocity\nfloat32 speed\nfloat32 acceleration\nfloat32 jerk',
  ]),
};

interface Stamp {
  readonly sec: number;
  readonly nanosec: number;
}

export interface StampedHeader {
  readonly stamp: Stamp;
  readonly frame_id: string;
}

export interface OdometryMessage {
  readonly header: StampedHeader;
  readonly child_frame_id: string;
  readonly pose: {
    readonly pose: {
      readonly position: { x: number; y: number; z: number };
      readonly orientation: { x: number; y: number; z: number; w: number };
    };
    readonly covariance: Float64Array | number[];
  };
  readonly twist: {
    readonly twist: {
      readonly linear: { x: number; y: number; z: number };
      readonly angular: { x: number; y: number; z: number };
    };
    readonly covariance: Float64Array | number[];
  };
}

export interface AckermannStampedMessage {
  readonly header: StampedHeader;
  readonly drive: {
    steering_angle: number;
    steering_angle_velocity: number;
    speed: number;
    acceleration: number;
    jerk: number;
  };
}

export function stampOf(ns: bigint): Stamp {
  return { sec: Number(ns / 1_000_000_000n), nanosec: Number(ns % 1_000_000_000n) };
}

/** Yaw (rotation about z, radians) of a quaternion (REP 103: x forward, z up). */
export function yawOfQuaternion(q: { x: number; y: number; z: number; w: number }): number {
  return Math.atan2(2 * (q.w * q.z + q.x * q.y), 1 - 2 * (q.y * q.y + q.z * q.z));
}
