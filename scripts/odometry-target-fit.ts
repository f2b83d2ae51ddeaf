/**
 * How much of each odometry target the lane explains: drives the VAE collection's driver
 * (src/jobs/vae-collect.ts) on N roads, computes the auxiliary targets from odometry at the kept
 * frames exactly as `vae train` does (src/vision/odometry-targets.ts), and prints, per target, the
 * R^2 of a least-squares fit on the simulator's cross-track and heading error at the frame. A
 * target the lane explains well pulls the latent towards the lane; one that is mostly the driver's
 * next move is noise to it.
 *
 *   node --import tsx scripts/odometry-target-fit.ts [--roads 300] [--frame-every 10] [--seed 77]
 */
import { parseArgs } from 'node:util';
import { simConfigSchema } from '../sim/index.js';
import { DEFAULT_SIM_COLLECT, collectSimFrames } from '../src/jobs/vae-collect.js';
import type { FrameRecord } from '../src/vision/dataset.js';
import { ODOMETRY_TARGET_NAMES, odometryTargets } from '../src/vision/odometry-targets.js';
import { fitLinear, predictLinear, rSquared } from '../src/vision/regression.js';

const { values } = parseArgs({
  options: {
    roads: { type: 'string', default: '300' },
    'frame-every': { type: 'string', default: '10' },
    seed: { type: 'string', default: '77' },
  },
});
const config = simConfigSchema.parse({});
const stepS = 1 / config.vehicle.policyHz;
const records: FrameRecord[] = [];
const lane: [number, number][] = [];
let segment = -1;
let clockS = 0;
let pose = { xM: 0, yM: 0, yawRad: 0 };
await collectSimFrames(
  config,
  {
    ...DEFAULT_SIM_COLLECT,
    episodes: Number(values.roads),
    seed: Number(values.seed),
    stepsPerEpisode: 120,
    frameEvery: Number(values['frame-every']),
  },
  async (frame) => {
    records.push({
      file: '',
      episode: segment,
      step: frame.record.step,
      timestampNs: String(Math.round(clockS * 1e9)),
      odomXM: pose.xM,
      odomYM: pose.yM,
      odomYawRad: pose.yawRad,
    });
    lane.push([frame.record.crossTrackErrorM!, frame.record.headingErrorRad!]);
  },
  undefined,
  async (step) => {
    // A new segment where the bag's reader splits one: a new road or the safety driver's reset.
    if (step.reset !== null) segment++;
    clockS += step.reset === 'road' ? 10 : step.reset === 'reset' ? 2 : stepS;
    pose = step.pose;
  },
);
const targets = odometryTargets(records)!;
const n = ODOMETRY_TARGET_NAMES.length;
const rows: Record<string, string | number>[] = ODOMETRY_TARGET_NAMES.map((name, k) => {
  const have = records.map((_, i) => i).filter((i) => Number.isFinite(targets[i * n + k]!));
  const xs = have.map((i) => lane[i]!);
  const ys = have.map((i) => targets[i * n + k]!);
  const model = fitLinear(xs, ys);
  return {
    target: name,
    frames: have.length,
    r2FromLane: Number(
      rSquared(
        ys,
        xs.map((x) => predictLinear(model, x)),
      ).toFixed(3),
    ),
  };
});
console.table(rows);
console.log(JSON.stringify({ roads: Number(values.roads), frames: records.length, targets: rows }));
