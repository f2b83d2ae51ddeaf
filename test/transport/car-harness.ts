/**
 * The car of test/transport's learner tests: the drive node on the rclnodejs stand-in (real clock
 * and timers), the real agent (TD3, the shipped VAE) built as `daydrive drive` builds it, its
 * learner where `learner_mode` says.
 */
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { initBackend } from '../../src/core/backend.js';
import type { DrivingAgent } from '../../src/agent/index.js';
import { DriveLearnerClient } from '../../src/ros/learner-client.js';
import type { DriveStatus } from '../../src/ros/node.js';
import { parseDriveParams } from '../../src/ros/params.js';
import type {
  AckermannDriveStampedMsg,
  DiagnosticArrayMsg,
  TriggerResponseMsg,
} from '../../src/ros/rclnodejs-types.js';
import { buildDriveAgent } from '../../src/ros/run.js';
import { compressedMsg, jpegBytes, makeHarness, odometryMsg, testImage, type Harness } from '../ros/helpers.js';
import { until } from './helpers.js';

const CAMERA_PERIOD_MS = 33;

export interface Car {
  readonly h: Harness;
  readonly agent: DrivingAgent;
  readonly client: DriveLearnerClient;
  learner(): NonNullable<DriveStatus['learner']>;
  /** Drives one episode of at least `steps` policy steps (the driver hands over, a command, the driver takes over); its steps. */
  episode(steps: number, command?: 'train'): Promise<number>;
  /** Commands published after index `from`. */
  commandsFrom(from: number): AckermannDriveStampedMsg[];
  learnerDiagnostics(): { level: number; message: string }[];
  close(): Promise<void>;
}

/** The cars' agent configuration (config_file): TD3 on the shipped VAE, seed 5, one exploration episode. */
export async function writeAgentConfig(dir: string, optimisationSteps: number): Promise<string> {
  const configFile = join(dir, 'agent.json');
  await writeFile(configFile, JSON.stringify({ seed: 5, agent: { exploreEpisodes: 1, optimisationSteps } }));
  return configFile;
}

/**
 * A drive node on the rclnodejs stand-in with a JPEG camera at 30 Hz and odometry, its agent built
 * as `daydrive drive` builds it (config_file `<dir>/agent.json`, checkpoint_dir `<dir>/checkpoint`).
 */
export async function startCar(
  dir: string,
  overrides: Record<string, unknown>,
  optimisationSteps: number,
): Promise<Car> {
  await initBackend();
  const configFile = await writeAgentConfig(dir, optimisationSteps);
  const all = {
    config_file: configFile,
    checkpoint_dir: join(dir, 'checkpoint'),
    camera_type: 'sensor_msgs/msg/CompressedImage',
    camera_topic: '/camera/image_raw/compressed',
    // The fail-safes under test are the learner's; the loaded test machine must not trip the others.
    max_frame_age_s: 5.0,
    speed_timeout_s: 5.0,
    safety_driver_timeout_s: 5.0,
    status_rate_hz: 10,
    learner_timeout_s: 1.0,
    ...overrides,
  };
  const params = parseDriveParams(all, 'test parameters');
  const parts = await buildDriveAgent(params, (settings) => DriveLearnerClient.start(params, settings));
  // Null in-process (the last test's first car).
  const client = parts.learnerClient as DriveLearnerClient;
  const sent = () => (parts.learnerClient ? client.status().transitionsSent : parts.agent.learner.replaySize());
  const h = makeHarness(parts.agent, all, 'real', parts.learnerClient ? { learnerLink: client } : {});
  const jpeg = await jpegBytes(testImage(160, 120));
  const camera = setInterval(() => {
    h.ros.deliver(h.params.camera_topic, compressedMsg(jpeg, h.nowNs()));
    h.ros.deliver(h.params.speed_topic, odometryMsg(1.5, h.nowNs()));
  }, CAMERA_PERIOD_MS);
  const status = () => h.drive.status();
  return {
    h,
    agent: parts.agent,
    client,
    learner: () => status().learner!,
    async episode(steps) {
      const before = h.episodes().length;
      h.driver(false);
      const answer = h.ros.call<TriggerResponseMsg>('~/train');
      assert.equal(answer.success, true, answer.message);
      await until(() => (status().episode !== null ? true : undefined), 'the episode to start', 60_000);
      const sentAt = sent();
      await until(() => (sent() - sentAt >= steps ? true : undefined), `${steps} steps of the episode`, 60_000);
      h.driver(true);
      const report = await until(() => h.episodes()[before], 'the episode report', 30_000);
      return report.steps as number;
    },
    commandsFrom: (from) => h.commands().slice(from),
    learnerDiagnostics: () =>
      h.ros
        .published<DiagnosticArrayMsg>('/diagnostics')
        .flatMap((a) => a.status)
        .filter((s) => s.name === 'daydrive: learner')
        .map((s) => ({ level: s.level, message: s.message })),
    async close() {
      clearInterval(camera);
      h.drive.shutdown('test');
      await h.drive.idle({ optimisation: false });
      await parts.learnerClient?.close();
      parts.agent.dispose();
      parts.encoder?.dispose();
    },
  };
}
