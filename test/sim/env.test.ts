import { strict as assert } from 'node:assert';
import { test } from 'node:test';
import { UserError } from '../../src/core/errors.js';
import { DrivingSimEnv, parseSimConfig, purePursuitForEnv } from '../../sim/index.js';

test('determinism: same seed gives the same road and byte-identical frames', () => {
  const run = (): Uint8Array[] => {
    const env = new DrivingSimEnv({ camera: { widthPx: 64, heightPx: 48 } });
    const frames = [env.resetSync({ seed: 123 }).image.data];
    for (let i = 0; i < 30; i++) frames.push(env.stepSync([0.2 * Math.sin(i / 5), 0.8]).observation.image.data);
    return frames;
  };
  const a = run();
  const b = run();
  assert.equal(a.length, b.length);
  for (let i = 0; i < a.length; i++) assert.ok(Buffer.from(a[i]!).equals(Buffer.from(b[i]!)), `frame ${i} differs`);
  assert.ok(!Buffer.from(a[0]!).equals(Buffer.from(a[30]!)), 'frames change as the car moves');
  const other = new DrivingSimEnv({ camera: { widthPx: 64, heightPx: 48 } }).resetSync({ seed: 124 }).image.data;
  assert.ok(!Buffer.from(a[0]!).equals(Buffer.from(other)), 'another seed looks different');
});

test('pure pursuit completes 20 random routes without an intervention; reward sums to the distance', () => {
  const env = new DrivingSimEnv({ camera: { render: false } });
  for (let seed = 1000; seed < 1020; seed++) {
    env.resetSync({ seed });
    let total = 0;
    let done = false;
    while (!done) {
      const r = env.stepSync(purePursuitForEnv(env));
      total += r.reward;
      assert.equal(
        r.info.intervention,
        null,
        `seed ${seed}: intervention ${r.info.intervention} at ${r.info.distanceAlongRouteM} m`,
      );
      assert.ok(Math.abs(r.info.crossTrackErrorM) < 0.5, `seed ${seed}: cross-track ${r.info.crossTrackErrorM}`);
      if (r.truncated) {
        assert.ok(r.info.routeComplete, `seed ${seed}: truncated before the end of the route`);
        assert.equal(r.info.routeCompletion, 1);
        done = true;
      }
    }
    assert.ok(Math.abs(total - env.distanceAlongRouteM) < 1e-9);
    assert.ok(total >= 250);
  }
});

test('safety driver: off-lane, heading and overspeed each end the episode with their reason', () => {
  const env = new DrivingSimEnv({ camera: { render: false } });
  env.resetSync({ seed: 5 });
  let r = env.stepSync([0.3, 1]);
  for (let i = 0; i < 200 && !r.terminated; i++) r = env.stepSync([0.3, 1]); // a steady left turn
  assert.equal(r.terminated, true);
  assert.equal(r.info.intervention, 'off-lane');
  assert.ok(Math.abs(r.info.crossTrackErrorM) > env.road.laneWidthM / 2);
  assert.throws(() => env.stepSync([0, 0]), /reset/);

  // Heading: a wide lane margin so only the heading check can fire.
  const h = new DrivingSimEnv({ camera: { render: false }, safety: { offLaneMarginM: 20, maxHeadingErrorDeg: 20 } });
  h.resetSync({ seed: 5 });
  let rh = h.stepSync([-1, 1]);
  while (!rh.terminated) rh = h.stepSync([-1, 1]);
  assert.equal(rh.info.intervention, 'heading');
  assert.ok(rh.info.headingErrorRad < -(20 * Math.PI) / 180);

  // Overspeed: a set-point range above the cap.
  const o = new DrivingSimEnv({ camera: { render: false }, vehicle: { maxSpeedSetpointMps: 5 } });
  o.resetSync({ seed: 5 });
  let ro = o.stepSync([0, 1]);
  while (!ro.terminated) ro = o.stepSync(purePursuitForEnv(o));
  assert.equal(ro.info.intervention, 'overspeed');
  assert.ok(ro.info.speedMps > 10 / 3.6);
});

test('reset with continueRoute puts the car at the lane centre where it stopped; a seed gives the start', () => {
  const env = new DrivingSimEnv({ camera: { render: false } });
  env.resetSync({ seed: 9 });
  let r = env.stepSync([0, 1]);
  for (let i = 0; i < 40; i++) r = env.stepSync(purePursuitForEnv(env));
  while (!r.terminated) r = env.stepSync([-1, 1]);
  const stoppedAt = env.distanceAlongRouteM;
  const obs = env.resetSync({ continueRoute: true });
  assert.equal(env.roadSeed, 9);
  assert.equal(obs.speedMps, 0);
  assert.ok(Math.abs(env.distanceAlongRouteM - stoppedAt) < 0.05);
  const i0 = env.currentInfo();
  assert.ok(Math.abs(i0.crossTrackErrorM) < 1e-6 && Math.abs(i0.headingErrorRad) < 1e-6 && i0.episodeStep === 0);
  const r2 = env.stepSync([0, -1]);
  assert.ok(Math.abs(r2.info.crossTrackErrorM) < 0.01 && Math.abs(r2.info.headingErrorRad) < 0.02);
  env.resetSync({ seed: 9 });
  assert.ok(env.distanceAlongRouteM < 1e-6);
  env.resetSync();
  assert.notEqual(env.roadSeed, 9, 'a reset without seed draws a new road by default');
  const fixed = new DrivingSimEnv({ camera: { render: false }, env: { newRoadEachReset: false } });
  fixed.resetSync({ seed: 3 });
  fixed.resetSync();
  assert.equal(fixed.roadSeed, 3);
});

test('bad actions: NaN and wrong length throw without touching state; out-of-range is clipped', async () => {
  const env = new DrivingSimEnv({ camera: { widthPx: 32, heightPx: 24 } });
  await env.reset({ seed: 1 });
  await env.step([0, 1]);
  const before = env.pose;
  await assert.rejects(env.step([Number.NaN, 0]), /finite/);
  await assert.rejects(env.step([0]), /components/);
  await assert.rejects(env.step([0, Infinity]), /finite/);
  assert.deepEqual(env.pose, before);
  const r = await env.step([5, -9]);
  assert.deepEqual(r.info.appliedAction, [1, -1]);
  assert.ok(env.pose.steeringRad > before.steeringRad, 'clipped +5 still steers left');
  assert.ok(env.pose.steeringRad <= env.config.vehicle.maxSteeringRad);
  assert.ok(Number.isFinite(r.reward));
  assert.throws(() => new DrivingSimEnv({}).stepSync([0, 0]), /reset/);
  assert.throws(() => env.resetSync({ seed: 1.5 }), /integer/);
});

test('invalid configuration values name the field', () => {
  assert.throws(
    () => parseSimConfig({ vehicle: { wheelbaseM: -2 } }),
    (e: unknown) => e instanceof UserError && /field vehicle\.wheelbaseM/.test(e.message),
  );
  assert.throws(
    () => parseSimConfig({ road: { radiusRangeM: [100, 10] } }),
    /field road\.radiusRangeM: range lower bound/,
  );
  assert.throws(() => parseSimConfig({ camera: { widthPx: 'wide' } }), /field camera\.widthPx/);
  assert.throws(() => parseSimConfig({ vehicle: { policyHz: 7 } }), /field vehicle\.policyHz/);
  assert.throws(() => new DrivingSimEnv({ road: { routeLengthM: 0 } }), /field road\.routeLengthM/);
  const c = parseSimConfig({ road: { routeLengthM: 100 } });
  assert.equal(c.road.routeLengthM, 100);
  assert.equal(c.vehicle.wheelbaseM, 1.7);
});

test('renderAt draws an earlier viewpoint on the same road bit for bit, and refuses one from another road', () => {
  const env = new DrivingSimEnv({ camera: { widthPx: 40, heightPx: 30 } });
  env.resetSync({ seed: 2 });
  for (let i = 0; i < 20; i++) env.stepSync([0.3, 1]);
  const then = env.viewpoint;
  const frameThen = env.renderAt(64, 48);
  for (let i = 0; i < 20; i++) env.stepSync([-0.3, 1]);
  assert.notDeepEqual(env.renderAt(64, 48).data, frameThen.data, 'the car has moved');
  assert.deepEqual(env.renderAt(64, 48, then).data, frameThen.data);
  assert.deepEqual(
    env.renderAt(32, 24, then).data,
    (() => {
      const other = new DrivingSimEnv({ camera: { widthPx: 40, heightPx: 30 } });
      other.resetSync({ seed: 2 });
      for (let i = 0; i < 20; i++) other.stepSync([0.3, 1]);
      return other.renderAt(32, 24).data;
    })(),
  );
  env.resetSync({ seed: 3 });
  assert.throws(() => env.renderAt(64, 48, then), /a viewpoint on road 2 cannot be rendered on road 3/);
});

test('renderAt renders any resolution; observation images are fresh RGB HWC buffers', () => {
  const env = new DrivingSimEnv({ camera: { widthPx: 40, heightPx: 30 } });
  const o1 = env.resetSync({ seed: 2 });
  assert.equal(o1.image.data.length, 40 * 30 * 3);
  const big = env.renderAt(80, 60);
  assert.equal(big.width, 80);
  assert.equal(big.data.length, 80 * 60 * 3);
  const o2 = env.stepSync([0, 1]).observation;
  assert.notEqual(o1.image.data, o2.image.data);
  // Sky on top is brighter/bluer than the road at the bottom centre.
  const px = (img: typeof big, x: number, y: number): number[] => [
    ...img.data.subarray((y * img.width + x) * 3, (y * img.width + x) * 3 + 3),
  ];
  const sky = px(big, 40, 2);
  const road = px(big, 40, 58);
  assert.ok(sky[2]! > road[2]!, `sky ${sky} vs road ${road}`);
});
