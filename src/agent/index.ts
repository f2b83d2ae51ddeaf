/** The driving agent: what the simulator loop and the ROS node use. */
export { DrivingAgent, type AgentParts } from './agent.js';
export {
  EpisodeStepper,
  NonFiniteActionError,
  type DriveController,
  type EpisodeSummary,
  type StepOutcome,
} from './episode.js';
export {
  createAgentFromSettings,
  createDrivingAgent,
  type DrivingAgentOptions,
  type DrivingLearningSettings,
} from './create.js';
export {
  agentConfigSchema,
  parseAgentConfig,
  type AgentConfig,
  type AgentConfigInput,
  type VehicleScale,
} from './config.js';
export { ActionShaper, limitSteeringChange, worldSpeedAction, type ShapedAction } from './actions.js';
export {
  StateBuilder,
  CommandHistory,
  LatentFeatures,
  PixelFeatures,
  vehicleFeatures,
  type FrameFeatures,
} from './state.js';
export {
  TaskStateMachine,
  taskTransition,
  isLearningMode,
  INITIAL_TASK_STATE,
  TASK_COMMANDS,
  type TaskCommand,
  type TaskEffect,
  type TaskEvent,
  type TaskPhase,
  type TaskState,
  type TaskStep,
  type EpisodeMode,
} from './task.js';
