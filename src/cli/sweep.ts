import type { Command } from 'commander';
import { resolve, join } from 'node:path';
import { UserError } from '../core/errors.js';
import { log } from '../core/logger.js';
import { runQueueWorker } from '../sweep/queue-worker.js';
import { runSweep, type SweepSummary } from '../sweep/run.js';
import { formatInterval } from '../sweep/live-table.js';
import { PRUNERS, type PrunerName } from '../sweep/pruners/index.js';
import { SAMPLERS, type SamplerName } from '../sweep/samplers/index.js';
import type { SweepSettings } from '../sweep/record.js';
import type { ObjectiveKey } from '../sweep/space.js';
import type { Score } from '../sweep/statistics.js';
import { addCommand, choiceOption, parseIntArg, type CommonOptions } from './command.js';

/**
 * `daydrive sweep`: hyperparameter search in the simulator (src/sweep, docs/sweep.md), on this
 * machine's cores or across machines through a BullMQ queue; `daydrive sweep worker` serves a queue.
 */
interface SweepCliOptions extends CommonOptions {
  space?: string;
  trials?: number;
  seeds?: number;
  workers?: number;
  out?: string;
  resume?: boolean;
  sampler?: SamplerName;
  pruner?: PrunerName;
  reductionFactor?: number;
  startupTrials?: number;
  seed?: number;
  queue?: string;
  keepRuns?: boolean;
  defaults?: boolean;
}

interface WorkerCliOptions extends CommonOptions {
  queue?: string;
  concurrency: number;
  workDir: string;
  lockMs: number;
}

/** First Ctrl-C: stop cleanly; second: quit now. */
function interrupts(): {
  stopRequested: Promise<void>;
  killRequested: Promise<void>;
  count: () => number;
  dispose: () => void;
} {
  let n = 0;
  let stop!: () => void;
  let kill!: () => void;
  const stopRequested = new Promise<void>((r) => (stop = r));
  const killRequested = new Promise<void>((r) => (kill = r));
  const onSignal = () => {
    n += 1;
    if (n === 1) stop();
    else kill();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  return {
    stopRequested,
    killRequested,
    count: () => n,
    dispose: () => {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
    },
  };
}

function describeSweep(r: SweepSummary): string {
  const head = `${r.stopped ? 'sweep stopped (continue with --resume)' : 'sweep finished'}: ${r.trials} trials (${r.done} done, ${r.pruned} pruned, ${r.failed} failed) in ${r.out}`;
  if (!r.best) return `${head}; no configuration finished all its seeds`;
  const keys: ObjectiveKey[] = ['cleanShare', 'metresPerDisengagement', 'trainingEpisodes'];
  const scoreLine = (s: Score) =>
    `${keys.map((k) => `${k} ${formatInterval(s[k], k)}`).join(', ')} (${s.seeds} seeds, ${s.roads} roads; 95% bootstrap intervals)`;
  const lines = [head, `best: trial ${r.best.trial} ${JSON.stringify(r.best.params)}`, `  ${scoreLine(r.best.score)}`];
  if (r.defaults?.score) {
    lines.push(`defaults: trial ${r.defaults.trial}`, `  ${scoreLine(r.defaults.score)}`);
    lines.push(
      r.defaults.beatenBy.length > 0
        ? `  beaten with separated intervals by trial${r.defaults.beatenBy.length > 1 ? 's' : ''} ${r.defaults.beatenBy.join(', ')}`
        : '  no configuration beats the defaults with separated intervals',
    );
  }
  lines.push(`train it: daydrive train --from-sweep ${r.out}`);
  return lines.join('\n');
}

export function registerSweep(program: Command): void {
  const sweep = addCommand<SweepCliOptions>(
    program,
    'sweep',
    'hyperparameter search in the simulator: trials of train + eval under several seeds, ranked by bootstrap lower bounds (docs/sweep.md)',
    (cmd) =>
      cmd
        .option('--space <file>', 'search space (YAML; see sweeps/ and docs/sweep.md)')
        .option('--trials <n>', 'configurations to try (default 20)', parseIntArg(1, 100_000))
        .option('--seeds <k>', 'seeds per configuration (default 3)', parseIntArg(1, 100))
        .option(
          '--workers <w>',
          'local trial processes (default: the number of cores); with --queue, trial seeds outstanding (default 4)',
          parseIntArg(1, 1024),
        )
        .option('--out <dir>', 'sweep directory (default: sweeps-out/<date>-<time>)')
        .option('--resume', 'continue the sweep in --out (finished trial seeds are never run again)')
        .addOption(choiceOption('--sampler <name>', 'how configurations are drawn (default tpe)', SAMPLERS))
        .addOption(
          choiceOption('--pruner <name>', 'stop configurations early, seeds as the resource (default asha)', PRUNERS),
        )
        .option('--reduction-factor <n>', 'ASHA reduction factor (default 2)', parseIntArg(2, 100))
        .option(
          '--startup-trials <n>',
          'random trials before TPE (default min(10, trials/3)); completed trials before median pruning',
          parseIntArg(1, 10_000),
        )
        .option('--seed <n>', 'draws the configurations (default 0)', parseIntArg(0, 0x7fffffff))
        .option(
          '--queue <url>',
          'run the trial seeds on a BullMQ queue (redis://HOST:PORT, rediss:// for TLS) served by `daydrive sweep worker`',
        )
        .option('--keep-runs', 'keep every trial seed run directory (runs/ in the sweep directory)')
        .option(
          '--no-defaults',
          'do not run the train config defaults as trial 0 (the reference, all seeds, never pruned)',
        ),
    async (_args, opts) => {
      const out = resolve(opts.out ?? join('sweeps-out', new Date().toISOString().replace(/[:T]/g, '-').slice(0, 19)));
      if (opts.resume && !opts.out) throw new UserError('--resume needs --out DIR (the sweep to continue)');
      const settings: Partial<SweepSettings> = {
        ...(opts.trials !== undefined ? { trials: opts.trials } : {}),
        ...(opts.seeds !== undefined ? { seeds: opts.seeds } : {}),
        ...(opts.sampler ? { sampler: opts.sampler } : {}),
        ...(opts.pruner ? { pruner: opts.pruner } : {}),
        ...(opts.reductionFactor !== undefined ? { reductionFactor: opts.reductionFactor } : {}),
        ...(opts.startupTrials !== undefined ? { startupTrials: opts.startupTrials } : {}),
        ...(opts.seed !== undefined ? { seed: opts.seed } : {}),
        ...(opts.defaults === false ? { includeDefaults: false } : {}),
      };
      const signals = interrupts();
      void signals.killRequested.then(() => process.exit(130));
      void signals.stopRequested.then(() =>
        log.warn('stopping: the sweep is recorded; continue with --resume (interrupt again to quit now)'),
      );
      try {
        return await runSweep({
          ...(opts.space ? { spacePath: opts.space } : {}),
          out,
          resume: opts.resume === true,
          settings,
          ...(opts.workers !== undefined ? { workers: opts.workers } : {}),
          ...(opts.queue ? { queue: opts.queue } : {}),
          keepRuns: opts.keepRuns === true,
          command: ['daydrive', ...process.argv.slice(2)],
          live: opts.json !== true || process.stderr.isTTY === true,
          shouldStop: () => signals.count() > 0,
          stopRequested: signals.stopRequested,
        });
      } finally {
        signals.dispose();
      }
    },
    (r) => describeSweep(r as SweepSummary),
  );

  addCommand<WorkerCliOptions>(
    sweep,
    'worker',
    'take trial seeds from a sweep queue and run them (any machine that reaches the Redis)',
    (cmd) =>
      cmd
        .option(
          '--queue <url>',
          "(required) the queue's Redis: redis://HOST:PORT (rediss:// for TLS; a password for any host but this one)",
        )
        .option('--concurrency <c>', 'trial seeds at once, one process each', parseIntArg(1, 1024), 1)
        .option('--work-dir <dir>', 'where trial runs are trained (each removed after its evaluation)', 'sweep-work')
        .option(
          '--lock-ms <ms>',
          "job lock: a dead worker's trial seeds are taken over within about twice this",
          parseIntArg(1000, 3_600_000),
          30_000,
        ),
    async (_args, opts) => {
      // Commander may hand `--queue` after `worker` to the parent `sweep` command (both have it): take it from there.
      const queue = opts.queue ?? (sweep.opts() as { queue?: string }).queue;
      if (!queue)
        throw new UserError('sweep worker needs --queue redis://HOST:PORT (the Redis the sweep was started with)');
      const signals = interrupts();
      try {
        return await runQueueWorker({
          queue,
          concurrency: opts.concurrency,
          workDir: opts.workDir,
          lockMs: opts.lockMs,
          stopRequested: signals.stopRequested,
          killRequested: signals.killRequested,
          onJob: (e) => log.info({ job: e.id, detail: e.detail }, `trial seed ${e.state}`),
        });
      } finally {
        signals.dispose();
      }
    },
    (r) =>
      `worker ${String(r.worker)} stopped: ${String(r.completed)} trial seeds completed, ${String(r.failed)} failed`,
  );
}
