import { strict as assert } from 'node:assert';
import { mkdir, mkdtemp, readFile, readdir, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { parse as parseYaml } from 'yaml';
import { parseSimConfig } from '../../sim/index.js';
import type { RgbImage } from '../../src/core/env.js';
import { collectSimFrames, DEFAULT_SIM_COLLECT, recordSimBag, type CollectedStep } from '../../src/jobs/vae-collect.js';
import { BagWriter } from '../../src/vision/bag-writer.js';
import { readFrameIndex } from '../../src/vision/dataset.js';
import { readMcapImages } from '../../src/vision/mcap.js';
import { BAG_TOPICS } from '../../src/vision/ros-schemas.js';
import { lastJson } from '../helpers/cli.js';
import { collectFromBag } from './helpers.js';
import { meanAbsDiff } from '../helpers/compare.js';

/**
 * The simulator records what a car records (a rosbag2 directory: metadata.yaml and an MCAP of
 * CompressedImage, Odometry and AckermannDriveStamped), and the bag reads back through the path
 * a car's bag takes, with the same frames; a damaged chunk costs only its own frames.
 */

const config = parseSimConfig({ camera: { widthPx: 64, heightPx: 48 } });
const opts = { ...DEFAULT_SIM_COLLECT, episodes: 3, seed: 11, stepsPerEpisode: 40, frameEvery: 2 };

async function simBag(dir: string, chunkBytes?: number): Promise<{ frames: number }> {
  await mkdir(dir);
  const bag = await BagWriter.create(dir, { name: 'drive', ...(chunkBytes ? { chunkBytes } : {}) });
  const r = await recordSimBag(config, opts, bag);
  await bag.finish();
  return r;
}

test('a simulator bag is a rosbag2 directory and reads back with the same frames, odometry and commands', async () => {
  const root = await mkdtemp(join(tmpdir(), 'sim-bag-'));
  const dir = join(root, 'drive');
  const { frames } = await simBag(dir);
  assert.deepEqual((await readdir(dir)).sort(), ['drive_0.mcap', 'metadata.yaml']);
  const meta = parseYaml(await readFile(join(dir, 'metadata.yaml'), 'utf8')) as {
    rosbag2_bagfile_information: Record<string, unknown>;
  };
  const info = meta.rosbag2_bagfile_information;
  assert.equal(info.storage_identifier, 'mcap');
  assert.deepEqual(info.relative_file_paths, ['drive_0.mcap']);
  const topics = (
    info.topics_with_message_count as {
      topic_metadata: { name: string; type: string; serialization_format: string };
      message_count: number;
    }[]
  ).map((t) => [t.topic_metadata.name, t.topic_metadata.type, t.message_count]);
  assert.deepEqual(topics, [
    [BAG_TOPICS.camera, 'sensor_msgs/msg/CompressedImage', frames],
    [BAG_TOPICS.odometry, 'nav_msgs/msg/Odometry', topics[1]![2]],
    [BAG_TOPICS.command, 'ackermann_msgs/msg/AckermannDriveStamped', opts.episodes * opts.stepsPerEpisode],
  ]);

  // The same drive rendered straight to frames (the simulator is deterministic), with the poses it drove.
  const rendered: RgbImage[] = [];
  const poses: CollectedStep[] = [];
  await collectSimFrames(
    config,
    opts,
    async (f) => void rendered.push(f.image),
    undefined,
    async (s) => void poses.push(s),
  );
  const read: { image: RgbImage; x: number; steer: number | null }[] = [];
  const stats = await readMcapImages(
    dir,
    BAG_TOPICS.camera,
    (f) => void read.push({ image: f.image, x: f.odometry!.xM, steer: f.command?.steeringRad ?? null }),
  );
  assert.equal(stats.frames, rendered.length);
  assert.equal(stats.complete, true);
  assert.deepEqual(stats.skippedChunks, []);
  for (let i = 0; i < read.length; i++) {
    assert.equal(read[i]!.image.width, 64);
    assert.ok(
      meanAbsDiff(read[i]!.image.data, rendered[i]!.data) < 4,
      `frame ${i} differs from the rendered one by more than JPEG does`,
    );
  }
  // Frame 1 of road 0 is taken after step 2: the odometry is that step's pose, the command that step's steering.
  const step2 = poses.find((p) => p.episode === 0 && p.step === 2)!;
  assert.ok(Math.abs(read[1]!.x - step2.pose.xM) < 1e-9);
  assert.ok(Math.abs(read[1]!.steer! - step2.action![0] * config.vehicle.maxSteeringRad) < 1e-6);

  // Through the CLI, as a car's bag: the directory, segments split where the car was put back or a new road began.
  const out = join(root, 'frames');
  const collected = await collectFromBag(dir, BAG_TOPICS.camera, out);
  assert.equal(collected.code, 0, collected.stderr);
  const stdout = collected.stdout;
  const last = lastJson<{
    frames: number;
    segments: number;
    odometryMessages: number;
  }>(stdout);
  assert.equal(last.frames, rendered.length);
  assert.ok(last.segments >= opts.episodes);
  const index = await readFrameIndex(out);
  assert.equal(index.records.length, rendered.length);
  assert.ok(
    index.records.every((r) => r.odomXM !== undefined && r.crossTrackErrorM === undefined),
    'odometry, and no simulator ground truth',
  );
});

/** Offsets and lengths of the top-level Chunk records (opcode 0x06) of an MCAP file. */
function chunks(bytes: Uint8Array): { offset: number; length: number }[] {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const found: { offset: number; length: number }[] = [];
  for (let offset = 8; offset + 9 <= bytes.length;) {
    const length = Number(view.getBigUint64(offset + 1, true));
    if (view.getUint8(offset) === 0x06) found.push({ offset, length });
    offset += 9 + length;
  }
  return found;
}

test('a bag with a corrupt chunk keeps the frames of every readable chunk and reports the one skipped', async () => {
  const root = await mkdtemp(join(tmpdir(), 'sim-bag-'));
  const dir = join(root, 'drive');
  await simBag(dir, 16 * 1024);
  const stamps = async (): Promise<bigint[]> => {
    const s: bigint[] = [];
    await readMcapImages(dir, BAG_TOPICS.camera, (f) => void s.push(f.logTimeNs));
    return s;
  };
  const all = await stamps();
  const file = join(dir, 'drive_0.mcap');
  const bytes = new Uint8Array(await readFile(file));
  const found = chunks(bytes);
  assert.ok(found.length >= 4, `chunks: ${found.length}`);
  const victim = found[1]!;
  for (let i = 0; i < 64; i++) bytes[victim.offset + Math.floor(victim.length / 2) + i]! ^= 0x5a;
  await writeFile(file, bytes);

  const kept: bigint[] = [];
  const stats = await readMcapImages(dir, BAG_TOPICS.camera, (f) => void kept.push(f.logTimeNs));
  assert.equal(stats.skippedChunks.length, 1);
  assert.equal(stats.skippedChunks[0]!.offset, victim.offset);
  assert.ok(kept.length > 0 && kept.length < all.length, `${kept.length} of ${all.length}`);
  // What was kept is what was there, in order, including the frames after the damaged chunk.
  assert.deepEqual(
    kept,
    all.filter((t) => kept.includes(t)),
  );
  assert.equal(kept.at(-1), all.at(-1));
  assert.equal(kept[0], all[0]);
  // The CLI keeps them too, and says what it skipped.
  const out = join(root, 'frames');
  const collected = await collectFromBag(file, BAG_TOPICS.camera, out);
  assert.equal(collected.code, 0, collected.stderr);
  const stdout = collected.stdout;
  const last = lastJson<{
    ok: boolean;
    frames: number;
    skippedChunks: unknown[];
  }>(stdout);
  assert.equal(last.ok, true);
  assert.equal(last.frames, kept.length);
  assert.equal(last.skippedChunks.length, 1);
  assert.equal((await readFrameIndex(out)).meta.skippedChunks, 1);
});

test('a ROS 1 bag, a sqlite3 rosbag2 and a directory that is no bag are refused, saying so', async () => {
  const root = await mkdtemp(join(tmpdir(), 'bag-refused-'));
  const ros1 = join(root, 'drive.bag');
  await writeFile(ros1, '#ROSBAG V2.0\n' + '\0'.repeat(64));
  await assert.rejects(
    readMcapImages(ros1, '/camera', () => undefined),
    /is a ROS 1 bag: daydrive reads ROS 2 bags/,
  );
  const sqlite = join(root, 'sqlite');
  await mkdir(sqlite);
  await writeFile(
    join(sqlite, 'metadata.yaml'),
    'rosbag2_bagfile_information:\n  version: 5\n  storage_identifier: sqlite3\n  relative_file_paths: [sqlite_0.db3]\n',
  );
  await assert.rejects(
    readMcapImages(sqlite, '/camera', () => undefined),
    /stored in sqlite3, not mcap: convert it/,
  );
  const empty = join(root, 'empty');
  await mkdir(empty);
  await assert.rejects(
    readMcapImages(empty, '/camera', () => undefined),
    /not a rosbag2 directory/,
  );
  // Through the CLI: one line, exit 2, and --out is not created.
  const refused = await collectFromBag(ros1, '/camera', join(root, 'out'));
  assert.equal(refused.code, 2);
  assert.match(refused.stderr.trim(), /^.*ROS 1 bag.*$/);
  assert.ok(!(await readdir(root)).includes('out'));
});
