import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import cliProgress from 'cli-progress';
import { z } from 'zod';
import { parseWith } from '../core/config.js';
import type { RgbImage } from '../core/env.js';
import { UserError } from '../core/errors.js';
import { exists, readJson, replaceDirectory, writeFileSafely, writeJsonSafely } from '../core/files.js';
import { log } from '../core/logger.js';
import { Rng } from '../core/rng.js';
import { loadLayersModel, loadNamedTensors, saveLayersModel, saveNamedTensors } from '../core/tfjs-io.js';
import { loadFrames, readFrameIndex, splitByEpisode, type FrameRecord, type FrameTensorData } from './dataset.js';
import {
  DECODER_SUBDIR,
  ENCODER_SUBDIR,
  GRID_FILE,
  MODEL_CARD_FILE,
  VAE_META_FILE,
  lossHistorySchema,
  makeVaeMeta,
  type VaeTrainingSummary,
} from './model-files.js';
import { normalise } from './preprocess.js';
import { applyPhotometricChange, drawPhotometricChange } from './augment.js';
import { ODOMETRY_TARGET_NAMES, odometryTargets } from './odometry-targets.js';
import { fitLinear, predictLinear, rSquared } from './regression.js';
import { modelCardMarkdown, reconstructionGridPng } from './report.js';
import { Vae, preprocessOptionsOf, vaeConfigSchema, type VaeConfig, type VaeLosses } from './vae.js';
import { clamp } from '../core/math.js';

/**
 * `daydrive vae train`: trains the VAE on a frame dataset (src/vision/dataset.ts) with a
 * held-out validation split (whole episodes), early stopping on the validation loss, a
 * checkpoint after every epoch (OUT/checkpoint: resume with `resume: true`), and writes the
 * best epoch's model, its card and a reconstruction grid to OUT.
 */

export interface VaeTrainOptions {
  readonly dataDir: string;
  readonly outDir: string;
  /** Total epochs (a resumed run continues up to this number). */
  readonly epochs: number;
  readonly config: VaeConfig;
  readonly batchSize?: number;
  readonly learningRate?: number;
  readonly validationFraction?: number;
  /** Stop after this many epochs without a better validation loss. */
  readonly patience?: number;
  readonly seed?: number;
  readonly resume?: boolean;
  /** Show progress bars (stderr, terminals only). */
  readonly progress?: boolean;
  /** Use at most this many frames (evenly spaced; for quick runs). */
  readonly maxFrames?: number;
  /** The command line, recorded in the model card. */
  readonly command?: string;
  /**
   * Labelled simulator frames of other roads for the latent probes (fitted on half of their
   * roads, scored on the other half): how a VAE trained on a bag, which has no labels, is checked.
   */
  readonly probeDataDir?: string;
}

export interface VaeTrainResult {
  readonly outDir: string;
  readonly summary: VaeTrainingSummary;
  readonly resumedFromEpoch: number;
}

const CHECKPOINT_SUBDIR = 'checkpoint';
const STATE_FILE = 'state.json';

const checkpointStateSchema = z.object({
  epoch: z.number().int(),
  config: vaeConfigSchema,
  dataDir: z.string(),
  frames: z.number().int(),
  batchSize: z.number().int(),
  learningRate: z.number(),
  validationFraction: z.number(),
  patience: z.number().int(),
  seed: z.number().int(),
  /** Targets of the auxiliary head (0: none). */
  auxiliaryTargets: z.number().int().default(0),
  rngState: z.array(z.number()),
  bestEpoch: z.number().int(),
  /** null before the first epoch (JSON has no Infinity). */
  bestValidationLoss: z.number().nullable(),
  epochsWithoutImprovement: z.number().int(),
  stoppedEarly: z.boolean(),
  trainSeconds: z.number(),
  imagesSeen: z.number(),
  history: lossHistorySchema,
});
type CheckpointState = z.output<typeof checkpointStateSchema>;

/** Copies of the best epoch's weights, by name. */
type WeightSnapshot = Record<string, tf.Tensor>;

function snapshot(vae: Vae): WeightSnapshot {
  const out: WeightSnapshot = {};
  vae.encoder.weights.forEach((w, i) => (out[`encoder/${i}`] = tf.clone(w.read())));
  vae.decoder.weights.forEach((w, i) => (out[`decoder/${i}`] = tf.clone(w.read())));
  if (vae.head) Object.assign(out, headTensors(vae, tf.clone));
  return out;
}

/** The auxiliary head's weights by name (`head/weights`, `head/bias`), through `f`. */
function headTensors(vae: Vae, f: (t: tf.Tensor) => tf.Tensor = (t) => t): WeightSnapshot {
  return vae.head ? { 'head/weights': f(vae.head.weights), 'head/bias': f(vae.head.bias) } : {};
}

function restore(vae: Vae, snap: WeightSnapshot): void {
  const pick = (prefix: string, n: number): tf.Tensor[] =>
    Array.from({ length: n }, (_, i) => {
      const t = snap[`${prefix}/${i}`];
      if (t === undefined) throw new UserError(`checkpoint is missing weight ${prefix}/${i}`);
      return t;
    });
  vae.encoder.setWeights(pick('encoder', vae.encoder.weights.length));
  vae.decoder.setWeights(pick('decoder', vae.decoder.weights.length));
  if (vae.head) {
    const weights = snap['head/weights'];
    const bias = snap['head/bias'];
    if (weights === undefined || bias === undefined) throw new UserError('checkpoint is missing the auxiliary head');
    vae.head.weights.assign(weights);
    vae.head.bias.assign(bias);
  }
}

function disposeSnapshot(snap: WeightSnapshot | null): void {
  if (snap) Object.values(snap).forEach((t) => t.dispose());
}

/** Bytes of images `indices` -> a [B, H, W, 3] float tensor in [0, 1]. */
function batchTensor(data: FrameTensorData, indices: readonly number[]): tf.Tensor4D {
  return tf.tensor4d(batchPixels(data, indices), [indices.length, data.height, data.width, 3]);
}

function batchPixels(data: FrameTensorData, indices: readonly number[]): Float32Array {
  const size = data.width * data.height * 3;
  const buf = new Float32Array(indices.length * size);
  indices.forEach((idx, b) =>
    normalise(
      { width: data.width, height: data.height, data: data.images.subarray(idx * size, (idx + 1) * size) },
      buf,
      b * size,
    ),
  );
  return buf;
}

/** The clean batch and, with augmentation, its photometrically changed copy (src/vision/augment.ts) for the encoder. */
function trainingBatch(
  data: FrameTensorData,
  indices: readonly number[],
  augmentation: VaeConfig['augmentation'],
  rng: Rng,
): { input: tf.Tensor4D; clean?: tf.Tensor4D } {
  const clean = batchPixels(data, indices);
  const shape: [number, number, number, number] = [indices.length, data.height, data.width, 3];
  if (augmentation === 'none') return { input: tf.tensor4d(clean, shape) };
  const size = data.width * data.height * 3;
  const changed = new Float32Array(clean.length);
  for (let b = 0; b < indices.length; b++)
    applyPhotometricChange(clean, changed, b * size, size, drawPhotometricChange(rng));
  return { input: tf.tensor4d(changed, shape), clean: tf.tensor4d(clean, shape) };
}

/** Auxiliary targets of every frame, standardised with the training frames' mean and deviation; mask 0 where a frame has none. */
interface AuxTargets {
  readonly names: readonly string[];
  readonly count: number;
  /** [frames x count], row-major (0 where masked). */
  readonly values: Float32Array;
  readonly mask: Float32Array;
}

/** Raw targets [frames x names] (NaN: missing) -> standardised values and a mask. */
function standardise(
  names: readonly string[],
  raw: Float64Array,
  frames: number,
  train: readonly number[],
): AuxTargets {
  const count = names.length;
  const values = new Float32Array(frames * count);
  const mask = new Float32Array(frames * count);
  for (let k = 0; k < count; k++) {
    const ys = train.map((i) => raw[i * count + k]!).filter(Number.isFinite);
    const mean = ys.reduce((a, b) => a + b, 0) / Math.max(1, ys.length);
    const std = Math.sqrt(ys.reduce((a, b) => a + (b - mean) ** 2, 0) / Math.max(1, ys.length)) || 1;
    for (let i = 0; i < frames; i++) {
      const y = raw[i * count + k]!;
      if (Number.isFinite(y)) {
        values[i * count + k] = (y - mean) / std;
        mask[i * count + k] = 1;
      }
    }
  }
  return { names, count, values, mask };
}

/**
 * The auxiliary head's targets: 'odometry' from a bag's odometry and commands (null when the
 * frames have none), 'ground-truth' the simulator's PROBE_TARGETS (null when some frame lacks one).
 */
function auxTargets(
  records: readonly FrameRecord[],
  train: readonly number[],
  source: VaeConfig['auxiliaryTargets'],
): AuxTargets | null {
  if (source === 'odometry') {
    const raw = odometryTargets(records);
    return raw ? standardise(ODOMETRY_TARGET_NAMES, raw, records.length, train) : null;
  }
  if (!records.every((r) => PROBE_TARGETS.every((t) => Number.isFinite(t.get(r))))) return null;
  const raw = new Float64Array(records.length * PROBE_TARGETS.length);
  records.forEach((r, i) => PROBE_TARGETS.forEach((t, k) => (raw[i * PROBE_TARGETS.length + k] = t.get(r)!)));
  return standardise(
    PROBE_TARGETS.map((t) => t.name),
    raw,
    records.length,
    train,
  );
}

function targetTensor(
  targets: AuxTargets | null,
  indices: readonly number[],
): { y: tf.Tensor2D; mask: tf.Tensor2D } | undefined {
  if (!targets) return undefined;
  const n = targets.count;
  const buf = new Float32Array(indices.length * n);
  const mask = new Float32Array(indices.length * n);
  indices.forEach((idx, b) => {
    buf.set(targets.values.subarray(idx * n, (idx + 1) * n), b * n);
    mask.set(targets.mask.subarray(idx * n, (idx + 1) * n), b * n);
  });
  return { y: tf.tensor2d(buf, [indices.length, n]), mask: tf.tensor2d(mask, [indices.length, n]) };
}

function shuffled(indices: readonly number[], rng: Rng): number[] {
  const a = [...indices];
  for (let i = a.length - 1; i > 0; i--) {
    const j = rng.int(i + 1);
    [a[i], a[j]] = [a[j]!, a[i]!];
  }
  return a;
}

/** Running sums of per-image losses, weighted by batch size. */
class LossSum {
  private readonly sum = { loss: 0, reconstruction: 0, kl: 0, auxiliary: 0 };
  private n = 0;
  add(l: VaeLosses, images: number): void {
    this.sum.loss += l.loss * images;
    this.sum.reconstruction += l.reconstruction * images;
    this.sum.kl += l.kl * images;
    this.sum.auxiliary += l.auxiliary * images;
    this.n += images;
  }
  mean(): VaeLosses {
    const n = Math.max(this.n, 1);
    return {
      loss: this.sum.loss / n,
      reconstruction: this.sum.reconstruction / n,
      kl: this.sum.kl / n,
      auxiliary: this.sum.auxiliary / n,
    };
  }
}

/** Validation loss over `indices`, in batches. */
function evaluate(
  vae: Vae,
  data: FrameTensorData,
  targets: AuxTargets | null,
  indices: readonly number[],
  batchSize = 128,
): VaeLosses {
  const sum = new LossSum();
  for (let i = 0; i < indices.length; i += batchSize) {
    const idx = indices.slice(i, i + batchSize);
    const x = batchTensor(data, idx);
    const y = targetTensor(targets, idx);
    sum.add(vae.evaluate(x, y?.y, y?.mask), idx.length);
    tf.dispose([x, ...(y ? [y.y, y.mask] : [])]);
  }
  return sum.mean();
}

/** Latent means of `indices`. */
async function latents(
  vae: Vae,
  data: FrameTensorData,
  indices: readonly number[],
  batchSize = 256,
): Promise<Float32Array[]> {
  const out: Float32Array[] = [];
  for (let i = 0; i < indices.length; i += batchSize) {
    const idx = indices.slice(i, i + batchSize);
    const x = batchTensor(data, idx);
    const mu = vae.encodeMean(x);
    const flat = (await mu.data()) as Float32Array;
    x.dispose();
    mu.dispose();
    const d = vae.config.latentSize;
    for (let b = 0; b < idx.length; b++) out.push(flat.slice(b * d, (b + 1) * d));
  }
  return out;
}

/** Probe (and auxiliary) targets recorded with simulator frames. */
const PROBE_TARGETS: readonly { name: string; get: (r: FrameRecord) => number | undefined }[] = [
  { name: 'crossTrackErrorM', get: (r) => r.crossTrackErrorM },
  { name: 'headingErrorRad', get: (r) => r.headingErrorRad },
];

/**
 * R^2 of linear probes from the latent mean: fitted on training frames, scored on validation
 * frames (other roads). Targets missing from the records are left out.
 */
export async function latentProbes(
  vae: Vae,
  data: FrameTensorData,
  train: readonly number[],
  validation: readonly number[],
): Promise<{ r2: Record<string, number>; models: Record<string, { weights: number[]; bias: number }> }> {
  const r2: Record<string, number> = {};
  const models: Record<string, { weights: number[]; bias: number }> = {};
  const usable = PROBE_TARGETS.filter((t) =>
    [...train, ...validation].every((i) => Number.isFinite(t.get(data.records[i]!))),
  );
  if (usable.length === 0 || validation.length < 10 || train.length < 10) return { r2, models };
  const zTrain = await latents(vae, data, train);
  const zVal = await latents(vae, data, validation);
  for (const t of usable) {
    const model = fitLinear(
      zTrain,
      train.map((i) => t.get(data.records[i]!)!),
    );
    r2[t.name] = rSquared(
      validation.map((i) => t.get(data.records[i]!)!),
      zVal.map((z) => predictLinear(model, z)),
    );
    models[t.name] = { weights: Array.from(model.weights), bias: model.bias };
  }
  return { r2, models };
}

async function gridPng(vae: Vae, data: FrameTensorData, indices: readonly number[], count = 16): Promise<Buffer> {
  const step = Math.max(1, Math.floor(indices.length / count));
  const pick = indices.filter((_, i) => i % step === 0).slice(0, count);
  const x = batchTensor(data, pick);
  const rec = vae.reconstruct(x);
  const flat = await rec.data();
  x.dispose();
  rec.dispose();
  const size = data.width * data.height * 3;
  const originals: RgbImage[] = pick.map((idx) => ({
    width: data.width,
    height: data.height,
    data: data.images.slice(idx * size, (idx + 1) * size),
  }));
  const recon: RgbImage[] = pick.map((_, b) => {
    const bytes = new Uint8Array(size);
    for (let i = 0; i < size; i++) bytes[i] = Math.round(clamp(flat[b * size + i]!, 0, 1) * 255);
    return { width: data.width, height: data.height, data: bytes };
  });
  return reconstructionGridPng(originals, recon);
}

async function saveCheckpoint(dir: string, vae: Vae, best: WeightSnapshot, state: CheckpointState): Promise<void> {
  const optimizerWeights = await vae.optimizer.getWeights();
  await replaceDirectory(dir, async (tmp) => {
    await saveLayersModel(vae.encoder, join(tmp, ENCODER_SUBDIR));
    await saveLayersModel(vae.decoder, join(tmp, DECODER_SUBDIR));
    if (vae.head) await saveNamedTensors(tmp, 'head', headTensors(vae));
    await saveNamedTensors(tmp, 'best', best);
    const opt: Record<string, tf.Tensor> = {};
    optimizerWeights.forEach((w, i) => (opt[`${String(i).padStart(4, '0')}:${w.name}`] = w.tensor));
    await saveNamedTensors(tmp, 'optimizer', opt);
    await writeJsonSafely(join(tmp, STATE_FILE), state);
  });
}

interface Resumed {
  readonly vae: Vae;
  readonly best: WeightSnapshot;
  readonly state: CheckpointState;
}

async function loadCheckpoint(dir: string): Promise<Resumed> {
  const state = parseWith(checkpointStateSchema, await readJson(join(dir, STATE_FILE)), join(dir, STATE_FILE));
  const encoder = await loadLayersModel(join(dir, ENCODER_SUBDIR));
  const decoder = await loadLayersModel(join(dir, DECODER_SUBDIR));
  const saved = state.auxiliaryTargets > 0 ? await loadNamedTensors(dir, 'head') : {};
  const head =
    saved['head/weights'] && saved['head/bias']
      ? { weights: saved['head/weights'], bias: saved['head/bias'] }
      : undefined;
  const vae = new Vae(state.config, {
    encoder,
    decoder,
    learningRate: state.learningRate,
    auxiliaryTargets: state.auxiliaryTargets,
    ...(head ? { head } : {}),
  });
  tf.dispose(Object.values(saved));
  const opt = await loadNamedTensors(dir, 'optimizer');
  const named = Object.keys(opt)
    .sort()
    .map((k) => ({ name: k.slice(k.indexOf(':') + 1), tensor: opt[k]! }));
  await vae.optimizer.setWeights(named);
  Object.values(opt).forEach((t) => t.dispose());
  const best = await loadNamedTensors(dir, 'best');
  return { vae, best, state };
}

function progressBar(enabled: boolean, label: string): cliProgress.SingleBar | null {
  if (!enabled || !process.stderr.isTTY) return null;
  return new cliProgress.SingleBar(
    {
      format: `${label} [{bar}] {percentage}% | {value}/{total} | ETA {eta}s | {status}`,
      hideCursor: true,
      clearOnComplete: false,
      stream: process.stderr,
    },
    cliProgress.Presets.shades_classic,
  );
}

/** Trains (or resumes) and writes the model; see the file comment. */
export async function trainVae(opts: VaeTrainOptions): Promise<VaeTrainResult> {
  const checkpointDir = join(opts.outDir, CHECKPOINT_SUBDIR);
  let resumed: Resumed | null = null;
  if (opts.resume) {
    if (!(await exists(join(checkpointDir, STATE_FILE))))
      throw new UserError(`nothing to resume: no checkpoint in ${checkpointDir}`);
    resumed = await loadCheckpoint(checkpointDir);
    const { epoch, stoppedEarly } = resumed.state;
    if (epoch >= opts.epochs || stoppedEarly) {
      resumed.vae.dispose();
      disposeSnapshot(resumed.best);
      throw new UserError(
        stoppedEarly
          ? `nothing to resume: training in ${opts.outDir} stopped early at epoch ${epoch} (no validation improvement)`
          : `nothing to resume: the checkpoint is already at epoch ${epoch} of --epochs ${opts.epochs} (raise --epochs)`,
      );
    }
  }
  const config = resumed?.state.config ?? opts.config;
  const batchSize = resumed?.state.batchSize ?? opts.batchSize ?? 64;
  const learningRate = resumed?.state.learningRate ?? opts.learningRate ?? 1e-3;
  const validationFraction = resumed?.state.validationFraction ?? opts.validationFraction ?? 0.15;
  const patience = resumed?.state.patience ?? opts.patience ?? 4;
  const seed = resumed?.state.seed ?? opts.seed ?? 0;
  if (resumed && resumed.state.dataDir !== opts.dataDir) {
    log.warn(
      { checkpoint: resumed.state.dataDir, now: opts.dataDir },
      'resuming with a different --data directory than the checkpoint was trained on',
    );
  }

  const index = await readFrameIndex(opts.dataDir);
  let records = index.records;
  if (opts.maxFrames !== undefined && records.length > opts.maxFrames) {
    const stride = records.length / opts.maxFrames;
    records = Array.from({ length: opts.maxFrames }, (_, i) => records[Math.floor(i * stride)]!);
  }
  const loadBar = progressBar(opts.progress ?? false, 'loading frames');
  loadBar?.start(records.length, 0, { status: '' });
  const data = await loadFrames({ ...index, records }, preprocessOptionsOf(config), (done) => loadBar?.update(done));
  loadBar?.stop();
  if (data.skipped.length > 0)
    log.warn({ skipped: data.skipped.length, first: data.skipped[0] }, 'frames that could not be read were skipped');
  if (resumed && resumed.state.frames !== data.records.length) {
    throw new UserError(
      `checkpoint was trained on ${resumed.state.frames} frames, ${opts.dataDir} now gives ${data.records.length}: resume with the same data`,
    );
  }
  const { train, validation } = splitByEpisode(data.records, validationFraction, seed);
  if (train.length === 0)
    throw new UserError(`dataset ${opts.dataDir} has too few frames to train on (${data.records.length})`);
  if (validation.length === 0) log.warn('no validation frames: early stopping uses the training loss');

  const targets = config.auxiliaryWeight > 0 ? auxTargets(data.records, train, config.auxiliaryTargets) : null;
  if (config.auxiliaryWeight > 0 && !targets) {
    throw new UserError(
      config.auxiliaryTargets === 'odometry'
        ? `frames of ${opts.dataDir} carry no odometry (collect them from a bag: vae collect --bag), so no odometry targets: use --aux-weight 0`
        : `frames of ${opts.dataDir} carry no simulator ground truth (cross-track and heading error): the ground-truth head needs simulator frames`,
    );
  }
  const vae = resumed?.vae ?? new Vae(config, { seed, learningRate, auxiliaryTargets: targets?.count ?? 0 });
  if ((vae.head === null) !== (targets === null))
    throw new UserError('the checkpoint and the data disagree on the auxiliary targets: resume with the same data');
  const rng = resumed ? Rng.fromState(resumed.state.rngState) : Rng.fromSeed(seed);
  let best: WeightSnapshot = resumed?.best ?? snapshot(vae);
  const history = [...(resumed?.state.history ?? [])];
  let bestEpoch = resumed?.state.bestEpoch ?? 0;
  let bestVal = resumed?.state.bestValidationLoss ?? Infinity;
  let stale = resumed?.state.epochsWithoutImprovement ?? 0;
  let stoppedEarly = resumed?.state.stoppedEarly ?? false;
  let trainSeconds = resumed?.state.trainSeconds ?? 0;
  let imagesSeen = resumed?.state.imagesSeen ?? 0;
  const startEpoch = resumed?.state.epoch ?? 0;

  try {
    for (let epoch = startEpoch + 1; epoch <= opts.epochs && !stoppedEarly; epoch++) {
      const order = shuffled(train, rng);
      const batches = Math.ceil(order.length / batchSize);
      const bar = progressBar(opts.progress ?? false, `epoch ${epoch}/${opts.epochs}`);
      bar?.start(batches, 0, { status: '' });
      const sum = new LossSum();
      const t0 = performance.now();
      for (let b = 0; b < batches; b++) {
        const idx = order.slice(b * batchSize, (b + 1) * batchSize);
        const x = trainingBatch(data, idx, config.augmentation, rng);
        const y = targetTensor(targets, idx);
        const l = vae.trainStep(x.input, rng.int(0x7fffffff), y?.y, {
          ...(y ? { mask: y.mask } : {}),
          ...(x.clean ? { clean: x.clean } : {}),
        });
        tf.dispose([x.input, ...(x.clean ? [x.clean] : []), ...(y ? [y.y, y.mask] : [])]);
        sum.add(l, idx.length);
        bar?.update(b + 1, {
          status: `loss ${l.loss.toFixed(1)} (recon ${l.reconstruction.toFixed(1)}, KL ${l.kl.toFixed(1)}${vae.head ? `, aux ${l.auxiliary.toFixed(2)}` : ''})`,
        });
      }
      bar?.stop();
      trainSeconds += (performance.now() - t0) / 1000;
      imagesSeen += order.length;
      const trainLosses = sum.mean();
      const valLosses = validation.length > 0 ? evaluate(vae, data, targets, validation) : trainLosses;
      history.push({ epoch, train: trainLosses, validation: valLosses });
      // An improvement must beat the best by 0.1% (noise in the last digits is not progress).
      if (!Number.isFinite(bestVal) || valLosses.loss < bestVal - 1e-3 * Math.abs(bestVal)) {
        bestVal = valLosses.loss;
        bestEpoch = epoch;
        stale = 0;
        disposeSnapshot(best);
        best = snapshot(vae);
      } else {
        stale++;
        if (stale >= patience) stoppedEarly = true;
      }
      log.info(
        {
          epoch,
          train: trainLosses.loss.toFixed(2),
          validation: valLosses.loss.toFixed(2),
          valRecon: valLosses.reconstruction.toFixed(2),
          valKl: valLosses.kl.toFixed(2),
          ...(vae.head ? { valAux: valLosses.auxiliary.toFixed(3) } : {}),
          best: bestEpoch,
        },
        stoppedEarly ? 'epoch done; stopping early (no validation improvement)' : 'epoch done',
      );
      await saveCheckpoint(checkpointDir, vae, best, {
        epoch,
        config,
        dataDir: opts.dataDir,
        frames: data.records.length,
        batchSize,
        learningRate,
        validationFraction,
        patience,
        seed,
        auxiliaryTargets: targets?.count ?? 0,
        rngState: rng.state(),
        bestEpoch,
        bestValidationLoss: Number.isFinite(bestVal) ? bestVal : null,
        epochsWithoutImprovement: stale,
        stoppedEarly,
        trainSeconds,
        imagesSeen,
        history,
      });
    }

    restore(vae, best);
    const bestRow = history.find((h) => h.epoch === bestEpoch) ?? history[history.length - 1]!;
    let probes = await latentProbes(vae, data, train, validation);
    let probeData: VaeTrainingSummary['probeData'];
    if (opts.probeDataDir !== undefined) {
      const probeIndex = await readFrameIndex(opts.probeDataDir);
      const probeFrames = await loadFrames(probeIndex, preprocessOptionsOf(config));
      const split = splitByEpisode(probeFrames.records, 0.5, seed + 1);
      probes = await latentProbes(vae, probeFrames, split.train, split.validation);
      if (Object.keys(probes.r2).length === 0)
        throw new UserError(
          `--probe-data ${opts.probeDataDir} has no cross-track and heading labels (collect it with vae collect --episodes, frames format)`,
        );
      probeData = {
        dir: opts.probeDataDir,
        frames: probeFrames.records.length,
        fitFrames: split.train.length,
        scoreFrames: split.validation.length,
        ...(probeIndex.meta.command ? { command: probeIndex.meta.command } : {}),
      };
    }
    const summary: VaeTrainingSummary = {
      data: {
        dir: opts.dataDir,
        source: index.meta.source,
        frames: data.records.length,
        trainFrames: train.length,
        validationFrames: validation.length,
        episodes: new Set(data.records.map((r) => r.episode)).size,
        ...(index.meta.camera ? { camera: index.meta.camera } : {}),
        ...(index.meta.seed !== undefined ? { seed: index.meta.seed } : {}),
        ...(index.meta.policy !== undefined ? { policy: index.meta.policy } : {}),
        ...(index.meta.command !== undefined ? { command: index.meta.command } : {}),
      },
      ...(opts.command !== undefined ? { command: opts.command } : {}),
      epochs: history[history.length - 1]!.epoch,
      bestEpoch: bestRow.epoch,
      stoppedEarly,
      batchSize,
      learningRate,
      seed,
      backend: tf.getBackend(),
      trainSeconds,
      imagesPerSecond: imagesSeen / Math.max(trainSeconds, 1e-9),
      train: bestRow.train,
      validation: bestRow.validation,
      ...(Object.keys(probes.r2).length > 0 ? { probes: probes.r2, probeModels: probes.models } : {}),
      ...(probeData ? { probeData } : {}),
      ...(targets ? { auxiliaryTargetNames: [...targets.names] } : {}),
      history,
    };
    const meta = makeVaeMeta(config, summary);
    await saveLayersModel(vae.encoder, join(opts.outDir, ENCODER_SUBDIR));
    await saveLayersModel(vae.decoder, join(opts.outDir, DECODER_SUBDIR));
    await writeJsonSafely(join(opts.outDir, VAE_META_FILE), meta);
    await writeFileSafely(join(opts.outDir, MODEL_CARD_FILE), modelCardMarkdown(meta));
    await writeFileSafely(
      join(opts.outDir, GRID_FILE),
      await gridPng(vae, data, validation.length > 0 ? validation : train),
    );
    return { outDir: opts.outDir, summary, resumedFromEpoch: startEpoch };
  } finally {
    disposeSnapshot(best);
    vae.dispose();
  }
}
