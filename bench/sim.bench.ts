/**
 * Simulator throughput on one core: environment steps per second (physics, safety driver,
 * projection and camera rendering) at 64x64, 160x120 and 640x480, plus the no-render step rate
 * measured in the same run. Driven by pure pursuit so the car stays on the road.
 * Run: node --import tsx bench/sim.bench.ts
 */
import { figure, printReport, type BenchFigure } from './report.js';
import { DrivingSimEnv, purePursuitForEnv } from '../sim/index.js';

const GOAL_64_STEPS_PER_S = 2000;

function stepsPerSecond(render: boolean, widthPx: number, heightPx: number, minSeconds: number): number {
  const env = new DrivingSimEnv({ camera: { render, widthPx, heightPx }, env: { seed: 1 } });
  env.resetSync({ seed: 1 });
  let steps = 0;
  const t0 = performance.now();
  let elapsedMs = 0;
  while (elapsedMs < minSeconds * 1000) {
    for (let k = 0; k < 50; k++) {
      const r = env.stepSync(purePursuitForEnv(env));
      steps++;
      if (r.terminated || r.truncated) env.resetSync({ seed: 1 });
    }
    elapsedMs = performance.now() - t0;
  }
  return (steps * 1000) / elapsedMs;
}

const seconds = Number(process.env.SIM_BENCH_SECONDS ?? 3);
stepsPerSecond(true, 64, 64, 0.5); // warm-up (JIT)
const noRender = stepsPerSecond(false, 0 + 64, 64, seconds);
const figures: BenchFigure[] = [];
const r64 = stepsPerSecond(true, 64, 64, seconds);
figures.push(figure('env steps/s with 64x64 rendering', r64, 'steps/s', { name: 'goal', value: GOAL_64_STEPS_PER_S }, true));
const r160 = stepsPerSecond(true, 160, 120, seconds);
figures.push(figure('env steps/s with 160x120 rendering', r160, 'steps/s', { name: 'no-render step rate', value: noRender }, true));
const r640 = stepsPerSecond(true, 640, 480, seconds);
figures.push(figure('env steps/s with 640x480 rendering', r640, 'steps/s', { name: 'no-render step rate', value: noRender }, true));
figures.push(figure('env steps/s without rendering', noRender, 'steps/s', { name: 'goal (64x64)', value: GOAL_64_STEPS_PER_S }, true));
printReport('sim', figures, { secondsPerFigure: seconds, threads: 1 });
