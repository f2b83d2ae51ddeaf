import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { z } from 'zod';
import { UserError } from './errors.js';
import { writeFileSafely } from './files.js';

/**
 * TensorFlow.js on-disk formats without tfjs-node (whose file:// handler we cannot rely on):
 * a layers model as model.json + weights.bin, and named tensors as a weights manifest + .bin.
 * The files are the standard TF.js ones, so tfjs-node's `file://` loader reads them too.
 */

function toBuffer(data: ArrayBuffer | ArrayBuffer[]): Uint8Array {
  if (data instanceof ArrayBuffer) return new Uint8Array(data);
  return new Uint8Array(tf.io.concatenateArrayBuffers(data));
}

async function readFileOrExplain(path: string, what: string): Promise<Buffer> {
  try {
    return await readFile(path);
  } catch (err) {
    throw new UserError(`cannot read ${what} ${path}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
  }
}

/** A TF.js weights manifest: groups of weight files and the tensors they hold. */
const weightsManifestSchema = z.array(
  z
    .object({
      paths: z.array(z.string()),
      weights: z.array(
        z.object({ name: z.string(), shape: z.array(z.number().int().min(0)), dtype: z.string() }).loose(),
      ),
    })
    .loose(),
);

/** Checks a parsed manifest's shape, so a damaged one (`{}`) is one line naming the file, not a TypeError. */
function checkManifest(raw: unknown, path: string): tf.io.WeightsManifestConfig {
  const parsed = weightsManifestSchema.safeParse(raw);
  if (!parsed.success)
    throw new UserError(`${path} is not a TF.js weights manifest (a list of {paths, weights}): the file is damaged`);
  return parsed.data as tf.io.WeightsManifestConfig;
}

function bufferToArrayBuffer(buf: Uint8Array): ArrayBuffer {
  return buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength) as ArrayBuffer;
}

/** Saves a tf.LayersModel as `dir/model.json` + `dir/weights.bin`. */
export async function saveLayersModel(model: tf.LayersModel, dir: string): Promise<void> {
  await model.save(
    tf.io.withSaveHandler(async (artifacts) => {
      const weightData = artifacts.weightData === undefined ? new Uint8Array() : toBuffer(artifacts.weightData);
      const modelJson = {
        modelTopology: artifacts.modelTopology,
        format: 'layers-model',
        generatedBy: artifacts.generatedBy,
        convertedBy: artifacts.convertedBy ?? null,
        trainingConfig: artifacts.trainingConfig,
        weightsManifest: [{ paths: ['weights.bin'], weights: artifacts.weightSpecs ?? [] }],
      };
      await writeFileSafely(join(dir, 'weights.bin'), weightData);
      await writeFileSafely(join(dir, 'model.json'), JSON.stringify(modelJson));
      return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
    }),
  );
}

/** Loads what saveLayersModel wrote; a missing or corrupt file is a UserError naming it. */
export async function loadLayersModel(dir: string): Promise<tf.LayersModel> {
  const jsonPath = join(dir, 'model.json');
  const raw = await readFileOrExplain(jsonPath, 'model');
  let parsed: tf.io.ModelJSON;
  try {
    parsed = JSON.parse(raw.toString('utf8')) as tf.io.ModelJSON;
  } catch (err) {
    throw new UserError(`${jsonPath} is not valid JSON: ${(err as Error).message}`);
  }
  if (typeof parsed !== 'object' || parsed === null) throw new UserError(`${jsonPath} is not a TF.js model file`);
  const manifest = checkManifest(parsed.weightsManifest ?? [], jsonPath);
  const specs = manifest.flatMap((group) => group.weights);
  const chunks = await Promise.all(
    manifest.flatMap((group) => group.paths).map((p) => readFileOrExplain(join(dir, p), 'weights')),
  );
  const weightData = bufferToArrayBuffer(Buffer.concat(chunks));
  try {
    return await tf.loadLayersModel(
      tf.io.fromMemory({ modelTopology: parsed.modelTopology, weightSpecs: specs, weightData }),
    );
  } catch (err) {
    throw new UserError(`cannot load model from ${dir}: ${(err as Error).message.split('\n')[0]}`);
  }
}

/** Saves named tensors as `dir/<name>.json` (a TF.js weights manifest) and `dir/<name>.bin`. */
export async function saveNamedTensors(dir: string, name: string, tensors: Record<string, tf.Tensor>): Promise<void> {
  const { data, specs } = await tf.io.encodeWeights(tensors);
  await writeFileSafely(join(dir, `${name}.bin`), toBuffer(data));
  await writeFileSafely(join(dir, `${name}.json`), JSON.stringify([{ paths: [`${name}.bin`], weights: specs }]));
}

/** Loads what saveNamedTensors wrote. The caller owns (and must dispose) the tensors. */
export async function loadNamedTensors(dir: string, name: string): Promise<Record<string, tf.Tensor>> {
  const jsonPath = join(dir, `${name}.json`);
  const raw = await readFileOrExplain(jsonPath, 'weights manifest');
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw.toString('utf8'));
  } catch (err) {
    throw new UserError(`${jsonPath} is not valid JSON: ${(err as Error).message}`);
  }
  const manifest = checkManifest(parsed, jsonPath);
  const specs = manifest.flatMap((group) => group.weights);
  const chunks = await Promise.all(
    manifest.flatMap((group) => group.paths).map((p) => readFileOrExplain(join(dir, p), 'weights')),
  );
  const data = Buffer.concat(chunks);
  const expected = specs.reduce((sum, s) => sum + s.shape.reduce((a, b) => a * b, 1) * bytesPerElement(s.dtype), 0);
  if (data.byteLength !== expected) {
    throw new UserError(
      `${dir}/${name}.bin holds ${data.byteLength} bytes, the manifest needs ${expected}: the file is truncated or corrupt`,
    );
  }
  return tf.io.decodeWeights(bufferToArrayBuffer(data), specs);
}

function bytesPerElement(dtype: string): number {
  if (dtype === 'float32' || dtype === 'int32') return 4;
  if (dtype === 'bool') return 1;
  throw new UserError(`unsupported weight dtype ${dtype}`);
}
