import { strict as assert } from 'node:assert';
import { test } from 'node:test';
import type { FrameRecord } from '../../src/vision/dataset.js';
import { futureOffset, odometryTargets, poseAt, type PoseSample } from '../../src/vision/odometry-targets.js';

const close = (a: number, b: number, tol = 1e-9) => assert.ok(Math.abs(a - b) <= tol, `${a} != ${b}`);

test('odometry targets of a hand-worked trajectory: a left circle of 10 m at 5 m/s, starting heading north', () => {
  // Centre (-10, 0); at t the car is at angle 5t/10 = t/2 rad round it: x = -10 + 10 cos(t/2), y = 10 sin(t/2), yaw = pi/2 + t/2.
  const samples: PoseSample[] = Array.from({ length: 9 }, (_, k) => {
    const t = k * 0.5;
    return { tS: t, xM: -10 + 10 * Math.cos(t / 2), yM: 10 * Math.sin(t / 2), yawRad: Math.PI / 2 + t / 2 };
  });
  // After 1 s: 5 m of arc, 0.5 rad: forward 10 sin 0.5 = 4.794 m, left 10 (1 - cos 0.5) = 1.2242 m, heading +0.5 rad.
  const [lateral1, heading1] = futureOffset(samples, 0, 1)!;
  close(lateral1, 10 * (1 - Math.cos(0.5)));
  close(lateral1, 1.2242, 1e-4);
  close(heading1, 0.5);
  // After 2 s from t = 1 s (sample 2): 1 rad of arc: left 10 (1 - cos 1) = 4.597 m, heading +1 rad (the frame turns with the car).
  const [lateral2, heading2] = futureOffset(samples, 2, 2)!;
  close(lateral2, 4.597, 1e-4);
  close(heading2, 1);
  // Past the last pose: none.
  assert.equal(futureOffset(samples, 7, 1), null);
});

test('poses between samples are interpolated; yaw across +-pi takes the short way', () => {
  const straight: PoseSample[] = [
    { tS: 0, xM: 0, yM: 0, yawRad: 0 },
    { tS: 0.3, xM: 1.5, yM: 0, yawRad: 0 },
    { tS: 0.9, xM: 4.5, yM: 0, yawRad: 0 },
    { tS: 1.2, xM: 6, yM: 0, yawRad: 0 },
  ];
  close(poseAt(straight, 1)!.xM, 5);
  close(futureOffset(straight, 0, 1)![0], 0);
  const turning: PoseSample[] = [
    { tS: 0, xM: 0, yM: 0, yawRad: Math.PI - 0.1 },
    { tS: 1, xM: 0, yM: 0, yawRad: -Math.PI + 0.1 },
  ];
  close(Math.abs(poseAt(turning, 0.5)!.yawRad), Math.PI, 1e-9);
  close(futureOffset(turning, 0, 1)![1], 0.2);
});

test('odometryTargets: per segment, in time order, NaN where the future or the command is missing, null without odometry', () => {
  const rec = (episode: number, tS: number, x: number, steer?: number): FrameRecord => ({
    file: '',
    episode,
    step: 0,
    timestampNs: String(BigInt(Math.round(tS * 1e9)) + 1_767_225_600_000_000_000n),
    odomXM: x,
    odomYM: 0.1 * x * x,
    odomYawRad: 0,
    ...(steer !== undefined ? { commandSteeringRad: steer } : {}),
  });
  // Segment 0 listed out of order; segment 1 too short for a 1 s future.
  const records = [rec(0, 1, 5, 0.1), rec(0, 0, 0, 0.2), rec(0, 2, 10), rec(1, 0, 100, 0.3)];
  const v = odometryTargets(records)!;
  // Frame at t=0 (x 0, yaw 0): at t=1 the car is at (5, 2.5): lateral 2.5; at t=2 (10, 10): lateral 10.
  assert.deepEqual([...v.subarray(4, 8)], [2.5, 10, 0, 0.2]);
  // Frame at t=1: 1 s later (10, 10) from (5, 2.5): lateral 7.5; no 2 s future.
  assert.equal(v[0], 7.5);
  assert.ok(Number.isNaN(v[1]!) && Number.isNaN(v[2]!));
  assert.equal(v[3], 0.1);
  assert.ok(Number.isNaN(v[8 + 3]!), 'no command: NaN');
  assert.ok([...v.subarray(12, 15)].every(Number.isNaN));
  assert.equal(v[15], 0.3);
  assert.equal(odometryTargets([{ file: '', episode: 0, step: 0 }]), null);
});
