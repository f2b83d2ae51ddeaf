/**
 * Learning benchmark (issue 3), printed as one JSON object via bench/report.ts:
 *  - Pendulum-v1 after 20,000 environment steps: mean evaluation return (10 episodes, plain policy)
 *    of DDPG, TD3 and D4PG over 3 seeds each; goal >= -200 (Stable-Baselines3 zoo: -152);
 *  - MountainCarContinuous-v0: evaluation return (5 episodes) of TD3 with each exploration noise;
 *    goal: above 90 (Gymnasium's "solved") for at least one noise setting.
 * Every run is `daydrive gym` (src/jobs/gym.ts runGym) with its per-task settings: the same code
 * and hyperparameters as `daydrive gym pendulum --algo td3 --steps 20000 --seed 0`.
 *
 * Run: nice -n 10 node --import tsx bench/rl-learning.bench.ts   (about 25 minutes on our 2-core
 * machines: 9 Pendulum runs of 75 to 115 s, about 15 minutes, then 3 MountainCar runs of 50,000
 * steps, each about 2.5 times as long)
 * Environment: RL_BENCH_SEEDS (3), RL_BENCH_PENDULUM_STEPS (20000), RL_BENCH_MOUNTAINCAR_STEPS
 * (50000), RL_BENCH_ONLY ('pendulum' or 'mountaincar' to run one task).
 */
import { runGym, NOISE_KINDS, type NoiseKind } from '../src/jobs/gym.js';
import { ALGORITHMS, type Algorithm } from '../src/rl/config.js';
import { figure, printReport, type BenchFigure } from './report.js';

const SEEDS = Number(process.env.RL_BENCH_SEEDS ?? 3);
const PENDULUM_STEPS = Number(process.env.RL_BENCH_PENDULUM_STEPS ?? 20_000);
const MOUNTAINCAR_STEPS = Number(process.env.RL_BENCH_MOUNTAINCAR_STEPS ?? 50_000);
const ONLY = process.env.RL_BENCH_ONLY;
/** Goals from the issue: Pendulum mean evaluation return >= -200; MountainCar solved above 90. */
const PENDULUM_GOAL = -200;
const PENDULUM_SB3 = -152;
const MOUNTAINCAR_SOLVED = 90;

interface RunRecord {
  readonly task: string;
  readonly algo: Algorithm;
  readonly noise: NoiseKind | 'default';
  readonly seed: number;
  readonly evalMeanReturn: number;
  readonly evalStdReturn: number;
  readonly seconds: number;
}

function mean(xs: readonly number[]): number {
  return xs.reduce((a, b) => a + b, 0) / xs.length;
}

/** Population standard deviation. */
function std(xs: readonly number[]): number {
  const m = mean(xs);
  return Math.sqrt(xs.reduce((a, b) => a + (b - m) ** 2, 0) / xs.length);
}

async function run(
  task: 'pendulum' | 'mountaincar',
  algo: Algorithm,
  steps: number,
  seed: number,
  noise?: NoiseKind,
): Promise<RunRecord> {
  const { report } = await runGym({ task, algo, steps, seed, ...(noise ? { noise } : {}) });
  const record: RunRecord = {
    task,
    algo,
    noise: noise ?? 'default',
    seed,
    evalMeanReturn: report.final.meanReturn,
    evalStdReturn: report.final.stdReturn,
    seconds: report.seconds,
  };
  process.stderr.write(`${JSON.stringify(record)}\n`);
  return record;
}

const figures: BenchFigure[] = [];
const runs: RunRecord[] = [];

if (ONLY === undefined || ONLY === 'pendulum') {
  for (const algo of ALGORITHMS) {
    const returns: number[] = [];
    for (let seed = 0; seed < SEEDS; seed++) {
      const r = await run('pendulum', algo, PENDULUM_STEPS, seed);
      runs.push(r);
      returns.push(r.evalMeanReturn);
    }
    figures.push(
      figure(
        `Pendulum-v1 ${algo}: mean evaluation return after ${PENDULUM_STEPS} steps, ${SEEDS} seeds`,
        mean(returns),
        'return',
        { name: 'goal (higher is better; SB3 zoo reports -152)', value: PENDULUM_GOAL },
        true,
        `per seed ${returns.map((x) => x.toFixed(1)).join(', ')}; std over seeds ${std(returns).toFixed(1)}; ` +
          `${mean(returns) >= PENDULUM_GOAL ? 'meets' : 'misses'} the goal; SB3 ${PENDULUM_SB3}`,
      ),
    );
  }
}

if (ONLY === undefined || ONLY === 'mountaincar') {
  for (const noise of NOISE_KINDS) {
    const r = await run('mountaincar', 'td3', MOUNTAINCAR_STEPS, 0, noise);
    runs.push(r);
    figures.push(
      figure(
        `MountainCarContinuous-v0 td3, ${noise} noise: evaluation return after ${MOUNTAINCAR_STEPS} steps, seed 0`,
        r.evalMeanReturn,
        'return',
        { name: 'solved (Gymnasium reward threshold)', value: MOUNTAINCAR_SOLVED },
        true,
        `${r.evalMeanReturn > MOUNTAINCAR_SOLVED ? 'solved' : 'not solved'}; std over evaluation episodes ${r.evalStdReturn.toFixed(1)}`,
      ),
    );
  }
}

await printReport('rl-learning', figures, {
  runs,
  pendulumGoalMet: ALGORITHMS.every((algo) => {
    const rs = runs.filter((r) => r.task === 'pendulum' && r.algo === algo);
    return rs.length > 0 && mean(rs.map((r) => r.evalMeanReturn)) >= PENDULUM_GOAL;
  }),
  mountainCarSolved: runs.some((r) => r.task === 'mountaincar' && r.evalMeanReturn > MOUNTAINCAR_SOLVED),
});
