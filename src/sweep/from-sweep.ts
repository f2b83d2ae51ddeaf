import { join } from 'node:path';
import { readConfigFile } from '../core/config.js';
import { UserError } from '../core/errors.js';
import { exists } from '../core/files.js';
import { readTrials, SWEEP_FILES } from './record.js';

/**
 * `daydrive train --from-sweep DIR [--trial ID|best]`: the train config input of a sweep's trial
 * (best: best.yaml, the leaderboard's first finished trial).
 */
export async function trainConfigFromSweep(
  dir: string,
  trial: string,
): Promise<{ raw: Record<string, unknown>; source: string }> {
  if (!(await exists(join(dir, SWEEP_FILES.trials))))
    throw new UserError(`--from-sweep ${dir}: no sweep there (no ${SWEEP_FILES.trials})`);
  if (trial === 'best') {
    const path = join(dir, SWEEP_FILES.best);
    if (!(await exists(path)))
      throw new UserError(`--from-sweep ${dir}: no trial has finished yet (no ${SWEEP_FILES.best})`);
    return { raw: (await readConfigFile(path)) as Record<string, unknown>, source: `config ${path}` };
  }
  const id = Number(trial);
  if (!/^\d+$/.test(trial) || !Number.isSafeInteger(id))
    throw new UserError(`--trial '${trial}' is neither a trial number nor 'best'`);
  const record = (await readTrials(dir)).find((t) => t.id === id);
  if (!record) throw new UserError(`--from-sweep ${dir}: no trial ${id}`);
  return { raw: structuredClone(record.config), source: `sweep ${dir} trial ${id}` };
}
