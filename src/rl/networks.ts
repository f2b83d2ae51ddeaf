import * as tf from '@tensorflow/tfjs';
import type { Rng } from '../core/rng.js';
import type { EncoderConfig, LearnerConfig } from './config.js';
import type { TensorOps, Tensor } from './tensor-ops.js';

/**
 * Actor and critic networks as raw tf.Variables (no layers API): small networks are bound by op
 * count, not FLOPs (docs/experiments/2026-12-04-learner.md, "Where the time goes"), so every layer is one fused matMul+bias(+relu) forward and its
 * gradient is written by hand with explicit transposes. (On wasm a matMul with transposeA/B, what
 * tfjs' own matMul gradient uses, costs ~10x an explicit transpose + matMul.) The MLP math runs on
 * TensorOps (tensor-ops.ts: direct kernel calls on wasm and cpu, engine ops elsewhere); the pixel
 * encoder runs on the engine for tfjs' autodiff.
 *
 * A layer may read several inputs with one weight block each, y = act(sum_i x_i W_i + b): the
 * critic's first layer takes the state and the action this way instead of concatenating them.
 */

export type Activation = 'relu' | 'tanh' | 'linear';

export interface LinearLayer {
  /** One weight block per input part, [inputSize_i, outputSize]. */
  readonly ws: readonly tf.Variable<tf.Rank.R2>[];
  readonly b: tf.Variable<tf.Rank.R1>;
  /**
   * A noisy layer (NoisyNet, Fortunato et al. 2018, eq. 9): the std of each weight and bias,
   * W = mu + sigma (.) eps, learned with the means; absent: a plain layer.
   */
  readonly sigma?: { readonly ws: readonly tf.Variable<tf.Rank.R2>[]; readonly b: tf.Variable<tf.Rank.R1> };
}

export interface Mlp {
  readonly layers: readonly LinearLayer[];
  readonly outputActivation: Activation;
  /**
   * Per input part: the layer that reads it (0: the first). A later layer reads the previous
   * layer's output first, then the parts that join there (split-input networks: the latent
   * through its own layer, speed, steering and the action joining the second). Absent: all 0.
   */
  readonly joinLayers?: readonly number[];
}

/**
 * A draw of the factorised noise of a noisy MLP (NoisyNet, eq. 10-11): per layer, eps of each
 * weight block [in_j, out] and of the bias [out], and all of them stacked as the rows
 * [eps_1; ..; eps_k; eps_b] (what the first layer's one-matmul gradient is multiplied by); null
 * for a plain layer. Tensors of the ops that run the pass.
 */
export type MlpNoise = readonly ({
  readonly ws: readonly Tensor[];
  readonly b: Tensor;
  readonly stacked: Tensor;
} | null)[];

/** Which gradients a backward pass computes. */
export interface GradRequest {
  /** Gradients of the parameters (in mlpVariables order). */
  readonly params: boolean;
  /** Per input part: is dL/dx needed (e.g. dQ/da for the actor)? */
  readonly inputs: readonly boolean[];
  /**
   * The first layer's input parts side by side with a column of ones, transposed:
   * X^T = [x_1 .. x_k 1]^T, [sum_i in_i + 1, B] (built on the host from the batch, see
   * withOnesTransposed). With it the first layer's weight and bias gradients are one matmul,
   * X^T dz = [dW_1; ..; dW_k; db] (dW_i = x_i^T dz, db = sum_rows dz = 1^T dz), whose rows are
   * those gradients in mlpVariables order, instead of a transpose and a matmul per part and a sum.
   * Used only when every input part joins at the first layer.
   */
  readonly firstInputT?: Tensor | null;
  /** Added to dL/dz of the output layer: the gradient of a penalty on the output pre-activation z. */
  readonly dOutputPreActivation?: Tensor | null;
}

/** The weight blocks a pass uses: the means, or mu + sigma (.) eps for a noise draw. */
function layerWeights(
  ops: TensorOps,
  layer: LinearLayer,
  noise: MlpNoise[number] | undefined,
): { ws: Tensor[]; b: Tensor } {
  const ws = layer.ws.map((w) => ops.borrow(w as tf.Tensor));
  const b = ops.borrow(layer.b);
  if (!noise || !layer.sigma) return { ws, b };
  const sigma = layer.sigma;
  return {
    ws: ws.map((w, j) => ops.add(w, ops.mul(ops.borrow(sigma.ws[j] as tf.Tensor), noise.ws[j] as Tensor))),
    b: ops.add(b, ops.mul(ops.borrow(sigma.b), noise.b)),
  };
}

/** y = act(sum_i x_i W_i + b), one fused matMul+bias(+relu) where the backend allows it; also z. */
export function linearForward(
  ops: TensorOps,
  xs: readonly Tensor[],
  weights: { readonly ws: readonly Tensor[]; readonly b: Tensor },
  act: Activation,
): { y: Tensor; z: Tensor } {
  // tfjs' fused matMul has relu, not tanh; a second input part is added before the activation.
  const fusedAct = act === 'relu' && xs.length === 1 ? 'relu' : 'linear';
  let z = ops.matMul(xs[0] as Tensor, weights.ws[0] as Tensor, weights.b, fusedAct);
  for (let i = 1; i < xs.length; i++) z = ops.add(z, ops.matMul(xs[i] as Tensor, weights.ws[i] as Tensor));
  if (fusedAct === act || act === 'linear') return { y: z, z };
  return { y: act === 'relu' ? ops.relu(z) : ops.tanh(z), z };
}

/** dL/dz from dL/dy for y = act(z), written with the output y (relu' = step(y), tanh' = 1 - y^2). */
function activationGrad(ops: TensorOps, dy: Tensor, y: Tensor, act: Activation): Tensor {
  if (act === 'relu') return ops.mul(dy, ops.step(y));
  if (act === 'tanh') return ops.mul(dy, ops.sub(ops.scalar(1), ops.square(y)));
  return dy;
}

function layerActivation(mlp: Mlp, i: number): Activation {
  return i === mlp.layers.length - 1 ? mlp.outputActivation : 'relu';
}

/** The layer that reads input part `p`. */
function joinLayerOf(mlp: Mlp, p: number): number {
  return mlp.joinLayers?.[p] ?? 0;
}

/** Whether every input part joins at the first layer (a plain MLP). */
function allJoinFirst(mlp: Mlp): boolean {
  return !mlp.joinLayers || mlp.joinLayers.every((j) => j === 0);
}

/** Forward pass of an MLP with relu hidden layers; the output is the last layer's activation. */
export function mlpForward(ops: TensorOps, mlp: Mlp, inputs: readonly Tensor[], noise: MlpNoise | null = null): Tensor {
  return mlpForwardTrace(ops, mlp, inputs, noise).output;
}

/** What backpropagation needs from a forward pass: every layer's inputs, weights and output. */
export interface MlpTrace {
  readonly inputs: readonly Tensor[];
  /** Per layer: the tensors it read (the previous output first, then the parts joining there). */
  readonly layerInputs: readonly (readonly Tensor[])[];
  /** Per layer: the input part index of each block it read (-1: the previous layer's output). */
  readonly layerParts: readonly (readonly number[])[];
  /** Per layer: the weights used (mu + sigma (.) eps under noise). */
  readonly weights: readonly { readonly ws: readonly Tensor[]; readonly b: Tensor }[];
  readonly noise: MlpNoise | null;
  readonly outputs: readonly Tensor[];
  /** The last layer's output, and its pre-activation z (the same tensor for a linear output). */
  readonly output: Tensor;
  readonly outputPreActivation: Tensor;
}

export function mlpForwardTrace(
  ops: TensorOps,
  mlp: Mlp,
  inputs: readonly Tensor[],
  noise: MlpNoise | null = null,
): MlpTrace {
  const outputs: Tensor[] = [];
  const layerInputs: Tensor[][] = [];
  const layerParts: number[][] = [];
  const weights: { ws: Tensor[]; b: Tensor }[] = [];
  let z: Tensor | null = null;
  mlp.layers.forEach((layer, i) => {
    const parts: number[] = i > 0 ? [-1] : [];
    inputs.forEach((_, p) => {
      if (joinLayerOf(mlp, p) === i) parts.push(p);
    });
    const xs = parts.map((p) => (p < 0 ? (outputs[i - 1] as Tensor) : (inputs[p] as Tensor)));
    const w = layerWeights(ops, layer, noise?.[i]);
    const out = linearForward(ops, xs, w, layerActivation(mlp, i));
    outputs.push(out.y);
    layerInputs.push(xs);
    layerParts.push(parts);
    weights.push(w);
    z = out.z;
  });
  if (z === null) throw new RangeError('the network has no layers');
  return {
    inputs,
    layerInputs,
    layerParts,
    weights,
    noise,
    outputs,
    output: outputs[outputs.length - 1] as Tensor,
    outputPreActivation: z,
  };
}

export interface MlpGradients {
  /**
   * dL/dtheta, or null when not requested: tensors whose flattened concatenation is in
   * mlpVariables order (one per variable, except the first layer's when firstInputT was given:
   * one [sum_i in_i + 1, out] tensor for its weight blocks and bias, and one more for their
   * sigmas in a noisy layer).
   */
  readonly params: Tensor[] | null;
  /** dL/dx per input part, null where not requested. */
  readonly inputs: (Tensor | null)[];
}

/**
 * Backpropagation through an MLP, layer by layer from dL/dy (the chain rule written out):
 * dz = dy * act'(z); dW_i = x_i^T dz; db = sum_rows dz; dx_i = dz W_i^T. Explicit transposes:
 * on wasm a matMul with transposeA/B (what tfjs' own matMul gradient uses) costs ~10x more.
 * A noisy layer W = mu + sigma (.) eps: dL/dmu = dL/dW, dL/dsigma = dL/dW (.) eps (NoisyNet eq. 9).
 */
export function mlpBackward(ops: TensorOps, mlp: Mlp, trace: MlpTrace, dy: Tensor, want: GradRequest): MlpGradients {
  const n = mlp.layers.length;
  const paramGrads: Tensor[][] = [];
  const inputGrads: (Tensor | null)[] = trace.inputs.map(() => null);
  const firstInputT = allJoinFirst(mlp) ? (want.firstInputT ?? null) : null;
  let dOut = dy;
  for (let i = n - 1; i >= 0; i--) {
    const layer = mlp.layers[i] as LinearLayer;
    let dz = activationGrad(ops, dOut, trace.outputs[i] as Tensor, layerActivation(mlp, i));
    if (i === n - 1 && want.dOutputPreActivation) dz = ops.add(dz, want.dOutputPreActivation);
    const xs = trace.layerInputs[i] as readonly Tensor[];
    const parts = trace.layerParts[i] as readonly number[];
    const weights = trace.weights[i] as { ws: readonly Tensor[]; b: Tensor };
    const noise = layer.sigma ? trace.noise?.[i] : null;
    if (want.params && i === 0 && firstInputT) {
      const g = ops.matMul(firstInputT, dz);
      paramGrads[i] = noise ? [g, ops.mul(g, noise.stacked)] : [g];
    } else if (want.params) {
      const dWs = xs.map((x) => ops.matMul(ops.transpose(x), dz));
      const db = ops.sum(dz, 0);
      paramGrads[i] = noise
        ? [...dWs, db, ...dWs.map((d, j) => ops.mul(d, noise.ws[j] as Tensor)), ops.mul(db, noise.b)]
        : [...dWs, db];
    }
    const inputGrad = (j: number) => ops.matMul(dz, ops.transpose(weights.ws[j] as Tensor));
    parts.forEach((p, j) => {
      if (p < 0) dOut = inputGrad(j);
      else if (want.inputs[p]) inputGrads[p] = inputGrad(j);
    });
  }
  return { params: want.params ? paramGrads.flat() : null, inputs: inputGrads };
}

/**
 * [x_1 .. x_k 1]^T for a batch: `parts` are row-major [B, widths[i]] host arrays; the result is
 * row-major [sum_i widths[i] + 1, B], feature rows of every part in order, then a row of ones
 * (GradRequest.firstInputT).
 */
export function withOnesTransposed(
  parts: readonly Float32Array[],
  widths: readonly number[],
  batchSize: number,
): Float32Array {
  const rows = widths.reduce((a, b) => a + b, 0) + 1;
  const out = new Float32Array(rows * batchSize);
  let row = 0;
  parts.forEach((part, p) => {
    const w = widths[p] as number;
    if (part.length !== w * batchSize)
      throw new RangeError(`input part ${p} has ${part.length} values, expected ${batchSize} x ${w}`);
    for (let k = 0; k < batchSize; k++) {
      for (let c = 0; c < w; c++) out[(row + c) * batchSize + k] = part[k * w + c] as number;
    }
    row += w;
  });
  out.fill(1, row * batchSize);
  return out;
}

/** A variable initialised from `t` (which is then disposed, so no stray tensor stays registered). */
export function variableFrom<R extends tf.Rank>(t: tf.Tensor<R>, trainable = true): tf.Variable<R> {
  const v = tf.variable(t, trainable);
  t.dispose();
  return v;
}

function uniformTensor(shape: number[], bound: number, rng: Rng): Float32Array {
  const n = shape.reduce((a, b) => a * b, 1);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = (2 * rng.uniform() - 1) * bound;
  return out;
}

/** Options of createMlp beyond the sizes. */
export interface MlpOptions {
  /** Per input part, the layer that reads it (default: all the first; split-input networks). */
  readonly joinLayers?: readonly number[];
  /** NoisyNet: every layer noisy, sigma starting at sigma0 / sqrt(fanIn) (Fortunato et al. 2018, 3.2); null: plain. */
  readonly noisySigma0?: number | null;
}

/**
 * An MLP reading `inputParts` (sizes of its input blocks; each joins at its layer of
 * options.joinLayers). Hidden layers start in U(-1/sqrt(fanIn), 1/sqrt(fanIn)) (PyTorch's
 * default, as in SB3); the output layer in U(-finalInit, finalInit) (DDPG paper, section 7).
 */
export function createMlp(
  inputParts: readonly number[],
  hidden: readonly number[],
  outputSize: number,
  outputActivation: Activation,
  finalInit: number,
  rng: Rng,
  options: MlpOptions = {},
): Mlp {
  const sizes = [...hidden, outputSize];
  const joinLayers = options.joinLayers ?? inputParts.map(() => 0);
  if (joinLayers.length !== inputParts.length)
    throw new RangeError(`${joinLayers.length} join layers for ${inputParts.length} input parts`);
  for (const j of joinLayers) {
    if (!Number.isInteger(j) || j < 0 || j >= sizes.length)
      throw new RangeError(`an input part joins at layer ${j}, the network has ${sizes.length} layers`);
  }
  if (!joinLayers.includes(0)) throw new RangeError('no input part joins at the first layer');
  const layers: LinearLayer[] = [];
  sizes.forEach((out, i) => {
    const parts = [...(i > 0 ? [sizes[i - 1] as number] : []), ...inputParts.filter((_, p) => joinLayers[p] === i)];
    const fanIn = parts.reduce((a, b) => a + b, 0);
    const bound = i === sizes.length - 1 ? finalInit : 1 / Math.sqrt(fanIn);
    const ws = parts.map((inSize) =>
      variableFrom(tf.tensor2d(uniformTensor([inSize, out], bound, rng), [inSize, out])),
    );
    const b = variableFrom(tf.tensor1d(uniformTensor([out], bound, rng)));
    const sigma0 = options.noisySigma0 ?? null;
    if (sigma0 === null) {
      layers.push({ ws, b });
      return;
    }
    const s = sigma0 / Math.sqrt(fanIn);
    const sigma = {
      ws: parts.map((inSize) => variableFrom(tf.fill([inSize, out], s) as tf.Tensor2D)),
      b: variableFrom(tf.fill([out], s) as tf.Tensor1D),
    };
    layers.push({ ws, b, sigma });
  });
  return { layers, outputActivation, ...(allJoin(joinLayers) ? {} : { joinLayers: [...joinLayers] }) };
}

function allJoin(joinLayers: readonly number[]): boolean {
  return joinLayers.every((j) => j === 0);
}

/** The variables of an MLP: per layer its weight blocks and bias, then (noisy) their sigmas. */
export function mlpVariables(mlp: Mlp): tf.Variable[] {
  return mlp.layers.flatMap((l) => [...l.ws, l.b, ...(l.sigma ? [...l.sigma.ws, l.sigma.b] : [])]);
}

/** The means only (weight blocks and biases): what a noise-free copy of the MLP holds. */
export function mlpMeanVariables(mlp: Mlp): tf.Variable[] {
  return mlp.layers.flatMap((l) => [...l.ws, l.b]);
}

/** f(x) = sgn(x) sqrt(|x|) of factorised noise (NoisyNet eq. 11). */
function factorised(x: number): number {
  return x < 0 ? -Math.sqrt(-x) : Math.sqrt(x);
}

/**
 * One draw of factorised Gaussian noise for the noisy layers of `mlp`, as host arrays: per layer
 * eps_in ~ f(N(0,1)) for each input (all blocks) and eps_out for each output; eps_w = eps_in
 * eps_out^T, eps_b = eps_out (NoisyNet eq. 10-11). null entries for plain layers.
 */
export interface HostNoiseLayer {
  readonly epsIn: Float32Array;
  readonly epsOut: Float32Array;
}

export function sampleMlpNoise(mlp: Mlp, rng: Rng): (HostNoiseLayer | null)[] {
  return mlp.layers.map((l) => {
    if (!l.sigma) return null;
    const inSize = l.ws.reduce((a, w) => a + (w.shape[0] as number), 0);
    const outSize = l.b.shape[0] as number;
    const epsIn = new Float32Array(inSize);
    const epsOut = new Float32Array(outSize);
    for (let k = 0; k < inSize; k++) epsIn[k] = factorised(rng.normal());
    for (let k = 0; k < outSize; k++) epsOut[k] = factorised(rng.normal());
    return { epsIn, epsOut };
  });
}

/** A host noise draw as tensors of `ops` (MlpNoise): the outer products per block, the bias, the stack. */
export function uploadMlpNoise(ops: TensorOps, mlp: Mlp, host: readonly (HostNoiseLayer | null)[]): MlpNoise {
  return mlp.layers.map((l, i) => {
    const h = host[i];
    if (!l.sigma || !h) return null;
    const out = h.epsOut.length;
    const stacked = new Float32Array((h.epsIn.length + 1) * out);
    for (let r = 0; r < h.epsIn.length; r++)
      for (let c = 0; c < out; c++) stacked[r * out + c] = (h.epsIn[r] as number) * (h.epsOut[c] as number);
    stacked.set(h.epsOut, h.epsIn.length * out);
    let row = 0;
    const ws = l.ws.map((w) => {
      const rows = w.shape[0] as number;
      const t = ops.upload(stacked.slice(row * out, (row + rows) * out), [rows, out]);
      row += rows;
      return t;
    });
    return { ws, b: ops.upload(h.epsOut.slice(), [out]), stacked: ops.upload(stacked, [h.epsIn.length + 1, out]) };
  });
}

// ---- pixel encoder ----

export interface ConvLayer {
  readonly filter: tf.Variable<tf.Rank.R4>;
  readonly bias: tf.Variable<tf.Rank.R1>;
}

/** Conv stack (3x3, stride 2, relu) + a tanh linear layer to `featureSize` features. */
export interface Encoder {
  readonly imageShape: readonly [number, number, number];
  readonly convs: readonly ConvLayer[];
  readonly head: Mlp;
}

export function createEncoder(imageShape: readonly [number, number, number], cfg: EncoderConfig, rng: Rng): Encoder {
  let [h, w, c] = imageShape;
  const convs: ConvLayer[] = [];
  for (let i = 0; i < cfg.convLayers; i++) {
    const bound = 1 / Math.sqrt(9 * c);
    const shape: [number, number, number, number] = [3, 3, c, cfg.filters];
    convs.push({
      filter: variableFrom(tf.tensor4d(uniformTensor(shape, bound, rng), shape)),
      bias: variableFrom(tf.tensor1d(uniformTensor([cfg.filters], bound, rng))),
    });
    h = Math.ceil(h / 2);
    w = Math.ceil(w / 2);
    c = cfg.filters;
  }
  const flat = h * w * c;
  // The head is an ordinary layer (fan-in init), not an output layer: finalInit = 1/sqrt(fanIn).
  const head = createMlp([flat], [], cfg.featureSize, 'tanh', 1 / Math.sqrt(flat), rng);
  return { imageShape: [...imageShape], convs, head };
}

export function encoderVariables(enc: Encoder): tf.Variable[] {
  return [...enc.convs.flatMap((c) => [c.filter, c.bias]), ...mlpVariables(enc.head)];
}

/** Image batch [B, h, w, c] -> features [B, featureSize], with the given parameter tensors. */
function encodeWith(enc: Encoder, params: readonly tf.Tensor[], images: tf.Tensor4D): tf.Tensor2D {
  let x: tf.Tensor4D = images;
  enc.convs.forEach((_, i) => {
    const filter = params[2 * i] as tf.Tensor4D;
    const bias = params[2 * i + 1] as tf.Tensor1D;
    x = tf.fused.conv2d({ x, filter, strides: 2, pad: 'same', bias, activation: 'relu' });
  });
  const flat = tf.reshape(x, [x.shape[0], -1]) as tf.Tensor2D;
  const w = params[2 * enc.convs.length] as tf.Tensor2D;
  const b = params[2 * enc.convs.length + 1] as tf.Tensor1D;
  return tf.tanh(tf.fused.matMul({ a: flat, b: w, bias: b }) as tf.Tensor2D);
}

export function encode(enc: Encoder, images: tf.Tensor4D): tf.Tensor2D {
  return encodeWith(enc, encoderVariables(enc), images);
}

/**
 * dL/dtheta of the encoder (encoderVariables order) given dL/dfeatures, by tfjs' autodiff
 * (conv gradients need Conv2DBackpropFilter/Input; see core/wasm-kernels.ts for wasm).
 */
export function encoderBackward(enc: Encoder, images: tf.Tensor4D, dFeatures: tf.Tensor2D): tf.Tensor[] {
  return tf.grads((...params: tf.Tensor[]) => encodeWith(enc, params, images))(encoderVariables(enc), dFeatures);
}

// ---- actor-critic ----

/** A batch of states as the networks read them: optional images plus vector features. */
export interface StateBatch {
  readonly images: tf.Tensor4D | null;
  readonly vectors: Tensor;
}

export interface ActorCritic {
  readonly encoder: Encoder | null;
  readonly actor: Mlp;
  /** One critic, or two for TD3. Outputs 1 value, or `atoms` logits when distributional. */
  readonly critics: readonly Mlp[];
  /**
   * Split-input networks: the last this many feature components (speed, steering, command
   * history) join actor and critic at their second layer, with the action in the critic; the
   * rest (the latent, or the pixel encoder's features) goes through the first layer alone. 0: plain.
   */
  readonly lateInputSize: number;
}

/** Sizes of the state parts: image components and vector features. */
export function stateLayout(config: LearnerConfig, stateSize: number): { imageSize: number; vectorSize: number } {
  const imageSize = config.imageShape ? config.imageShape[0] * config.imageShape[1] * config.imageShape[2] : 0;
  if (imageSize > stateSize) {
    throw new RangeError(
      `imageShape ${config.imageShape?.join('x')} needs ${imageSize} state components, the state has ${stateSize}`,
    );
  }
  return { imageSize, vectorSize: stateSize - imageSize };
}

export function createActorCritic(config: LearnerConfig, stateSize: number, actionSize: number, rng: Rng): ActorCritic {
  const { vectorSize } = stateLayout(config, stateSize);
  const encoder = config.imageShape ? createEncoder(config.imageShape, config.encoder, rng) : null;
  const featureSize = (encoder ? config.encoder.featureSize : 0) + vectorSize;
  if (featureSize === 0) throw new RangeError('the state has no components');
  const late = config.splitInput ? config.lateInputSize : 0;
  if (config.splitInput && !(late >= 1 && late < featureSize && late <= vectorSize)) {
    throw new RangeError(
      `split-input networks need 1 to ${Math.min(featureSize - 1, vectorSize)} late state components (lateInputSize), got ${late}`,
    );
  }
  const front = featureSize - late;
  const noisySigma0 = config.noisyActorSigma0;
  const actor = late
    ? createMlp([front, late], config.actorHidden, actionSize, 'tanh', config.finalLayerInit, rng, {
        joinLayers: [0, 1],
        noisySigma0,
      })
    : createMlp([featureSize], config.actorHidden, actionSize, 'tanh', config.finalLayerInit, rng, { noisySigma0 });
  const outputs = config.distributional ? config.atoms : 1;
  const critics = Array.from({ length: config.twinCritics ? 2 : 1 }, () =>
    late
      ? createMlp([front, late, actionSize], config.criticHidden, outputs, 'linear', config.finalLayerInit, rng, {
          joinLayers: [0, 1, 1],
        })
      : createMlp([featureSize, actionSize], config.criticHidden, outputs, 'linear', config.finalLayerInit, rng),
  );
  return { encoder, actor, critics, lateInputSize: late };
}

/** The feature batch as the networks' input parts: [features], or [front, late] when split. */
export function featureParts(ops: TensorOps, net: ActorCritic, feats: Tensor): Tensor[] {
  const late = net.lateInputSize;
  if (late === 0) return [feats];
  const front = (feats.shape[1] as number) - late;
  return [ops.columns(feats, 0, front), ops.columns(feats, front, late)];
}

/** Which of a critic's input parts (features..., action) a backward pass wants dL/dx of. */
export function criticInputRequest(net: ActorCritic, features: boolean, action: boolean): boolean[] {
  return [...(net.lateInputSize ? [features, features] : [features]), action];
}

/** dL/dfeatures from the input gradients of a backward pass (the parts side by side); null if not computed. */
export function featureGradient(ops: TensorOps, net: ActorCritic, inputs: readonly (Tensor | null)[]): Tensor | null {
  if (net.lateInputSize === 0) return inputs[0] ?? null;
  const [a, b] = inputs;
  return a && b ? ops.concat([a, b], 1) : null;
}

/** dL/da from a critic's input gradients (the action is its last part). */
export function actionGradient(inputs: readonly (Tensor | null)[]): Tensor | null {
  return inputs[inputs.length - 1] ?? null;
}

/** Actor variables; critic variables (all critics and the encoder, trained by the critic loss). */
export function actorVariables(net: ActorCritic): tf.Variable[] {
  return mlpVariables(net.actor);
}

export function criticVariables(net: ActorCritic): tf.Variable[] {
  return [...net.critics.flatMap(mlpVariables), ...(net.encoder ? encoderVariables(net.encoder) : [])];
}

export function allVariables(net: ActorCritic): tf.Variable[] {
  return [...actorVariables(net), ...criticVariables(net)];
}

/** The state features the MLPs read: encoder features (if any) followed by the vector part. */
export function features(ops: TensorOps, net: ActorCritic, states: StateBatch): Tensor {
  if (!net.encoder || !states.images) return states.vectors;
  // The encoder output stays the engine's (disposed with the caller's engine scope).
  const encoded = ops.borrow(encode(net.encoder, states.images));
  return states.vectors.shape[1] === 0 ? encoded : ops.concat([encoded, states.vectors], 1);
}

/** mu(s) in [-1, 1] from state features (with the actor's noise draw `noise`, if given). */
export function actorForward(ops: TensorOps, net: ActorCritic, feats: Tensor, noise: MlpNoise | null = null): Tensor {
  return mlpForward(ops, net.actor, featureParts(ops, net, feats), noise);
}

/** The critic `index`: its first layer reads the state and the action as separate parts (no concat). */
export function critic(net: ActorCritic, index: number): Mlp {
  const c = net.critics[index];
  if (!c) throw new RangeError(`no critic ${index}`);
  return c;
}

/** Q_i(s, a), or its logits for a distributional critic. */
export function criticForward(ops: TensorOps, net: ActorCritic, index: number, feats: Tensor, actions: Tensor): Tensor {
  return mlpForward(ops, critic(net, index), [...featureParts(ops, net, feats), actions]);
}

/** A structural copy with fresh variables holding the same values (target networks). */
export function cloneActorCritic(net: ActorCritic): ActorCritic {
  const copy = <R extends tf.Rank>(v: tf.Variable<R>) => variableFrom(v.clone());
  const copyMlp = (m: Mlp): Mlp => ({
    ...m,
    layers: m.layers.map((l) => ({
      ws: l.ws.map(copy),
      b: copy(l.b),
      ...(l.sigma ? { sigma: { ws: l.sigma.ws.map(copy), b: copy(l.sigma.b) } } : {}),
    })),
  });
  const encoder = net.encoder
    ? {
        imageShape: net.encoder.imageShape,
        convs: net.encoder.convs.map((c) => ({
          filter: variableFrom(c.filter.clone()),
          bias: variableFrom(c.bias.clone()),
        })),
        head: copyMlp(net.encoder.head),
      }
    : null;
  return { encoder, actor: copyMlp(net.actor), critics: net.critics.map(copyMlp), lateInputSize: net.lateInputSize };
}

/** Every variable under a stable name (for checkpoints): actor/l0/w0, critic1/l2/b, encoder/c0/filter ... */
export function namedVariables(net: ActorCritic, prefix: string): Record<string, tf.Variable> {
  const out: Record<string, tf.Variable> = {};
  const addMlp = (m: Mlp, name: string) =>
    m.layers.forEach((l, i) => {
      l.ws.forEach((w, j) => (out[`${prefix}${name}/l${i}/w${j}`] = w));
      out[`${prefix}${name}/l${i}/b`] = l.b;
      l.sigma?.ws.forEach((w, j) => (out[`${prefix}${name}/l${i}/sigma_w${j}`] = w));
      if (l.sigma) out[`${prefix}${name}/l${i}/sigma_b`] = l.sigma.b;
    });
  addMlp(net.actor, 'actor');
  net.critics.forEach((c, i) => addMlp(c, `critic${i}`));
  if (net.encoder) {
    net.encoder.convs.forEach((c, i) => {
      out[`${prefix}encoder/c${i}/filter`] = c.filter;
      out[`${prefix}encoder/c${i}/bias`] = c.bias;
    });
    addMlp(net.encoder.head, 'encoder/head');
  }
  return out;
}

export function disposeActorCritic(net: ActorCritic): void {
  for (const v of allVariables(net)) v.dispose();
}
