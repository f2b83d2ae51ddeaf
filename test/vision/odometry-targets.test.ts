import { strict as assert } from 'node:assert';
import { test } from 'node:test';
import type { FrameRecord } from '../../src/vision/dataset.js';
import {
  ODOMETRY_TARGET_NAMES,
  odometryTargets,
  poseAt,
  relativePose,
  type PoseSample,
} from '../../src/vision/odometry-targets.js';

const close = (a: number, b: number, tol = 1e-9) => assert.ok(Math.abs(a - b) <= tol, `${a} != ${b}`);

test('odometry targets of a hand-worked trajectory: a left circle of 10 m at 5 m/s, starting heading north', () => {
  // Centre (-10, 0); at t the car is at angle 5t/10 = t/2 rad round it: x = -10 + 10 cos(t/2), y = 10 sin(t/2), yaw = pi/2 + t/2.
  const samples: PoseSample[] = Array.from({ length: 9 }, (_, k) => {
    const t = k * 0.5;
    return { tS: t, xM: -10 + 10 * Math.cos(t / 2), yM: 10 * Math.sin(t / 2), yawRad: Math.PI / 2 + t / 2 };
  });
  // After 1 s: 5 m of arc, 0.5 rad: forward 10 sin 0.5 = 4.794 m, left 10 (1 - cos 0.5) = 1.2242 m, heading +0.5 rad.
  const [lateral1, heading1] = relativePose(samples, 0, 1)!;
  close(lateral1, 10 * (1 - Math.cos(0.5)));
  close(lateral1, 1.2242, 1e-4);
  close(heading1, 0.5);
  // After 2 s from t = 1 s (sample 2): 1 rad of arc: left 10 (1 - cos 1) = 4.597 m, heading +1 rad (the frame turns with the car).
  const [lateral2, heading2] = relativePose(samples, 2, 2)!;
  close(lateral2, 4.597, 1e-4);
  close(heading2, 1);
  // 1 s before t = 2 s (sample 4): the circle curves left both ways, so the car came from behind and to
  // the left: lateral +1.2242 m, heading change -0.5 rad.
  const [lateralPast1, headingPast1] = relativePose(samples, 4, -1)!;
  close(lateralPast1, 10 * (1 - Math.cos(0.5)));
  close(headingPast1, -0.5);
  // Past the last pose or before the first: none.
  assert.equal(relativePose(samples, 7, 1), null);
  assert.equal(relativePose(samples, 1, -1), null);
});

test('poses between samples are interpolated; yaw across +-pi takes the short way', () => {
  const straight: PoseSample[] = [
    { tS: 0, xM: 0, yM: 0, yawRad: 0 },
    { tS: 0.3, xM: 1.5, yM: 0, yawRad: 0 },
    { tS: 0.9, xM: 4.5, yM: 0, yawRad: 0 },
    { tS: 1.2, xM: 6, yM: 0, yawRad: 0 },
  ];
  close(poseAt(straight, 1)!.xM, 5);
  close(relativePose(straight, 0, 1)![0], 0);
  const turning: PoseSample[] = [
    { tS: 0, xM: 0, yM: 0, yawRad: Math.PI - 0.1 },
    { tS: 1, xM: 0, yM: 0, yawRad: -Math.PI + 0.1 },
  ];
  close(Math.abs(poseAt(turning, 0.5)!.yawRad), Math.PI, 1e-9);
  close(relativePose(turning, 0, 1)![1], 0.2);
});

test('odometryTargets: per segment, in time order, past and future horizons, NaN outside the segment, null without odometry', () => {
  assert.deepEqual(ODOMETRY_TARGET_NAMES.slice(0, 2), ['lateralPast4sM', 'headingChangePast4sRad']);
  assert.deepEqual(ODOMETRY_TARGET_NAMES.slice(-2), ['lateralNext2sM', 'headingChangeNext2sRad']);
  const column = (name: string): number => ODOMETRY_TARGET_NAMES.indexOf(name);
  const n = ODOMETRY_TARGET_NAMES.length;
  const rec = (episode: number, tS: number, x: number): FrameRecord => ({
    file: '',
    episode,
    step: 0,
    timestampNs: String(BigInt(Math.round(tS * 1e9)) + 1_767_225_600_000_000_000n),
    odomXM: x,
    odomYM: 0.1 * x * x,
    odomYawRad: 0,
  });
  // Segment 0 listed out of order (x = 5 t, y = 0.1 x^2, yaw 0); segment 1 a single frame.
  const records = [rec(0, 1, 5), rec(0, 0, 0), rec(0, 2, 10), rec(1, 0, 100)];
  const v = odometryTargets(records)!;
  const at = (frame: number, name: string): number => v[frame * n + column(name)]!;
  // Frame at t=0 (0, 0): 1 s later (5, 2.5): lateral 2.5; 2 s later (10, 10): lateral 10; no past.
  assert.equal(at(1, 'lateralNext1sM'), 2.5);
  assert.equal(at(1, 'lateralNext2sM'), 10);
  assert.equal(at(1, 'headingChangeNext2sRad'), 0);
  assert.ok(Number.isNaN(at(1, 'lateralPast1sM')));
  // Frame at t=2 (10, 10): 1 s before (5, 2.5): lateral -7.5; 2 s before (0, 0): lateral -10; no future.
  assert.equal(at(2, 'lateralPast1sM'), -7.5);
  assert.equal(at(2, 'lateralPast2sM'), -10);
  assert.ok(Number.isNaN(at(2, 'lateralPast3sM')) && Number.isNaN(at(2, 'lateralNext1sM')));
  // Frame at t=1 (5, 2.5): 1 s each way.
  assert.equal(at(0, 'lateralPast1sM'), -2.5);
  assert.equal(at(0, 'lateralNext1sM'), 7.5);
  assert.ok(Number.isNaN(at(0, 'lateralNext2sM')));
  // A one-frame segment has no target at all.
  assert.ok([...v.subarray(3 * n, 4 * n)].every(Number.isNaN));
  assert.equal(odometryTargets([{ file: '', episode: 0, step: 0 }]), null);
});
