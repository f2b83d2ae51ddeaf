/**
 * Simulator in the loop: the drive node on the rclnodejs stand-in is fed camera messages rendered
 * by DrivingSimEnv and encoded as a camera driver would (raw bgr8 with padded rows, or JPEG), the
 * car's speed and steering; its Ackermann commands are applied to the simulated car; the
 * simulated safety driver raises the intervention topic. A scripted driver (pure pursuit) keeps
 * the car in its lane through the node with either encoding, acting on the frames the node
 * decoded, and the learning agent runs its explore -> optimise -> next episode cycle.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { initBackend } from '../../src/core/backend.js';
import type { DrivingObservation, RgbImage } from '../../src/core/env.js';
import { createDrivingAgent, parseAgentConfig } from '../../src/agent/index.js';
import type { DriveController } from '../../src/agent/index.js';
import type { TriggerResponseMsg } from '../../src/ros/rclnodejs-types.js';
import { DrivingSimEnv, maxSetpointMps, purePursuitForEnv, type SimDrivingInfo } from '../../sim/index.js';
import {
  compressedMsg,
  gridMeanEncoder,
  jpegBytes,
  makeHarness,
  odometryMsg,
  rawImageMsg,
  ScriptedController,
  type Harness,
} from './helpers.js';

const CAMERA = { widthPx: 320, heightPx: 240 };
const PERIOD_MS = 100;

function simEnv(): DrivingSimEnv {
  return new DrivingSimEnv({ camera: CAMERA, road: { routeLengthM: 400 } });
}

function nodeParams(env: DrivingSimEnv, encoding: 'raw' | 'jpeg'): Record<string, unknown> {
  return {
    camera_type: encoding === 'raw' ? 'sensor_msgs/msg/Image' : 'sensor_msgs/msg/CompressedImage',
    camera_topic: encoding === 'raw' ? '/camera/image_raw' : '/camera/image_raw/compressed',
    camera_width_px: CAMERA.widthPx,
    camera_height_px: CAMERA.heightPx,
    steering_topic: '/vehicle/steering_rad',
    max_steering_rad: env.config.vehicle.maxSteeringRad,
    max_speed_mps: maxSetpointMps(env.config.vehicle),
  };
}

interface LoopStep {
  readonly commanded: boolean;
  readonly info: SimDrivingInfo | null;
}

/**
 * One policy period of the loop: the camera driver publishes the current view and the car its
 * measurements, the node's timer fires, and the command it published (if any) moves the car.
 * The simulated safety driver's intervention is published on the safety topic.
 */
async function loopStep(
  h: Harness,
  env: DrivingSimEnv,
  obs: { current: DrivingObservation },
  encoding: 'raw' | 'jpeg',
): Promise<LoopStep> {
  const stamp = h.nowNs();
  const image = obs.current.image;
  if (encoding === 'raw') h.ros.deliver(h.params.camera_topic, rawImageMsg(image, stamp, 'bgr8', 64));
  else h.ros.deliver(h.params.camera_topic, compressedMsg(await jpegBytes(image), stamp));
  h.ros.deliver(h.params.speed_topic, odometryMsg(obs.current.speedMps, stamp));
  h.ros.deliver(h.params.steering_topic, { data: obs.current.steeringRad });
  await h.drive.idle();
  const before = h.commands().length;
  h.ros.advance(PERIOD_MS);
  await h.drive.idle();
  const cmd = h.commands()[before];
  if (!cmd || cmd.drive.speed === 0) return { commanded: false, info: null };
  const action = [
    cmd.drive.steering_angle / h.params.max_steering_rad,
    (2 * cmd.drive.speed) / h.params.max_speed_mps - 1,
  ];
  const step = env.stepSync(action);
  obs.current = step.observation;
  if (step.info.intervention) h.driver(true);
  return { commanded: true, info: step.info };
}

function startEpisode(h: Harness, command: 'train' | 'test'): void {
  h.driver(false);
  const answer = h.ros.call<TriggerResponseMsg>(`~/${command}`);
  assert.equal(answer.success, true, answer.message);
}

/** Mean absolute difference of two images' bytes (a JPEG round trip at quality 90 stays within a few levels). */
function meanAbsDiff(a: RgbImage, b: RgbImage): number {
  assert.equal(a.data.length, b.data.length);
  let sum = 0;
  for (let i = 0; i < a.data.length; i++) sum += Math.abs(a.data[i]! - b.data[i]!);
  return sum / a.data.length;
}

for (const encoding of ['raw', 'jpeg'] as const) {
  const what = encoding === 'raw' ? 'raw bgr8 frames (padded rows)' : 'JPEG frames (CompressedImage)';
  test(`${what}: pure pursuit through the node keeps the car in its lane; an intervention ends the episode`, async () => {
    const env = simEnv();
    const obs = { current: env.resetSync({ seed: 5 }) };
    let veer = false;
    // The frame each command was computed on, against the one the camera sent for that period.
    const frameDiffs: number[] = [];
    const ctrl = new ScriptedController((o) => {
      frameDiffs.push(meanAbsDiff(o.image, obs.current.image));
      return veer ? [1, 1] : purePursuitForEnv(env, { speedAction: 1 });
    });
    const h = makeHarness(ctrl, nodeParams(env, encoding));
    startEpisode(h, 'test');
    const startS = env.distanceAlongRouteM;
    let maxCrossTrackM = 0;
    for (let i = 0; i < 120; i++) {
      const s = await loopStep(h, env, obs, encoding);
      assert.ok(s.commanded, `no drive command at step ${i}`);
      assert.equal(s.info!.intervention, null, `intervention at step ${i}: ${String(s.info!.intervention)}`);
      maxCrossTrackM = Math.max(maxCrossTrackM, Math.abs(s.info!.crossTrackErrorM));
    }
    assert.ok(maxCrossTrackM < 0.5, `left the lane centre by ${maxCrossTrackM} m`);
    const drivenM = env.distanceAlongRouteM - startS;
    assert.ok(drivenM > 20, `drove ${drivenM} m`);
    // The node acted on the frame of the period it was sent in: exactly (raw) or as decoded (JPEG).
    const worstDiff = Math.max(...frameDiffs);
    if (encoding === 'raw') assert.equal(worstDiff, 0);
    else assert.ok(worstDiff < 6, `decoded JPEG differs from the rendered frame by ${worstDiff} levels on average`);
    assert.equal(h.drive.status().camera.bad, 0);

    // The scripted driver now steers hard left: the simulated safety driver takes over.
    veer = true;
    let intervention: string | null = null;
    for (let i = 0; i < 60 && intervention === null; i++)
      intervention = (await loopStep(h, env, obs, encoding)).info?.intervention ?? null;
    assert.ok(intervention !== null, 'the simulated safety driver never intervened');
    const sent = h.commands().length;
    for (let i = 0; i < 3; i++) assert.equal((await loopStep(h, env, obs, encoding)).commanded, false);
    assert.equal(h.commands().length, sent, 'a drive command went out after the intervention');
    const report = h.episodes().at(-1)!;
    assert.equal(report.endedBy, 'driver');
    assert.equal(report.mode, 'test');
    // The episode's return (measured speed x time) is the distance the car drove along the road.
    const totalM = env.distanceAlongRouteM - startS;
    assert.ok(
      Math.abs((report.distanceM as number) - totalM) < 0.15 * totalM,
      `return ${String(report.distanceM)} m vs ${totalM} m driven`,
    );
    assert.equal(ctrl.observed.at(-1)?.terminated, true);

    // The driver puts the car back at the lane centre and hands over; the next task command drives again.
    obs.current = env.resetSync({ continueRoute: true });
    veer = false;
    startEpisode(h, 'test');
    for (let i = 0; i < 20; i++) {
      const s = await loopStep(h, env, obs, encoding);
      assert.ok(s.commanded && s.info!.intervention === null);
    }
    assert.equal(ctrl.begins, 2);
  });
}

test('JPEG frames: the learning agent explores until the simulated driver intervenes, optimises during the reset, then trains again', async () => {
  await initBackend();
  const env = simEnv();
  const obs = { current: env.resetSync({ seed: 8 }) };
  const agent = createDrivingAgent({
    agent: parseAgentConfig({ exploreEpisodes: 1, optimisationSteps: 5 }),
    algo: 'ddpg',
    learner: { batchSize: 8 },
    exploration: { type: 'ou' },
    // A stand-in for the VAE: the learning cycle, not its quality, is tested here.
    encoder: gridMeanEncoder(12),
    vehicle: {
      maxSteeringRad: env.config.vehicle.maxSteeringRad,
      maxSpeedMps: maxSetpointMps(env.config.vehicle),
      policyPeriodS: 1 / env.config.vehicle.policyHz,
    },
    seed: 2,
  });
  const controller: DriveController = agent;
  const h = makeHarness(controller, nodeParams(env, 'jpeg'));
  try {
    startEpisode(h, 'train');
    let intervention: string | null = null;
    let steps = 0;
    for (; steps < 300 && intervention === null; steps++)
      intervention = (await loopStep(h, env, obs, 'jpeg')).info?.intervention ?? null;
    assert.ok(intervention !== null, 'random exploration never left the lane in 300 steps');
    // The next period ends the episode and starts the optimisation while the driver resets the car.
    await loopStep(h, env, obs, 'jpeg');
    await h.drive.idle();
    const report = h.episodes().at(-1)!;
    assert.equal(report.mode, 'explore');
    assert.equal(report.endedBy, 'driver');
    assert.equal(report.steps, steps);
    assert.equal(agent.taskState.learningEpisodes, 1);
    assert.ok(agent.learner.replaySize() >= steps);
    assert.equal(agent.taskState.phase, 'waiting');
    obs.current = env.resetSync({ continueRoute: true });
    startEpisode(h, 'train');
    for (let i = 0; i < 5; i++)
      assert.ok((await loopStep(h, env, obs, 'jpeg')).commanded, `no command at step ${i} of the second episode`);
    assert.equal(agent.taskState.mode, 'train');
    assert.equal(h.drive.status().episode, 2);
    const lat = h.drive.status().latency.processing;
    assert.ok(lat.count > 0 && Number.isFinite(lat.p50Ms));
  } finally {
    agent.dispose();
  }
});
