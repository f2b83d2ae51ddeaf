/**
 * The car with its learner in another process (learner_mode child-process / external): the drive
 * node on the rclnodejs stand-in (real clock and timers), the real agent (TD3, the shipped VAE)
 * whose learner is a CarLearner, and a real learner process (src/transport/learner-process.ts)
 * on 127.0.0.1. The learner is killed with SIGKILL in the middle of its optimisation: the node
 * stays within its fail-safes (no drive command while the learner is lost with
 * learner_lost_action 'stop'; with 'drive-last-weights' episodes go on), reports it in
 * /diagnostics, and learns again once a learner is back (restarted from its checkpoint); the
 * replay holds every finished episode's transitions, those driven while it was away included.
 * The learner process runs learner_nice steps below the node, restarted or not.
 */
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { getPriority, tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import type { PolicyWeights } from '../../src/rl/types.js';
import { DriveLearnerClient } from '../../src/ros/learner-client.js';
import { parseDriveParams } from '../../src/ros/params.js';
import type { TriggerResponseMsg } from '../../src/ros/rclnodejs-types.js';
import { childExit, childMessage, startChild } from '../../src/transport/children.js';
import type { LinkEndpoints } from '../../src/transport/endpoint.js';
import type { LearnerProcessOptions } from '../../src/transport/learner-runner.js';
import { startCar } from './car-harness.js';
import { until } from './helpers.js';

test(
  "child-process learner killed mid-optimisation, learner_lost_action 'stop': the car is held, /diagnostics says so, the restarted learner resumes with the episode and learning goes on",
  { timeout: 300_000 },
  async () => {
    const dir = await mkdtemp(join(tmpdir(), 'car-test-'));
    const car = await startCar(dir, { learner_mode: 'child-process', learner_lost_action: 'stop' }, 3000);
    try {
      await until(() => (car.learner().state === 'ok' ? true : undefined), 'the learner to speak', 60_000);
      // learner_nice (default 10): the learner runs below the control loop's priority, restarted or not.
      const learnerPriority = Math.min(19, getPriority() + 10);
      assert.equal(getPriority(car.client.childPid!), learnerPriority);
      const steps1 = await car.episode(12);
      // Mid-optimisation: the learner says it is optimising and has done some updates.
      await until(
        () => (car.learner().optimising && car.learner().updates > 0 ? true : undefined),
        'the optimisation to run',
        60_000,
      );
      assert.equal(car.h.drive.status().optimising, true, 'the node waits for the optimisation (between-episodes)');
      assert.equal(car.learner().replaySize, steps1, "the learner's replay holds the episode");
      const firstIncarnation = car.learner().incarnation;
      process.kill(car.client.childPid!, 'SIGKILL');

      await until(() => (car.learner().state === 'lost' ? true : undefined), 'the learner to count as lost', 10_000);
      // The node stops waiting: the task machine is back to waiting, the optimisation counted as missed.
      await until(() => (!car.h.drive.status().optimising ? true : undefined), 'the wait to end', 10_000);
      assert.equal(car.learner().optimisationsMissed, 1);
      await until(
        () =>
          car.learnerDiagnostics().some((d) => d.level === 2 && /learner lost/.test(d.message)) ? true : undefined,
        "an ERROR 'learner lost' in /diagnostics",
        5000,
      );
      // The driver hands the car back and asks for an episode: the node holds it (fail-safe learner-lost).
      const lostFrom = car.h.commands().length;
      car.h.driver(false);
      assert.equal(car.h.ros.call<TriggerResponseMsg>('~/train').success, true);
      await until(
        () => (car.h.drive.status().failsafe?.reason === 'learner-lost' ? true : undefined),
        'the learner-lost fail-safe',
        5000,
      );
      // The supervisor restarts the learner; it resumes from its checkpoint (written before the optimisation).
      await until(
        () => (car.learner().state === 'ok' && car.learner().incarnation !== firstIncarnation ? true : undefined),
        'the restarted learner',
        120_000,
      );
      assert.equal(getPriority(car.client.childPid!), learnerPriority);
      // The commands stamped before the new learner's first word (on the node's clock, ms).
      const nodeNowMs = () => Number(car.h.nowNs()) / 1e6;
      const backAtMs = car.learner().okSinceMs! + (nodeNowMs() - Date.now());
      const whileLost = car
        .commandsFrom(lostFrom)
        .filter((c) => c.header.stamp.sec * 1e3 + c.header.stamp.nanosec / 1e6 < backAtMs);
      assert.ok(whileLost.length > 0, 'the node kept holding the car');
      assert.ok(
        whileLost.every((c) => c.drive.speed === 0),
        'no drive command while the learner was lost (learner_lost_action stop)',
      );
      assert.equal(car.learner().restarts, 1);
      assert.ok(car.learner().replaySize >= steps1, "the resumed learner's replay holds the finished episode");
      assert.equal(car.learner().replaySize, steps1, 'nothing else');
      // The fail-safe clears and the queued episode starts: learning goes on.
      await until(
        () => (car.h.drive.status().episode !== null ? true : undefined),
        'the pending episode to start',
        60_000,
      );
      assert.equal(car.h.drive.status().failsafe, null);
      const sentBefore = car.client.status().transitionsSent;
      await until(
        () => (car.client.status().transitionsSent - sentBefore >= 10 ? true : undefined),
        'ten steps of the second episode',
        60_000,
      );
      const before = car.h.episodes().length;
      car.h.driver(true);
      const steps2 = (await until(() => car.h.episodes()[before], 'the second report', 30_000)).steps as number;
      await until(
        () => (car.learner().replaySize === steps1 + steps2 ? true : undefined),
        `the learner's replay to hold both episodes (${steps1} + ${steps2})`,
        60_000,
      );
    } finally {
      await car.close();
      await rm(dir, { recursive: true, force: true });
    }
  },
);

test(
  "external learner killed mid-optimisation, learner_lost_action 'drive-last-weights': episodes go on, their transitions reach the learner when it is back",
  { timeout: 300_000 },
  async () => {
    const dir = await mkdtemp(join(tmpdir(), 'car-test-'));
    const configFile = join(dir, 'agent.json');
    await writeFile(configFile, JSON.stringify({ seed: 5, agent: { exploreEpisodes: 1, optimisationSteps: 3000 } }));
    // The launch file's learner: started here, on free loopback ports, then again on the same ones.
    const options: LearnerProcessOptions = {
      config: null,
      drive: {
        learning: { seed: 5, agent: { exploreEpisodes: 1, optimisationSteps: 3000 } },
        vehicle: { maxSteeringRad: 0.45, maxSpeedMps: 10 / 3.6, policyPeriodS: 0.1 },
        vaeModelDir: 'models/vae-sim',
      },
      endpoints: { uplink: 'tcp://127.0.0.1:*', downlink: 'tcp://127.0.0.1:*' },
      curveKeys: null,
      checkpointDir: join(dir, 'learner'),
      weightsEveryUpdates: 50,
      heartbeatMs: 250,
      actorTimeoutMs: 5000,
    };
    let learner: ChildProcess = startChild('learner-process', options);
    const ready = await childMessage<{ endpoints: LinkEndpoints }>(learner, 'ready', 120_000);
    const car = await startCar(
      dir,
      {
        learner_mode: 'external',
        learner_endpoints: `${ready.endpoints.uplink},${ready.endpoints.downlink}`,
        learner_lost_action: 'drive-last-weights',
      },
      3000,
    );
    try {
      await until(() => (car.learner().state === 'ok' ? true : undefined), 'the learner to speak', 60_000);
      const steps1 = await car.episode(12);
      await until(
        () => (car.learner().optimising && car.learner().updates > 0 ? true : undefined),
        'the optimisation to run',
        60_000,
      );
      learner.kill('SIGKILL');
      await childExit(learner, 10_000);
      await until(() => (car.learner().state === 'lost' ? true : undefined), 'the learner to count as lost', 10_000);
      await until(() => (!car.h.drive.status().optimising ? true : undefined), 'the wait to end', 10_000);
      await until(
        () =>
          car.learnerDiagnostics().some((d) => d.level === 1 && /learner lost/.test(d.message)) ? true : undefined,
        "a WARN 'learner lost' in /diagnostics",
        5000,
      );
      // A whole episode with the last weights while no learner is there: drive commands go out.
      const from = car.h.commands().length;
      const steps2 = await car.episode(10);
      assert.ok(
        car.commandsFrom(from).some((c) => c.drive.speed > 0),
        'drive-last-weights: the car drove while the learner was lost',
      );
      assert.equal(car.learner().state, 'lost');
      assert.equal(car.h.drive.status().failsafe, null, 'no fail-safe for a lost learner with drive-last-weights');
      // The learner is back (the launch file restarts it), on the same endpoints, from its checkpoint.
      learner = startChild('learner-process', { ...options, endpoints: ready.endpoints });
      await childMessage(learner, 'ready', 120_000);
      await until(
        () => (car.learner().replaySize === steps1 + steps2 ? true : undefined),
        `the learner's replay to hold the first episode and the one driven while it was away (${steps1} + ${steps2})`,
        60_000,
      );
      assert.equal(car.learner().state, 'ok');
    } finally {
      await car.close();
      learner.kill('SIGTERM');
      await childExit(learner, 30_000);
      await rm(dir, { recursive: true, force: true });
    }
  },
);

test(
  "undo across the two processes: the car's actor and the learner (networks, replay, episode count) go back to before the last training episode",
  { timeout: 300_000 },
  async () => {
    const dir = await mkdtemp(join(tmpdir(), 'car-test-'));
    const car = await startCar(dir, { learner_mode: 'child-process' }, 30);
    const weights = () => (car.agent.learner as unknown as PolicyWeights).policyWeights();
    const waiting = () =>
      car.h.drive.status().task.phase === 'waiting' && !car.h.drive.status().optimising ? true : undefined;
    try {
      await until(() => (car.learner().state === 'ok' ? true : undefined), 'the learner to speak', 60_000);
      const steps1 = await car.episode(8); // explore
      await until(waiting, 'the first optimisation', 60_000);
      const before = weights();
      // The count comes with the learner's heartbeats (every 250 ms), which may trail its 'learned' event.
      const learnedBefore = 1;
      await until(
        () => (car.learner().learningEpisodes === learnedBefore ? true : undefined),
        'the first count',
        10_000,
      );
      await car.episode(8); // train
      await until(waiting, 'the second optimisation', 60_000);
      await until(() => (car.learner().learningEpisodes === learnedBefore + 1 ? true : undefined), 'the count', 10_000);
      assert.notDeepEqual(weights(), before, 'the second optimisation changed the actor');
      const receivedBeforeUndo = car.learner().weightsReceived;
      const answer = car.h.ros.call<TriggerResponseMsg>('~/undo');
      assert.equal(answer.success, true, answer.message);
      assert.deepEqual(weights(), before, "the car's actor is undone at once");
      await until(() => (car.learner().lastUndo === 'done' ? true : undefined), "the learner's undo", 30_000);
      await until(
        () =>
          car.learner().replaySize === steps1 && car.learner().learningEpisodes === learnedBefore ? true : undefined,
        "the learner's replay and count back to the first episode",
        10_000,
      );
      // The learner broadcasts its restored actor before it says 'task-done' (one socket, in order): applied, and the same.
      assert.ok(car.learner().weightsReceived > receivedBeforeUndo, 'the learner broadcast its restored actor');
      assert.deepEqual(weights(), before, "the learner's restored actor is the car's");
    } finally {
      await car.close();
      await rm(dir, { recursive: true, force: true });
    }
  },
);

test('a non-loopback learner_endpoints without learner_curve_keys is refused with one line before anything starts; external needs endpoints', async () => {
  const settings = {
    learning: {},
    vehicle: { maxSteeringRad: 0.45, maxSpeedMps: 10 / 3.6, policyPeriodS: 0.1 },
    vaeModelDir: null,
  };
  const params = (over: Record<string, unknown>) => parseDriveParams(over, 'test parameters');
  // TEST-NET-1 (RFC 5737): never contacted, the check comes first.
  const remote = 'tcp://192.0.2.1:5755,tcp://192.0.2.1:5756';
  for (const mode of ['external', 'child-process'] as const) {
    await assert.rejects(
      DriveLearnerClient.start(params({ learner_mode: mode, learner_endpoints: remote }), settings),
      (err: Error) =>
        err.name === 'UserError' &&
        !err.message.includes('\n') &&
        /learner endpoint tcp:\/\/192\.0\.2\.1:5755 is not loopback: it needs CURVE keys/.test(err.message),
    );
  }
  // The parameters themselves (daydrive drive --check says so before anything starts).
  assert.throws(
    () => params({ learner_mode: 'external' }),
    /field learner_endpoints: learner_mode 'external' needs learner_endpoints/,
  );
  assert.throws(
    () => params({ learner_endpoints: 'tcp://127.0.0.1' }),
    /field learner_endpoints: learner_endpoints must be two endpoints/,
  );
  assert.equal(
    await DriveLearnerClient.start(params({ learner_mode: 'in-process' }), settings),
    null,
    'in-process: no link',
  );
});

test(
  'learner_optimise continuous: the node does not wait for the optimisation; the next episode drives with the weights broadcast meanwhile',
  { timeout: 300_000 },
  async () => {
    const dir = await mkdtemp(join(tmpdir(), 'car-test-'));
    const car = await startCar(dir, { learner_mode: 'child-process', learner_optimise: 'continuous' }, 3000);
    try {
      await until(() => (car.learner().state === 'ok' ? true : undefined), 'the learner to speak', 60_000);
      await car.episode(8);
      // The task machine is back to waiting while the learner is still optimising.
      await until(
        () => (car.h.drive.status().task.phase === 'waiting' && car.learner().optimising ? true : undefined),
        'waiting while the learner optimises',
        60_000,
      );
      const received = car.learner().weightsReceived;
      car.h.driver(false);
      assert.equal(car.h.ros.call<TriggerResponseMsg>('~/train').success, true);
      await until(() => (car.h.drive.status().episode === 2 ? true : undefined), 'the second episode', 30_000);
      // Broadcasts every 50 updates reach the car during its episode (applied to the actor it drives with).
      await until(
        () => (car.h.drive.status().episode === 2 && car.learner().weightsReceived > received + 1 ? true : undefined),
        'new weights during the episode',
        60_000,
      );
      assert.equal(car.learner().optimisationsMissed, 0);
    } finally {
      await car.close();
      await rm(dir, { recursive: true, force: true });
    }
  },
);

test(
  "a child learner without a checkpoint of its own starts from the node's in-process checkpoint: switching learner_mode keeps the replay",
  { timeout: 300_000 },
  async () => {
    const dir = await mkdtemp(join(tmpdir(), 'car-test-'));
    try {
      // A car that drove in-process: its checkpoint holds the learner with its replay.
      const inProcess = await startCar(dir, { learner_mode: 'in-process' }, 5);
      let replay: number;
      try {
        await inProcess.episode(8);
        await until(
          () => (inProcess.h.drive.status().task.phase === 'waiting' ? true : undefined),
          'the optimisation',
          60_000,
        );
        replay = inProcess.agent.learner.replaySize();
        assert.ok(replay >= 8);
        await inProcess.agent.save(join(dir, 'checkpoint'));
      } finally {
        await inProcess.close();
      }
      const child = await startCar(dir, { learner_mode: 'child-process' }, 5);
      try {
        await until(
          () => (child.learner().replaySize === replay ? true : undefined),
          `the learner's replay of ${replay}`,
          60_000,
        );
      } finally {
        await child.close();
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  },
);
