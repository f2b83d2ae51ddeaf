import { strict as assert } from 'node:assert';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import sharp from 'sharp';
import type { EpisodeRecord } from '../../src/agent/training.js';
import { LearningCurveWriter, RUN_FILES } from '../../src/jobs/run-dir.js';

function records(n: number): EpisodeRecord[] {
  return Array.from({ length: n }, (_, i) => ({
    episode: i + 1,
    mode: i % 2 === 0 ? 'train' : 'test',
    steps: 10 * (i + 1),
    distanceM: 5 * (i + 1),
    intervention: 'off-lane',
    routeCompleted: false,
    learningEpisodes: Math.ceil((i + 1) / 2),
    trainingDistanceM: 5 * (i + 1),
    elapsedS: i,
  })) as unknown as EpisodeRecord[];
}

test('learning curve of a running job: drawn at the first episode, then at most once a period, and the latest records at flush', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'curve-'));
  try {
    const path = join(dir, RUN_FILES.curve);
    const curve = new LearningCurveWriter(dir, 'test run', 60_000);
    await curve.update(records(1));
    const first = await readFile(path);
    assert.ok((await sharp(first).metadata()).width! > 0, 'a PNG after the first episode');
    await curve.update(records(2));
    await curve.update(records(3));
    assert.deepEqual(await readFile(path), first, 'not redrawn within the period');
    await curve.flush();
    const last = await readFile(path);
    assert.notDeepEqual(last, first, 'flush draws the latest records');
    await curve.flush();
    assert.deepEqual(await readFile(path), last, 'nothing new: no drawing');
    const everyTime = new LearningCurveWriter(dir, 'test run', 0);
    await everyTime.update(records(4));
    assert.notDeepEqual(await readFile(path), last, 'a period of 0 draws every episode');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
