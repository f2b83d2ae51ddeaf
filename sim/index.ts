/**
 * daydrive's procedural-road simulator: the public API (keep stable; see docs/sim.md).
 *
 *   const env = new DrivingSimEnv({ camera: { widthPx: 160, heightPx: 120 } }); // any partial SimConfig
 *   let obs = await env.reset({ seed: 7 });        // road of seed 7, car at the start, lane centre
 *   const r = await env.step([steer, speed]);      // both in [-1, 1] (clipped); NaN/length -> RangeError
 *   r.observation.image                            // RgbImage, Uint8 HWC, fresh buffer per step
 *   new DrivingSimEnv(config, { modelInput: { skyCropFraction: 0.4, width: 64, height: 64 } })
 *     .stepSync(a).observation.modelInput          // the agent's view rendered at the model input (image 0x0)
 *   r.info.crossTrackErrorM / headingErrorRad / distanceAlongRouteM / routeCompletion / intervention
 *   r.reward                                       // metres gained along the centre line this step
 *   await env.reset({ continueRoute: true });      // back at the lane centre where it stopped
 *   env.resetSync / env.stepSync                   // the same, synchronous (faster in tight loops)
 *
 * Also: env.road (Road: routeLengthM, pointAt, project), env.pose (CarPose), env.drivenPath,
 * env.routeLengthM, env.currentInfo() (info of the reset frame), env.renderAt(w, h) for any
 * resolution (env.renderAt(w, h, viewpoint): an earlier env.viewpoint on the same road, the same
 * frame); purePursuitForEnv(env) for a scripted driver; topDownMapPng(road, {path, interventions}) and rgbToPng(image) for pictures;
 * parseSimConfig / simConfigSchema for configuration (errors name the field).
 */
export {
  DrivingSimEnv,
  modelInputWindow,
  type SimDrivingInfo,
  type CarPose,
  type Viewpoint,
  type DrivingSimEnvOptions,
} from './driving-env.js';
export {
  simConfigSchema,
  parseSimConfig,
  maxSetpointMps,
  type SimConfig,
  type SimConfigInput,
  type RoadConfig,
  type AppearanceConfig,
  type VehicleConfig,
  type CameraConfig,
  type SafetyConfig,
  type EnvConfig,
} from './config.js';
export {
  Road,
  generateRoad,
  straightRoad,
  circleRoad,
  newProjection,
  wrapAngle,
  type RoadProjection,
  type RoadSegment,
  type Pose2D,
} from './road.js';
export { drawAppearance, type Appearance } from './appearance.js';
export { Camera, type CameraIntrinsics, type CameraWindow } from './camera.js';
export { Vehicle, type VehicleState, type VehicleCommand } from './vehicle.js';
export { SafetyDriver, type SafetyInputs } from './safety-driver.js';
export { purePursuitAction, purePursuitForEnv, type PurePursuitOptions } from './pure-pursuit.js';
export { topDownMapPng, rgbToPng, type MapPoint, type TopDownOptions } from './topdown.js';
export {
  LOOK_LEVELS,
  GLARE_BELOW_DEG,
  classifyLook,
  lookOfRoad,
  selectBalancedRoads,
  BalancedRoadSequence,
  BALANCED_LOOKAHEAD,
  type Look,
  type LookFactor,
} from './looks.js';
