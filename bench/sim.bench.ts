/**
 * Simulator throughput on one core: environment steps per second (physics, safety driver,
 * projection and camera rendering). The agent's camera is the model input rendered by the
 * simulator itself (64x64 after the 40% sky crop of the 160x120 view, supersampled as configured:
 * DrivingSimEnvOptions.modelInput); today's path before it, measured in the same run, rendered
 * the 160x120 frame and cropped and resized it with sharp (src/vision/preprocess.ts). Also the
 * full-frame rates at 64x64, 160x120 and 640x480 and the no-render rate. Driven by pure pursuit
 * so the car stays on the road. Rates are per CPU second of the process (as bench/rl.bench.ts:
 * the figure of one core, less at the mercy of a shared machine's load); the wall-clock rates
 * are in each figure's notes.
 * The agent's camera and today's path run in SIM_BENCH_ROUNDS interleaved rounds (default 5),
 * each figure the median round.
 * Run: node --import tsx bench/sim.bench.ts   (SIM_BENCH_SECONDS per figure, default 3)
 */
import { figure, printReport, type BenchFigure } from './report.js';
import { DrivingSimEnv, purePursuitForEnv } from '../sim/index.js';
import { DEFAULT_PREPROCESS, normalise, preprocessRgb } from '../src/vision/preprocess.js';

const GOAL_AGENT_CAMERA_STEPS_PER_S = 5000;

type Mode =
  | { kind: 'frame'; widthPx: number; heightPx: number }
  | { kind: 'model-input' }
  | { kind: 'frame+sharp' }
  | { kind: 'none' };

interface Rate {
  readonly perCpuS: number;
  readonly perWallS: number;
}

async function stepsPerSecond(mode: Mode, minSeconds: number): Promise<Rate> {
  const camera =
    mode.kind === 'frame' ? { widthPx: mode.widthPx, heightPx: mode.heightPx } : { render: mode.kind !== 'none' };
  const env = new DrivingSimEnv(
    { camera, env: { seed: 1 } },
    mode.kind === 'model-input' ? { modelInput: DEFAULT_PREPROCESS } : {},
  );
  env.resetSync({ seed: 1 });
  let steps = 0;
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  let elapsedMs = 0;
  while (elapsedMs < minSeconds * 1000) {
    for (let k = 0; k < 50; k++) {
      const r = env.stepSync(purePursuitForEnv(env));
      if (mode.kind === 'frame+sharp') normalise(await preprocessRgb(r.observation.image, DEFAULT_PREPROCESS));
      steps++;
      if (r.terminated || r.truncated) env.resetSync({ seed: 1 });
    }
    elapsedMs = performance.now() - t0;
  }
  const cpu = process.cpuUsage(c0);
  return { perCpuS: (steps * 1e6) / (cpu.user + cpu.system), perWallS: (steps * 1000) / elapsedMs };
}

const wall = (r: Rate) => `${Math.round(r.perWallS)} steps per wall-clock second`;

const seconds = Number(process.env.SIM_BENCH_SECONDS ?? 3);
await stepsPerSecond({ kind: 'model-input' }, 0.5); // warm-up (JIT)
await stepsPerSecond({ kind: 'frame+sharp' }, 0.5);
const noRender = await stepsPerSecond({ kind: 'none' }, seconds);
// The agent's camera and today's path in interleaved rounds, each figure the median round: the
// shared machine has slow phases of tens of seconds (one rate moved 770 to 1,420 between two
// runs minutes apart), and a phase that slows one round slows its neighbour alike.
const rounds = Number(process.env.SIM_BENCH_ROUNDS ?? 5);
const agentRounds: Rate[] = [];
const todayRounds: Rate[] = [];
for (let r = 0; r < rounds; r++) {
  agentRounds.push(await stepsPerSecond({ kind: 'model-input' }, seconds / rounds));
  todayRounds.push(await stepsPerSecond({ kind: 'frame+sharp' }, seconds / rounds));
}
const medianRate = (rs: Rate[]): Rate => [...rs].sort((a, b) => a.perCpuS - b.perCpuS)[rs.length >> 1]!;
const agentView = medianRate(agentRounds);
const today = medianRate(todayRounds);
const roundsNote = (rs: Rate[]) =>
  `median of ${rs.length} interleaved rounds (${rs.map((r) => Math.round(r.perCpuS)).join(', ')} per CPU second)`;
const figures: BenchFigure[] = [];
figures.push(
  figure(
    "env steps/s with the agent's camera (model input rendered by the simulator)",
    agentView.perCpuS,
    'steps/s',
    { name: 'goal', value: GOAL_AGENT_CAMERA_STEPS_PER_S },
    true,
    `${wall(agentView)}; ${roundsNote(agentRounds)}`,
  ),
);
figures.push(
  figure(
    "env steps/s with the agent's camera (model input rendered by the simulator)",
    agentView.perCpuS,
    'steps/s',
    { name: "today's path: 160x120 frame + sharp crop and resize", value: today.perCpuS },
    true,
    `${wall(agentView)}, today's ${wall(today)}; today's path: ${roundsNote(todayRounds)}`,
  ),
);
for (const [w, h] of [
  [64, 64],
  [160, 120],
  [640, 480],
] as const) {
  const rate = await stepsPerSecond({ kind: 'frame', widthPx: w, heightPx: h }, seconds);
  figures.push(
    figure(
      `env steps/s with ${w}x${h} full-frame rendering`,
      rate.perCpuS,
      'steps/s',
      { name: 'no-render step rate', value: noRender.perCpuS },
      true,
      wall(rate),
    ),
  );
}
figures.push(
  figure(
    'env steps/s without rendering',
    noRender.perCpuS,
    'steps/s',
    { name: "goal (agent's camera)", value: GOAL_AGENT_CAMERA_STEPS_PER_S },
    true,
    wall(noRender),
  ),
);
await printReport('sim', figures, { secondsPerFigure: seconds, agentCameraRounds: rounds, threads: 1 });
