import { strict as assert } from 'node:assert';
import { test } from 'node:test';
import { circleRoad, generateRoad, newProjection, parseSimConfig, straightRoad, wrapAngle } from '../../sim/index.js';

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
    for (const s of r.segments) {
      if (s.kind === 'arc') assert.ok(s.radiusM >= 12 * 0.8 - 1e-9 && s.radiusM <= 200 * 1.25 + 1e-9);
    }
  }
  assert.deepEqual([...lanes].sort(), [1, 2], 'both one- and two-lane roads occur');
});
