import { strict as assert } from 'node:assert';
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';

/**
 * scripts/pool-evaluation.ts prints the README's pooled driving figures: from one evaluation, or
 * from several evaluations of other seeds on the same roads pooled as one set of runs.
 */

const run = promisify(execFile);
const SCRIPT = join(import.meta.dirname, '../../scripts/pool-evaluation.ts');

/** A `daydrive eval` record of one trained run on two roads: `failures` disengagements on the second. */
function evaluation(policy: string, episodes: number, failures: number, secondRoadSeed = 2): unknown {
  return {
    routeLengthM: 250,
    rows: [{ method: policy, trainingEpisodes: episodes, learningEpisodes: episodes, trainingDistanceM: 300 }],
    policies: [
      {
        policy,
        roads: [
          { routeSeed: 1, distanceM: 250, disengagements: 0, look: { verge: 'grass' } },
          { routeSeed: secondRoadSeed, distanceM: 250, disengagements: failures, look: { verge: 'gravel' } },
        ],
      },
    ],
  };
}

async function pool(...evaluations: unknown[]): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'pool-evaluation-'));
  try {
    const files = await Promise.all(
      evaluations.map(async (e, i) => {
        const file = join(dir, `evaluation-${i}.json`);
        await writeFile(file, JSON.stringify(e));
        return file;
      }),
    );
    const { stdout } = await run(process.execPath, ['--import', 'tsx', SCRIPT, ...files]);
    return stdout;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

test('two evaluations of the same roads pool into one set of runs', async () => {
  const out = await pool(evaluation('seed 0', 4, 0), evaluation('seed 10', 8, 2));
  assert.match(out, /^2 runs x 2 roads \(4 drives\)$/m);
  // 3 of 4 drives clean; 1,000 m over 2 disengagements; episodes 4 and 8.
  assert.match(out, /^drives clean: 0\.75 /m);
  assert.match(out, /^metres per disengagement, pooled: 500 /m);
  assert.match(out, /^training episodes: median 6,/m);
  assert.match(out, /^ {2}verge: gravel: 1\/2 clean \(50%\)$/m);
  assert.match(out, /^runs under 250 m per disengagement: none$/m); // seed 10: 500 m over 2, not under
});

/** The script's one-line error (exit code 2, no stack trace) for these inputs. */
async function refusal(...evaluations: unknown[]): Promise<string> {
  try {
    await pool(...evaluations);
  } catch (err) {
    const e = err as Error & { stderr: string; code: number };
    assert.equal(e.code, 2);
    assert.equal(e.stderr.trim().split('\n').length, 1, e.stderr);
    return e.stderr.trim();
  }
  assert.fail('the script accepted bad input');
}

test('evaluations of different roads, and files that are not evaluations, are refused in one line naming the file', async () => {
  assert.match(
    await refusal(evaluation('seed 0', 4, 0), evaluation('seed 10', 8, 2, 3)),
    /^pool-evaluation: error: .*evaluation-1\.json drove other roads than .*evaluation-0\.json/,
  );
  assert.match(
    await refusal({ rows: [] }),
    /^pool-evaluation: error: .*evaluation-0\.json is not a daydrive eval result: field routeLengthM/,
  );
  const missing = join(tmpdir(), 'pool-evaluation-none', 'evaluation.json');
  await assert.rejects(run(process.execPath, ['--import', 'tsx', SCRIPT, missing]), (e: Error & { stderr: string }) => {
    assert.equal(e.stderr.trim(), `pool-evaluation: error: cannot read ${missing}: no such file or directory (ENOENT)`);
    return true;
  });
});
