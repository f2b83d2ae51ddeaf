import * as tf from '@tensorflow/tfjs';
import { join } from 'node:path';
import { z } from 'zod';
import { parseWith } from '../core/config.js';
import { UserError } from '../core/errors.js';
import { readJson, writeJsonSafely } from '../core/files.js';
import { loadNamedTensors, saveNamedTensors } from '../core/tfjs-io.js';
import type { LearnerConfig } from './config.js';
import { rngStateSchema } from './config.js';
import type { DdpgModel } from './ddpg.js';
import { namedVariables } from './networks.js';
import type { AdamState } from './optimizer.js';
import type { PreparedReplayLoad, ReplayBuffer } from './replay.js';

/**
 * The learner's checkpoint directory (format daydrive-learner-v1): `learner.json` (sizes,
 * counters, the random stream), `networks.*` (online and target networks by name),
 * `optimizer.*` (Adam's moments) and the replay's files (replay-checkpoint.ts).
 */

const FORMAT = 'daydrive-learner-v1';

/** learner.json as writeLearnerCheckpoint writes it (`config` is informational: the tensors' shapes are what must match). */
const learnerMetaSchema = z.object({
  format: z.literal(FORMAT),
  stateSize: z.number().int().min(1),
  actionSize: z.number().int().min(1),
  config: z.record(z.string(), z.unknown()),
  updates: z.number().int().min(0),
  actorOptimizerStep: z.number().int().min(0),
  criticOptimizerStep: z.number().int().min(0),
  rng: rngStateSchema,
  pendingNStepTransitions: z.number().int().min(0).optional(),
});

/** What a checkpoint holds of a learner, and what it is checked against on reading. */
export interface LearnerCheckpointParts {
  readonly config: LearnerConfig;
  readonly stateSize: number;
  readonly actionSize: number;
  readonly model: DdpgModel;
  readonly replay: ReplayBuffer;
}

/** The learner's counters at saving. */
export interface LearnerCounters {
  readonly updates: number;
  readonly rng: number[];
  /** Steps held in half-filled n-step windows (informational: a resumed run starts them afresh). */
  readonly pendingNStepTransitions: number;
}

/** A checkpoint read and checked in full, not yet applied: `commit` applies it, `dispose` frees it. */
export interface PreparedLearnerLoad {
  readonly updates: number;
  readonly rng: number[];
  /** Copies the networks, the optimisers' state and the replay into the learner's parts (cannot fail on content). */
  commit(): void;
  dispose(): void;
}

function networkVariables(model: DdpgModel): Record<string, tf.Variable> {
  return { ...namedVariables(model.online, 'online/'), ...namedVariables(model.target, 'target/') };
}

/** A loaded tensor's values: finite (and >= 0 where asked), else a UserError naming `what` and the index. */
function checkFiniteValues(values: ArrayLike<number>, what: string, nonNegative = false): void {
  for (let i = 0; i < values.length; i++) {
    const v = values[i] as number;
    if (!Number.isFinite(v) || (nonNegative && v < 0))
      throw new UserError(`${what}: value ${i} is ${v}: must be finite${nonNegative ? ' and >= 0' : ''}`);
  }
}

export async function writeLearnerCheckpoint(
  dir: string,
  parts: LearnerCheckpointParts,
  counters: LearnerCounters,
): Promise<void> {
  const { model } = parts;
  await saveNamedTensors(dir, 'networks', networkVariables(model));
  const actorOpt = model.actorOptimizer.state();
  const criticOpt = model.criticOptimizer.state();
  const moments: Record<string, tf.Tensor> = {
    'actor/m': tf.tensor1d(actorOpt.m),
    'actor/v': tf.tensor1d(actorOpt.v),
    'critic/m': tf.tensor1d(criticOpt.m),
    'critic/v': tf.tensor1d(criticOpt.v),
  };
  try {
    await saveNamedTensors(dir, 'optimizer', moments);
  } finally {
    for (const t of Object.values(moments)) t.dispose();
  }
  await parts.replay.save(dir);
  await writeJsonSafely(join(dir, 'learner.json'), {
    format: FORMAT,
    stateSize: parts.stateSize,
    actionSize: parts.actionSize,
    config: parts.config,
    updates: counters.updates,
    actorOptimizerStep: actorOpt.step,
    criticOptimizerStep: criticOpt.step,
    rng: counters.rng,
    pendingNStepTransitions: counters.pendingNStepTransitions,
  });
}

/**
 * Reads a checkpoint written by writeLearnerCheckpoint, all of it, and checks it (format, sizes,
 * counters, every tensor's name and shape, file lengths, finite values) against `parts` without
 * changing them, so a refused checkpoint leaves the learner as it was. Problems are a one-line
 * UserError naming the file and the field.
 */
export async function readLearnerCheckpoint(dir: string, parts: LearnerCheckpointParts): Promise<PreparedLearnerLoad> {
  const metaPath = join(dir, 'learner.json');
  const raw = await readJson(metaPath);
  const format = (raw as { format?: unknown } | null)?.format;
  if (format !== FORMAT)
    throw new UserError(`${metaPath}: not a daydrive learner checkpoint (format ${String(format)})`);
  const meta = parseWith(learnerMetaSchema, raw, `learner checkpoint ${metaPath}`);
  if (meta.stateSize !== parts.stateSize || meta.actionSize !== parts.actionSize) {
    throw new UserError(
      `${metaPath}: state/action sizes ${meta.stateSize}/${meta.actionSize}, this learner has ${parts.stateSize}/${parts.actionSize}`,
    );
  }
  const { model } = parts;
  const ours = networkVariables(model);
  const loaded = await loadNamedTensors(dir, 'networks');
  let optimizer: Record<string, tf.Tensor> = {};
  const dispose = (): void => {
    for (const t of [...Object.values(loaded), ...Object.values(optimizer)]) t.dispose();
  };
  try {
    optimizer = await loadNamedTensors(dir, 'optimizer');
    const networksPath = join(dir, 'networks.bin');
    for (const [name, v] of Object.entries(ours)) {
      const t = loaded[name];
      if (!t) throw new UserError(`${dir}: checkpoint has no tensor ${name} (different network configuration?)`);
      if (t.shape.join('x') !== v.shape.join('x')) {
        throw new UserError(
          `${dir}: ${name} has shape [${t.shape.join(', ')}], this learner needs [${v.shape.join(', ')}]`,
        );
      }
      checkFiniteValues(t.dataSync(), `${networksPath}: ${name}`);
    }
    const extra = Object.keys(loaded).filter((k) => !(k in ours));
    if (extra.length > 0)
      throw new UserError(
        `${dir}: checkpoint has tensors this learner lacks (${extra.slice(0, 3).join(', ')}): different network configuration`,
      );
    const optimizerPath = join(dir, 'optimizer.bin');
    const get = (name: string, size: number, nonNegative: boolean): Float32Array => {
      const t = optimizer[name];
      if (!t) throw new UserError(`${dir}: optimizer state lacks ${name}`);
      if (t.size !== size)
        throw new UserError(`${dir}: optimizer ${name} has ${t.size} values, the networks need ${size}`);
      const values = t.dataSync() as Float32Array;
      checkFiniteValues(values, `${optimizerPath}: ${name}`, nonNegative);
      return values;
    };
    const actorSize = model.actorParams.size;
    const criticSize = model.criticParams.size;
    // Adam's second moments are averages of squares: never negative.
    const actorState: AdamState = {
      m: get('actor/m', actorSize, false),
      v: get('actor/v', actorSize, true),
      step: meta.actorOptimizerStep,
    };
    const criticState: AdamState = {
      m: get('critic/m', criticSize, false),
      v: get('critic/v', criticSize, true),
      step: meta.criticOptimizerStep,
    };
    const replay: PreparedReplayLoad = await parts.replay.prepareLoad(dir);
    return {
      updates: meta.updates,
      rng: meta.rng,
      commit: () => {
        for (const [name, v] of Object.entries(ours)) v.assign(loaded[name] as tf.Tensor);
        for (const group of [model.actorParams, model.criticParams, model.targetParams]) group.pull();
        model.actorOptimizer.setState(actorState);
        model.criticOptimizer.setState(criticState);
        parts.replay.commitLoad(replay);
      },
      dispose,
    };
  } catch (err) {
    dispose();
    throw err;
  }
}
