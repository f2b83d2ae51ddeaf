import type { Command } from 'commander';
import { basename, resolve } from 'node:path';
import cliProgress from 'cli-progress';
import { simConfigSchema } from '../../sim/index.js';
import { initBackend } from '../core/backend.js';
import { parseWith, readConfigFile } from '../core/config.js';
import { UserError } from '../core/errors.js';
import { checkOutputDir, warnReplacing, writeOutputDirectory, writeOutputMarker } from '../core/out-dir.js';
import { log } from '../core/logger.js';
import { FrameWriter } from '../vision/dataset.js';
import { bagFiles, readMcapImages } from '../vision/mcap.js';
import { BagWriter } from '../vision/bag-writer.js';
import { DECODER_SUBDIR, ENCODER_SUBDIR, GRID_FILE, MODEL_CARD_FILE, VAE_META_FILE } from '../vision/model-files.js';
import { BAG_TOPICS } from '../vision/ros-schemas.js';
import { trainVae } from '../vision/trainer.js';
import { parseVaeConfig } from '../vision/vae.js';
import {
  addCommand,
  choiceOption,
  FORCE_HELP,
  OUT_RULE,
  parseFloatArg,
  parseIntArg,
  type CommonOptions,
} from './command.js';
import { DEFAULT_SIM_COLLECT, collectSimFrames, recordSimBag } from '../jobs/vae-collect.js';

interface CollectOptions extends CommonOptions {
  out: string;
  force?: boolean;
  episodes?: number;
  seed: number;
  bag?: string;
  topic?: string;
  stepsPerEpisode: number;
  frameEvery?: number;
  maxFrames?: number;
  config?: string;
  format: 'frames' | 'bag';
}

interface TrainOptions extends CommonOptions {
  data: string;
  out: string;
  force?: boolean;
  epochs: number;
  batchSize: number;
  lr: number;
  latent?: number;
  width?: number;
  height?: number;
  crop?: number;
  beta?: number;
  klTolerance?: number;
  auxWeight?: number;
  validation: number;
  patience: number;
  seed: number;
  resume?: boolean;
  maxFrames?: number;
  config?: string;
  auxTargets?: 'odometry' | 'ground-truth';
  augment?: 'none' | 'photometric';
  probeData?: string;
}

const VAE_TRAIN = 'vae train';

/** What `vae train` writes into --out (src/vision/trainer.ts): the model files and its checkpoint directory. */
const VAE_MODEL_ENTRIES = [ENCODER_SUBDIR, DECODER_SUBDIR, VAE_META_FILE, MODEL_CARD_FILE, GRID_FILE, 'checkpoint'];

/** This invocation as a `daydrive` command (without --json), for dataset.json and the model card. */
function commandLine(): string {
  return ['daydrive', ...process.argv.slice(2).filter((a) => a !== '--json')].join(' ');
}

function counterBar(label: string, total: number): cliProgress.SingleBar | null {
  if (!process.stderr.isTTY) return null;
  const bar = new cliProgress.SingleBar(
    { format: `${label} [{bar}] {value}/{total} | ETA {eta}s`, stream: process.stderr, hideCursor: true },
    cliProgress.Presets.shades_classic,
  );
  bar.start(total, 0);
  return bar;
}

async function collectFromSim(opts: CollectOptions): Promise<Record<string, unknown>> {
  const raw = opts.config ? await readConfigFile(opts.config) : {};
  const config = parseWith(simConfigSchema, raw, opts.config ? `config ${opts.config}` : 'simulator config');
  const episodes = opts.episodes!;
  const bar = counterBar('episodes', episodes);
  let result: { frames: number; interventions: number; roadSeeds: number[] } = {
    frames: 0,
    interventions: 0,
    roadSeeds: [],
  };
  await writeOutputDirectory(opts.out, { command: 'vae collect', force: opts.force === true }, async (tmp) => {
    const writer = new FrameWriter(tmp);
    result = await collectSimFrames(
      config,
      {
        ...DEFAULT_SIM_COLLECT,
        episodes,
        seed: opts.seed,
        stepsPerEpisode: opts.stepsPerEpisode,
        frameEvery: opts.frameEvery ?? DEFAULT_SIM_COLLECT.frameEvery,
      },
      async (frame) => {
        await writer.add(frame.image, frame.record);
      },
      (done) => {
        bar?.update(done);
        if (!bar) log.debug({ episode: done, frames: writer.count }, 'episode collected');
      },
    );
    await writer.finish({
      source: 'sim',
      episodes,
      camera: { widthPx: config.camera.widthPx, heightPx: config.camera.heightPx },
      seed: opts.seed,
      command: commandLine(),
      policy: `noisy pure pursuit (random lane offsets, OU steering noise) with random-action bursts; ${opts.stepsPerEpisode} steps per road, a frame every ${opts.frameEvery ?? DEFAULT_SIM_COLLECT.frameEvery}`,
    });
  });
  bar?.stop();
  return {
    out: opts.out,
    source: 'sim',
    frames: result.frames,
    episodes,
    seed: opts.seed,
    interventions: result.interventions,
    camera: { widthPx: config.camera.widthPx, heightPx: config.camera.heightPx },
  };
}

/** A pause longer than this between two frames of a bag starts a new segment (an episode: the car was stopped or put back). */
const SEGMENT_GAP_NS = 1_000_000_000n;

async function collectFromBag(opts: CollectOptions): Promise<Record<string, unknown>> {
  const bag = opts.bag!;
  const topic = opts.topic;
  if (!topic) throw new UserError(`--bag needs --topic (the camera topic, e.g. ${BAG_TOPICS.camera})`);
  await bagFiles(bag); // a path that is no ROS 2 MCAP bag is refused before --out is touched
  let stats: Awaited<ReturnType<typeof readMcapImages>> | null = null;
  let camera: { widthPx: number; heightPx: number } | undefined;
  let episode = 0;
  let lastNs: bigint | null = null;
  await writeOutputDirectory(opts.out, { command: 'vae collect', force: opts.force === true }, async (tmp) => {
    const writer = new FrameWriter(tmp);
    stats = await readMcapImages(
      bag,
      topic,
      async (frame) => {
        camera ??= { widthPx: frame.image.width, heightPx: frame.image.height };
        if (lastNs !== null && frame.logTimeNs - lastNs > SEGMENT_GAP_NS) episode++;
        lastNs = frame.logTimeNs;
        const o = frame.odometry;
        const c = frame.command;
        await writer.add(frame.image, {
          episode,
          step: frame.messageIndex,
          timestampNs: frame.logTimeNs.toString(),
          ...(o ? { odomXM: o.xM, odomYM: o.yM, odomYawRad: o.yawRad, speedMps: o.speedMps } : {}),
          ...(c ? { commandSteeringRad: c.steeringRad, commandSpeedMps: c.speedMps, steeringRad: c.steeringRad } : {}),
        });
        if (writer.count % 500 === 0) log.info({ frames: writer.count }, 'frames read from bag');
      },
      { every: opts.frameEvery ?? 1, ...(opts.maxFrames !== undefined ? { maxFrames: opts.maxFrames } : {}) },
    );
    if (writer.count === 0)
      throw new UserError(
        `no decodable images on ${topic} in ${bag} (${stats.skipped} skipped: ${JSON.stringify(stats.skippedByReason)})`,
      );
    await writer.finish({
      source: 'bag',
      episodes: episode + 1,
      bag: resolve(bag),
      topic,
      skippedMessages: stats.skipped,
      skippedChunks: stats.skippedChunks.length,
      command: commandLine(),
      ...(camera ? { camera } : {}),
    });
  });
  const s = stats!;
  if (s.skipped > 0)
    log.warn({ skipped: s.skipped, reasons: s.skippedByReason }, 'messages that did not decode were skipped');
  if (s.skippedChunks.length > 0)
    log.warn(
      { chunks: s.skippedChunks.length, at: s.skippedChunks.map((c) => `${c.file}@${c.offset}`) },
      'unreadable chunks were skipped: their frames are missing',
    );
  if (!s.complete)
    log.warn({ bag }, 'the bag ends without an MCAP footer (recording cut short?): kept the frames before the cut');
  return {
    out: opts.out,
    source: 'bag',
    bag,
    files: s.files,
    topic,
    schema: s.schema,
    messages: s.messages,
    frames: s.frames,
    segments: episode + 1,
    skipped: s.skipped,
    skippedByReason: s.skippedByReason,
    skippedChunks: s.skippedChunks,
    complete: s.complete,
    odometryMessages: s.odometryMessages,
    commandMessages: s.commandMessages,
  };
}

/** The simulator's drive recorded as a car records it: a rosbag2 directory at --out. */
async function collectSimBag(opts: CollectOptions): Promise<Record<string, unknown>> {
  const raw = opts.config ? await readConfigFile(opts.config) : {};
  const config = parseWith(simConfigSchema, raw, opts.config ? `config ${opts.config}` : 'simulator config');
  const episodes = opts.episodes!;
  const bar = counterBar('episodes', episodes);
  let result: { frames: number; interventions: number; roadSeeds: number[] } = {
    frames: 0,
    interventions: 0,
    roadSeeds: [],
  };
  let messages = 0;
  await writeOutputDirectory(opts.out, { command: 'vae collect', force: opts.force === true }, async (tmp) => {
    const bag = await BagWriter.create(tmp, { name: basename(opts.out) });
    result = await recordSimBag(
      config,
      {
        ...DEFAULT_SIM_COLLECT,
        episodes,
        seed: opts.seed,
        stepsPerEpisode: opts.stepsPerEpisode,
        frameEvery: opts.frameEvery ?? DEFAULT_SIM_COLLECT.frameEvery,
      },
      bag,
      (done) => bar?.update(done),
    );
    messages = (await bag.finish()).messages;
  });
  bar?.stop();
  return {
    out: opts.out,
    source: 'sim',
    format: 'bag',
    frames: result.frames,
    messages,
    episodes,
    seed: opts.seed,
    interventions: result.interventions,
    topics: BAG_TOPICS,
  };
}

/** `daydrive vae collect` and `daydrive vae train` (see docs/vision.md). */
export function registerVae(program: Command): void {
  const vae = program.command('vae').description('VAE pretraining: collect camera frames, train the VAE');
  addCommand<CollectOptions>(
    vae,
    'collect',
    'save camera frames (PNG + index.jsonl) from the simulator (--episodes), record the simulator as a rosbag2 bag (--episodes --format bag), or read a ROS 2 bag (--bag --topic)',
    (cmd) =>
      cmd
        .requiredOption(
          '--out <dir>',
          `output dataset directory: created, or replaced when it holds this command's earlier output (${OUT_RULE})`,
        )
        .option('--force', FORCE_HELP)
        .option('--episodes <n>', 'simulator: number of episodes (one new road each)', parseIntArg(1, 100_000))
        .option('--seed <n>', 'simulator: seed of the road seeds and the driver noise', parseIntArg(0, 0x7fffffff), 0)
        .option(
          '--steps-per-episode <n>',
          'simulator: policy steps (0.1 s) per episode',
          parseIntArg(1, 1_000_000),
          DEFAULT_SIM_COLLECT.stepsPerEpisode,
        )
        .option(
          '--frame-every <n>',
          `keep one frame every n steps (simulator, default ${DEFAULT_SIM_COLLECT.frameEvery}) or messages (bag, default 1)`,
          parseIntArg(1, 100_000),
        )
        .option('--config <file>', 'simulator: config (YAML/JSON; the camera section sets the frame size)')
        .addOption(
          choiceOption(
            '--format <kind>',
            'simulator: frames (PNG dataset with ground-truth labels, for probes) or bag (a rosbag2 directory as a car records it: JPEG camera, odometry, driver commands)',
            ['frames', 'bag'],
            'frames',
          ),
        )
        .option(
          '--bag <path>',
          'a ROS 2 bag: a rosbag2 directory (metadata.yaml + .mcap) or one .mcap file (sensor_msgs/msg/Image or CompressedImage; odometry and Ackermann commands are read beside the frames)',
        )
        .option('--topic <name>', 'bag: the camera topic')
        .option('--max-frames <n>', 'bag: stop after this many frames', parseIntArg(1, 10_000_000)),
    async (_args, opts) => {
      if ((opts.episodes === undefined) === (opts.bag === undefined))
        throw new UserError('give either --episodes N (simulator) or --bag FILE.mcap --topic TOPIC');
      if (opts.format === 'bag' && opts.bag !== undefined)
        throw new UserError('--format bag writes a simulator drive as a bag: it takes --episodes, not --bag');
      return opts.bag !== undefined
        ? collectFromBag(opts)
        : opts.format === 'bag'
          ? collectSimBag(opts)
          : collectFromSim(opts);
    },
    (r) =>
      `wrote ${String(r.frames)} frames to ${String(r.out)}${r.skipped ? ` (${String(r.skipped)} messages skipped)` : ''}`,
  );

  addCommand<TrainOptions>(
    vae,
    'train',
    'train the VAE on a frame dataset; writes the TF.js model, MODEL_CARD.md and reconstructions.png',
    (cmd) =>
      cmd
        .requiredOption('--data <dir>', 'dataset directory from `vae collect`')
        .requiredOption(
          '--out <dir>',
          `model directory (checkpoints in OUT/checkpoint): created, or its own earlier model replaced (${OUT_RULE})`,
        )
        .option('--force', FORCE_HELP)
        .option('--epochs <n>', 'total epochs (a resumed run continues up to this number)', parseIntArg(1, 100_000), 20)
        .option('--batch-size <n>', 'images per optimisation step', parseIntArg(1, 4096), 64)
        .option('--lr <x>', 'Adam learning rate', parseFloatArg(1e-7, 1), 1e-3)
        .option('--latent <n>', 'latent size (default 32)', parseIntArg(1, 1024))
        .option('--width <px>', 'model input width (default 64)', parseIntArg(8, 1024))
        .option('--height <px>', 'model input height (default 64)', parseIntArg(8, 1024))
        .option(
          '--crop <fraction>',
          'fraction of the image height cropped off the top (sky; default 0.4)',
          parseFloatArg(0, 0.95),
        )
        .option('--beta <x>', 'weight of the KL term (default 1)', parseFloatArg(0, 100))
        .option('--kl-tolerance <nats>', 'KL floor per latent dimension (default 0.5)', parseFloatArg(0, 100))
        .option('--aux-weight <x>', 'weight of the auxiliary linear head (0 = plain VAE)', parseFloatArg(0, 10_000))
        .addOption(
          choiceOption(
            '--aux-targets <kind>',
            'what the head predicts: odometry (from a bag: where the car came from 1-4 s before and went 1-2 s after each frame) or ground-truth (simulator cross-track and heading error: a simulator-only ablation)',
            ['odometry', 'ground-truth'],
          ),
        )
        .addOption(
          choiceOption(
            '--augment <kind>',
            'photometric: reconstruct the clean frame from one with light and colour changed (denoising); none',
            ['none', 'photometric'],
          ),
        )
        .option(
          '--probe-data <dir>',
          'labelled simulator frames of other roads (vae collect --episodes) for the latent probes, when the training data has no labels',
        )
        .option('--validation <fraction>', 'fraction of episodes held out for validation', parseFloatArg(0, 0.9), 0.15)
        .option('--patience <n>', 'stop after n epochs without a better validation loss', parseIntArg(1, 1000), 4)
        .option('--seed <n>', 'seed of the initial weights, the split and the batches', parseIntArg(0, 0x7fffffff), 0)
        .option('--resume', 'continue from OUT/checkpoint (its settings win over the flags)')
        .option('--max-frames <n>', 'use at most n frames (evenly spaced)', parseIntArg(1, 10_000_000))
        .option(
          '--config <file>',
          'VAE config (YAML/JSON: inputWidth, inputHeight, skyCropFraction, latentSize, filters, beta, klToleranceNats, auxiliaryWeight, auxiliaryTargets, augmentation); flags override it',
        ),
    async (_args, opts) => {
      const fromFile = opts.config ? ((await readConfigFile(opts.config)) as Record<string, unknown>) : {};
      const flags: Record<string, unknown> = {};
      if (opts.latent !== undefined) flags.latentSize = opts.latent;
      if (opts.width !== undefined) flags.inputWidth = opts.width;
      if (opts.height !== undefined) flags.inputHeight = opts.height;
      if (opts.crop !== undefined) flags.skyCropFraction = opts.crop;
      if (opts.beta !== undefined) flags.beta = opts.beta;
      if (opts.klTolerance !== undefined) flags.klToleranceNats = opts.klTolerance;
      if (opts.auxWeight !== undefined) flags.auxiliaryWeight = opts.auxWeight;
      if (opts.auxTargets !== undefined) flags.auxiliaryTargets = opts.auxTargets;
      if (opts.augment !== undefined) flags.augmentation = opts.augment;
      const config = parseVaeConfig(
        { ...fromFile, ...flags },
        opts.config ? `VAE config ${opts.config} with flags` : 'VAE options',
      );
      if (!opts.resume) {
        // Before any training: a model is never overwritten unless it is this command's own.
        const state = await checkOutputDir(opts.out, { command: VAE_TRAIN, force: opts.force === true });
        if (state.kind === 'own') warnReplacing(opts.out, VAE_TRAIN, state.marker);
        // Marked at the start: a run cut short leaves a directory recognisably this command's.
        await writeOutputMarker(opts.out, VAE_TRAIN, VAE_MODEL_ENTRIES);
      }
      const backend = await initBackend();
      if (backend.name === 'cpu') log.warn('training on the cpu backend is ~100x slower than wasm');
      const result = await trainVae({
        dataDir: opts.data,
        outDir: opts.out,
        epochs: opts.epochs,
        config,
        batchSize: opts.batchSize,
        learningRate: opts.lr,
        validationFraction: opts.validation,
        patience: opts.patience,
        seed: opts.seed,
        resume: opts.resume === true,
        progress: true,
        command: commandLine(),
        ...(opts.maxFrames !== undefined ? { maxFrames: opts.maxFrames } : {}),
        ...(opts.probeData !== undefined ? { probeDataDir: opts.probeData } : {}),
      });
      await writeOutputMarker(opts.out, VAE_TRAIN, VAE_MODEL_ENTRIES);
      const s = result.summary;
      return {
        out: result.outDir,
        backend: backend.name,
        resumedFromEpoch: result.resumedFromEpoch,
        epochs: s.epochs,
        bestEpoch: s.bestEpoch,
        stoppedEarly: s.stoppedEarly,
        frames: s.data.frames,
        validationLoss: s.validation.loss,
        validationReconstruction: s.validation.reconstruction,
        validationKl: s.validation.kl,
        imagesPerSecond: Math.round(s.imagesPerSecond),
        probes: s.probes ?? {},
      };
    },
    (r) =>
      `trained to epoch ${String(r.epochs)} (best ${String(r.bestEpoch)}), validation loss ${Number(r.validationLoss).toFixed(2)}; R^2 ${JSON.stringify(r.probes)}; model in ${String(r.out)}`,
  );
}
