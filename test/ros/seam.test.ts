/**
 * One seam: the simulator's training loop (driveEpisode) and the drive node run the same agent
 * through the same EpisodeStepper, action mapping and reward. The same learning agent (same
 * seed) drives one training episode on the same road twice: once in the simulator's loop, once
 * through the node on the rclnodejs stand-in, fed the simulator's frames as raw rgb8 camera
 * messages with its speed and steering, the safety driver raised at the simulator's
 * intervention. The decisions must be the same, bit for bit, step for step, as must the end of
 * the episode; the rewards are each world's odometer (the simulator's along the lane centre line,
 * the node's from the car's speed), which agree to within the speed's change over a step.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { initBackend } from '../../src/core/backend.js';
import { drivingCommand, type DrivingObservation } from '../../src/core/env.js';
import {
  createDrivingAgent,
  parseAgentConfig,
  type DriveController,
  type DrivingAgent,
} from '../../src/agent/index.js';
import { driveEpisode } from '../../src/agent/training.js';
import { DrivingSimEnv, maxSetpointMps } from '../../sim/index.js';
import { gridMeanEncoder, makeHarness, odometryMsg, rawImageMsg } from './helpers.js';

const ROAD_SEED = 5;
const PERIOD_MS = 100;

function simEnv(): DrivingSimEnv {
  return new DrivingSimEnv({ camera: { widthPx: 160, heightPx: 120 }, road: { routeLengthM: 400 } });
}

function learningAgent(env: DrivingSimEnv): DrivingAgent {
  return createDrivingAgent({
    agent: parseAgentConfig({ exploreEpisodes: 0, optimisationSteps: 5 }),
    algo: 'td3',
    learner: { batchSize: 8 },
    exploration: { type: 'ou' },
    // A stand-in for the VAE with no model input of its own: both worlds hand it the same RGB frame.
    encoder: gridMeanEncoder(12),
    vehicle: {
      maxSteeringRad: env.config.vehicle.maxSteeringRad,
      maxSpeedMps: maxSetpointMps(env.config.vehicle),
      policyPeriodS: 1 / env.config.vehicle.policyHz,
    },
    seed: 7,
  });
}

interface Recorded {
  readonly actions: number[][];
  readonly outcomes: { reward: number; terminated: boolean }[];
  readonly states: { speedMps: number; steeringRad: number; imageBytes: number }[];
}

/** The agent as a controller, every decision and outcome recorded on the way through. */
function recording(agent: DrivingAgent): { controller: DriveController; seen: Recorded } {
  const seen: Recorded = { actions: [], outcomes: [], states: [] };
  const note = (obs: DrivingObservation): void => {
    let sum = 0;
    for (const v of obs.image.data) sum += v;
    seen.states.push({ speedMps: obs.speedMps, steeringRad: obs.steeringRad, imageBytes: sum });
  };
  const controller: DriveController = {
    get taskState() {
      return agent.taskState;
    },
    get optimisationDue() {
      return agent.optimisationDue;
    },
    modelInput: agent.modelInput,
    command: (c) => agent.command(c),
    begin: (obs) => {
      note(obs);
      return agent.begin(obs);
    },
    act: () => {
      const action = agent.act();
      seen.actions.push(Array.from(action));
      return action;
    },
    observe: (reward, next, terminated) => {
      note(next);
      seen.outcomes.push({ reward, terminated });
      return agent.observe(reward, next, terminated);
    },
    endEpisode: () => agent.endEpisode(),
    optimise: (options) => agent.optimise(options),
  };
  return { controller, seen };
}

test('the same agent and seed decide the same in the simulator loop and through the node fed by the simulator', async () => {
  await initBackend();

  // The simulator's loop.
  const simWorld = simEnv();
  const simAgent = learningAgent(simWorld);
  const sim = recording(simAgent);
  try {
    assert.equal(simAgent.command('train').refused, undefined);
    const outcome = await driveEpisode(simWorld, sim.controller, { seed: ROAD_SEED });
    assert.ok(outcome.intervention !== null, 'the untrained agent should leave the lane (the episode ends terminated)');
    assert.ok(outcome.steps >= 5, `only ${outcome.steps} steps`);
  } finally {
    simAgent.dispose();
  }

  // The node, fed by a second simulator on the same road.
  const carWorld = simEnv();
  const nodeAgent = learningAgent(carWorld);
  const car = recording(nodeAgent);
  const limits = {
    maxSteeringRad: carWorld.config.vehicle.maxSteeringRad,
    maxSpeedMps: maxSetpointMps(carWorld.config.vehicle),
  };
  const h = makeHarness(car.controller, {
    camera_type: 'sensor_msgs/msg/Image',
    camera_topic: '/camera/image_raw',
    camera_width_px: 160,
    camera_height_px: 120,
    steering_topic: '/vehicle/steering_rad',
    max_steering_rad: limits.maxSteeringRad,
    max_speed_mps: limits.maxSpeedMps,
  });
  try {
    let obs = carWorld.resetSync({ seed: ROAD_SEED });
    h.driver(false);
    assert.equal(h.drive.command('train').success, true);
    let intervened = false;
    for (let i = 0; i < 1000 && h.episodes().length === 0; i++) {
      const stamp = h.nowNs();
      h.ros.deliver(h.params.camera_topic, rawImageMsg(obs.image, stamp, 'rgb8'));
      h.ros.deliver(h.params.speed_topic, odometryMsg(obs.speedMps, stamp));
      h.ros.deliver(h.params.steering_topic, { data: obs.steeringRad });
      const decided = car.seen.actions.length;
      const sent = h.commands().length;
      h.ros.advance(PERIOD_MS);
      await h.drive.idle();
      if (intervened) continue; // the driver has the car: the node ends the episode, sends nothing
      assert.equal(car.seen.actions.length, decided + 1, `no decision at period ${i}`);
      // The action the agent decided moves the simulated car; the node published its one mapping.
      const action = car.seen.actions.at(-1)!;
      const command = h.commands()[sent]!;
      const expected = drivingCommand(action, limits);
      assert.equal(command.drive.steering_angle, expected.steeringRad);
      assert.equal(command.drive.speed, expected.speedMps);
      const step = carWorld.stepSync(action);
      obs = step.observation;
      if (step.terminated) {
        intervened = true;
        h.driver(true);
      }
    }
    assert.equal(h.episodes().length, 1);
    assert.equal(h.episodes()[0]!.endedBy, 'driver');
  } finally {
    h.drive.shutdown('test finished');
    nodeAgent.dispose();
  }

  // The same observations, the same decisions, the same ending.
  assert.deepEqual(car.seen.states, sim.seen.states, 'the node handed the agent other observations');
  assert.deepEqual(car.seen.actions, sim.seen.actions, 'the node and the simulator loop decided differently');
  assert.deepEqual(
    car.seen.outcomes.map((o) => o.terminated),
    sim.seen.outcomes.map((o) => o.terminated),
  );
  assert.equal(car.seen.outcomes.at(-1)!.terminated, true);
  // Rewards: each world's odometer over the same steps.
  const simReturn = sim.seen.outcomes.reduce((s, o) => s + o.reward, 0);
  const carReturn = car.seen.outcomes.reduce((s, o) => s + o.reward, 0);
  assert.ok(simReturn > 1, `the simulated car drove ${simReturn} m`);
  assert.ok(
    Math.abs(carReturn - simReturn) < 0.2 * simReturn,
    `return ${carReturn} m through the node against ${simReturn} m in the simulator`,
  );
});
