import { strict as assert } from 'node:assert';
import { test } from 'node:test';
import { UserError } from '../../src/core/errors.js';
import {
  circleRoad,
  DrivingSimEnv,
  generateRoad,
  newProjection,
  parseSimConfig,
  straightRoad,
  wrapAngle,
  type RoadConfig,
  type RoadSegment,
} from '../../sim/index.js';

const cfg = parseSimConfig({});

test('straight road: distance along, signed cross-track and heading are exact', () => {
  const road = straightRoad(100);
  const p = newProjection();
  road.project(37.3, 1.25, 0, p);
  assert.ok(Math.abs(p.sM - 37.3) < 1e-9);
  assert.ok(Math.abs(p.lateralM - 1.25) < 1e-9, 'left of the road is positive');
  assert.equal(p.headingRad, 0);
  road.project(80, -0.7, 10, p);
  assert.ok(Math.abs(p.sM - 80) < 1e-9 && Math.abs(p.lateralM + 0.7) < 1e-9);
});

test('circle road (R = 20 m, centre (0, 20)): s = R * angle, lateral = R - distance to centre', () => {
  const R = 20;
  const road = circleRoad(R);
  const p = newProjection();
  let hint = 0;
  for (const angle of [0.3, 1, 2, 3, 4.5, 6]) {
    for (const rho of [17, 19.5, 20, 21.8]) {
      // A point at polar angle `angle` travelled counter-clockwise from the start (0, 0).
      const x = rho * Math.sin(angle);
      const y = R - rho * Math.cos(angle);
      road.projectPrecise(x, y, hint, p);
      hint = p.index;
      assert.ok(Math.abs(p.sM - R * angle) < 0.002, `s at angle ${angle}: ${p.sM} vs ${R * angle}`);
      assert.ok(Math.abs(p.lateralM - (R - rho)) < 0.002, `lateral at rho ${rho}: ${p.lateralM}`);
      assert.ok(Math.abs(wrapAngle(p.headingRad - angle)) < 0.002);
    }
  }
  // The fast chord projection (used per pixel) is within a few centimetres.
  road.project(17 * Math.sin(1), R - 17 * Math.cos(1), 0, p);
  assert.ok(Math.abs(p.sM - R) < 0.03 && Math.abs(p.lateralM - 3) < 0.01);
});

test('pointAt inverts project; a global projection finds the same foot', () => {
  const road = generateRoad(42, cfg.road);
  const p = newProjection();
  for (const s of [0, 12.5, 77.7, 140, 249]) {
    const q = road.pointAt(s, -1.1);
    road.projectGlobal(q.xM, q.yM, p);
    assert.ok(Math.abs(p.sM - s) < 0.02, `s ${s}: ${p.sM}`);
    assert.ok(Math.abs(p.lateralM + 1.1) < 0.01);
  }
});

test('roads: same seed same road; different seeds differ; length and radius limits hold', () => {
  const a = generateRoad(7, cfg.road);
  const b = generateRoad(7, cfg.road);
  assert.deepEqual(a.xs, b.xs);
  assert.deepEqual(a.segments, b.segments);
  const c = generateRoad(8, cfg.road);
  assert.notDeepEqual(a.segments, c.segments);
  const lanes = new Set<number>();
  for (let seed = 0; seed < 30; seed++) {
    const r = generateRoad(seed, cfg.road);
    lanes.add(r.laneCount);
    assert.ok(r.totalLengthM >= cfg.road.routeLengthM + cfg.road.extraRoadM - 0.5);
    assert.equal(r.routeLengthM, 250);
    assertSegmentsInRanges(r.segments, cfg.road, `seed ${seed}`);
  }
  assert.deepEqual([...lanes].sort(), [1, 2], 'both one- and two-lane roads occur');
});

const DEG = Math.PI / 180;

/** Every arc (including both halves of an S-bend) and straight lies inside the configured ranges. */
function assertSegmentsInRanges(segments: readonly RoadSegment[], road: RoadConfig, what: string): void {
  for (const [i, s] of segments.entries()) {
    if (s.kind === 'arc') {
      assert.ok(
        s.radiusM >= road.radiusRangeM[0] && s.radiusM <= road.radiusRangeM[1],
        `${what}: segment ${i} radius ${s.radiusM} outside ${road.radiusRangeM}`,
      );
      const deg = s.angleRad / DEG;
      assert.ok(
        deg >= road.arcAngleRangeDeg[0] - 1e-9 && deg <= road.arcAngleRangeDeg[1] + 1e-9,
        `${what}: segment ${i} angle ${deg} deg outside ${road.arcAngleRangeDeg}`,
      );
    } else if (i > 0) {
      assert.ok(
        s.lengthM >= road.straightLengthRangeM[0] && s.lengthM <= road.straightLengthRangeM[1],
        `${what}: segment ${i} straight ${s.lengthM} m`,
      );
    }
  }
}

test('S-bends: both halves keep the configured radius and angle ranges (the second half is clamped)', () => {
  for (let seed = 0; seed < 200; seed++)
    assertSegmentsInRanges(generateRoad(seed, cfg.road).segments, cfg.road, `default seed ${seed}`);
  // Narrow ranges and S-bends only: the second half's scale factor (0.8-1.25) would leave them
  // most of the time, so the clamp must put it exactly on a bound.
  const narrow = parseSimConfig({
    road: { radiusRangeM: [30, 36], arcAngleRangeDeg: [40, 50], segmentWeights: { straight: 0.2, arc: 0, sBend: 1 } },
  }).road;
  let onBound = 0;
  for (let seed = 0; seed < 40; seed++) {
    const segs = generateRoad(seed, narrow).segments;
    assertSegmentsInRanges(segs, narrow, `narrow seed ${seed}`);
    for (const s of segs)
      if (
        s.kind === 'arc' &&
        (s.radiusM === 30 || s.radiusM === 36 || s.angleRad === 40 * DEG || s.angleRad === 50 * DEG)
      )
        onBound++;
  }
  assert.ok(onBound > 20, `clamped halves occur (${onBound})`);
});

test('a configuration that forces the road onto itself is a UserError naming the settings', () => {
  // Only near-U-turn arcs of small radius over a 2 km route: every draw loops back within 25 m.
  const loopy = parseSimConfig({
    road: {
      routeLengthM: 2000,
      radiusRangeM: [10, 12],
      arcAngleRangeDeg: [170, 180],
      segmentWeights: { straight: 0, arc: 1, sBend: 0 },
    },
  }).road;
  for (const seed of [0, 1, 2]) {
    assert.throws(
      () => generateRoad(seed, loopy),
      (e: unknown) =>
        e instanceof UserError &&
        e.exitCode === 2 &&
        /invalid road config/.test(e.message) &&
        /road\.radiusRangeM \[10, 12\]/.test(e.message) &&
        /road\.arcAngleRangeDeg \[170, 180\]/.test(e.message) &&
        /road\.routeLengthM 2000/.test(e.message) &&
        !e.message.includes('\n'),
    );
  }
  // The environment passes the error on at reset (the CLI prints it as one line, exit 2).
  const env = new DrivingSimEnv({ road: loopy, camera: { render: false } });
  assert.throws(() => env.resetSync({ seed: 0 }), UserError);
});

test('road.tightestBendAtMostM: every route has a bend that tight; null leaves every road as it was', () => {
  const tight = parseSimConfig({ road: { tightestBendAtMostM: 30 } }).road;
  let redrawn = 0;
  for (let seed = 700_000; seed < 700_040; seed++) {
    const road = generateRoad(seed, tight);
    let startM = 0;
    let tightest = Infinity;
    for (const s of road.segments) {
      if (startM >= tight.routeLengthM) break;
      if (s.kind === 'arc') tightest = Math.min(tightest, s.radiusM);
      startM += s.kind === 'arc' ? s.radiusM * s.angleRad : s.lengthM;
    }
    assert.ok(tightest <= 30, `seed ${seed}: tightest bend in the route ${tightest} m`);
    const plain = generateRoad(seed, cfg.road);
    if (
      plain.segments.length !== road.segments.length ||
      plain.segments.some((s, i) => JSON.stringify(s) !== JSON.stringify(road.segments[i]))
    )
      redrawn++;
    else assert.deepEqual(plain.xs, road.xs, 'a road that already had such a bend is the same road');
  }
  // About half of the default roads have no bend of 30 m or less in their 250 m.
  assert.ok(redrawn > 5 && redrawn < 35, `${redrawn} of 40 roads redrawn`);
  assert.throws(
    () => parseSimConfig({ road: { tightestBendAtMostM: 5 } }),
    /road\.tightestBendAtMostM.*no bend can be that tight/,
  );
  assert.throws(
    () => parseSimConfig({ road: { tightestBendAtMostM: 30, routeLengthM: 10 } }),
    /road\.tightestBendAtMostM.*no bend fits/,
  );
});
