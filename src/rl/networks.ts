import * as tf from '@tensorflow/tfjs';
import type { Rng } from '../core/rng.js';
import type { EncoderConfig, LearnerConfig } from './config.js';
import type { TensorOps, Tensor } from './tensor-ops.js';

/**
 * Actor and critic networks as raw tf.Variables (no layers API): small networks are bound by op
 * count, not FLOPs (docs/rl.md, "Where the time goes"), so every layer is one fused matMul+bias(+relu) forward and its
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
}

export interface Mlp {
  readonly layers: readonly LinearLayer[];
  readonly outputActivation: Activation;
}

/** Which gradients a backward pass computes. */
export interface GradRequest {
  /** Gradients of the parameters (in mlpVariables order). */
  readonly params: boolean;
  /** Per input part of the first layer: is dL/dx needed (e.g. dQ/da for the actor)? */
  readonly inputs: readonly boolean[];
  /**
   * The first layer's input parts side by side with a column of ones, transposed:
   * X^T = [x_1 .. x_k 1]^T, [sum_i in_i + 1, B] (built on the host from the batch, see
   * withOnesTransposed). With it the first layer's weight and bias gradients are one matmul,
   * X^T dz = [dW_1; ..; dW_k; db] (dW_i = x_i^T dz, db = sum_rows dz = 1^T dz), whose rows are
   * those gradients in mlpVariables order, instead of a transpose and a matmul per part and a sum.
   */
  readonly firstInputT?: Tensor | null;
  /** Added to dL/dz of the output layer: the gradient of a penalty on the output pre-activation z. */
  readonly dOutputPreActivation?: Tensor | null;
}

/** y = act(sum_i x_i W_i + b), one fused matMul+bias(+relu) where the backend allows it; also z. */
export function linearForward(ops: TensorOps, xs: readonly Tensor[], layer: LinearLayer, act: Activation): { y: Tensor; z: Tensor } {
  // tfjs' fused matMul has relu, not tanh; a second input part is added before the activation.
  const fusedAct = act === 'relu' && xs.length === 1 ? 'relu' : 'linear';
  let z = ops.matMul(xs[0] as Tensor, ops.borrow(layer.ws[0] as tf.Tensor), ops.borrow(layer.b), fusedAct);
  for (let i = 1; i < xs.length; i++) z = ops.add(z, ops.matMul(xs[i] as Tensor, ops.borrow(layer.ws[i] as tf.Tensor)));
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

/** Forward pass of an MLP with relu hidden layers; the output is the last layer's activation. */
export function mlpForward(ops: TensorOps, mlp: Mlp, inputs: readonly Tensor[]): Tensor {
  return mlpForwardTrace(ops, mlp, inputs).output;
}

/** What backpropagation needs from a forward pass: the inputs and every layer's output. */
export interface MlpTrace {
  readonly inputs: readonly Tensor[];
  readonly outputs: readonly Tensor[];
  /** The last layer's output, and its pre-activation z (the same tensor for a linear output). */
  readonly output: Tensor;
  readonly outputPreActivation: Tensor;
}

export function mlpForwardTrace(ops: TensorOps, mlp: Mlp, inputs: readonly Tensor[]): MlpTrace {
  const outputs: Tensor[] = [];
  let h: readonly Tensor[] = inputs;
  let z: Tensor | null = null;
  mlp.layers.forEach((layer, i) => {
    const out = linearForward(ops, h, layer, layerActivation(mlp, i));
    outputs.push(out.y);
    z = out.z;
    h = [out.y];
  });
  if (z === null) throw new RangeError('the network has no layers');
  return { inputs, outputs, output: outputs[outputs.length - 1] as Tensor, outputPreActivation: z };
}

export interface MlpGradients {
  /**
   * dL/dtheta, or null when not requested: tensors whose flattened concatenation is in
   * mlpVariables order (one per variable, except the first layer's when firstInputT was given:
   * one [sum_i in_i + 1, out] tensor for its weight blocks and bias).
   */
  readonly params: Tensor[] | null;
  /** dL/dx per first-layer input part, null where not requested. */
  readonly inputs: (Tensor | null)[];
}

/**
 * Backpropagation through an MLP, layer by layer from dL/dy (the chain rule written out):
 * dz = dy * act'(z); dW_i = x_i^T dz; db = sum_rows dz; dx_i = dz W_i^T. Explicit transposes:
 * on wasm a matMul with transposeA/B (what tfjs' own matMul gradient uses) costs ~10x more.
 */
export function mlpBackward(ops: TensorOps, mlp: Mlp, trace: MlpTrace, dy: Tensor, want: GradRequest): MlpGradients {
  const n = mlp.layers.length;
  const paramGrads: Tensor[][] = [];
  let inputGrads: (Tensor | null)[] = trace.inputs.map(() => null);
  let dOut = dy;
  for (let i = n - 1; i >= 0; i--) {
    const layer = mlp.layers[i] as LinearLayer;
    let dz = activationGrad(ops, dOut, trace.outputs[i] as Tensor, layerActivation(mlp, i));
    if (i === n - 1 && want.dOutputPreActivation) dz = ops.add(dz, want.dOutputPreActivation);
    const xs = i === 0 ? trace.inputs : [trace.outputs[i - 1] as Tensor];
    if (want.params && i === 0 && want.firstInputT) paramGrads[i] = [ops.matMul(want.firstInputT, dz)];
    else if (want.params) paramGrads[i] = [...xs.map((x) => ops.matMul(ops.transpose(x), dz)), ops.sum(dz, 0)];
    const inputGrad = (j: number) => ops.matMul(dz, ops.transpose(ops.borrow(layer.ws[j] as tf.Tensor)));
    if (i > 0) dOut = inputGrad(0);
    else inputGrads = xs.map((_, j) => (want.inputs[j] ? inputGrad(j) : null));
  }
  return { params: want.params ? paramGrads.flat() : null, inputs: inputGrads };
}

/**
 * [x_1 .. x_k 1]^T for a batch: `parts` are row-major [B, widths[i]] host arrays; the result is
 * row-major [sum_i widths[i] + 1, B], feature rows of every part in order, then a row of ones
 * (GradRequest.firstInputT).
 */
export function withOnesTransposed(parts: readonly Float32Array[], widths: readonly number[], batchSize: number): Float32Array {
  const rows = widths.reduce((a, b) => a + b, 0) + 1;
  const out = new Float32Array(rows * batchSize);
  let row = 0;
  parts.forEach((part, p) => {
    const w = widths[p] as number;
    if (part.length !== w * batchSize) throw new RangeError(`input part ${p} has ${part.length} values, expected ${batchSize} x ${w}`);
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

/**
 * An MLP whose first layer reads `inputParts` (sizes of its input blocks). Hidden layers start
 * in U(-1/sqrt(fanIn), 1/sqrt(fanIn)) (PyTorch's default, as in SB3); the output layer in
 * U(-finalInit, finalInit) (DDPG paper, section 7).
 */
export function createMlp(
  inputParts: readonly number[],
  hidden: readonly number[],
  outputSize: number,
  outputActivation: Activation,
  finalInit: number,
  rng: Rng,
): Mlp {
  const sizes = [...hidden, outputSize];
  const layers: LinearLayer[] = [];
  let parts = [...inputParts];
  sizes.forEach((out, i) => {
    const fanIn = parts.reduce((a, b) => a + b, 0);
    const bound = i === sizes.length - 1 ? finalInit : 1 / Math.sqrt(fanIn);
    const ws = parts.map((inSize) => variableFrom(tf.tensor2d(uniformTensor([inSize, out], bound, rng), [inSize, out])));
    const b = variableFrom(tf.tensor1d(uniformTensor([out], bound, rng)));
    layers.push({ ws, b });
    parts = [out];
  });
  return { layers, outputActivation };
}

export function mlpVariables(mlp: Mlp): tf.Variable[] {
  return mlp.layers.flatMap((l) => [...l.ws, l.b]);
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
}

/** Sizes of the state parts: image components and vector features. */
export function stateLayout(config: LearnerConfig, stateSize: number): { imageSize: number; vectorSize: number } {
  const imageSize = config.imageShape ? config.imageShape[0] * config.imageShape[1] * config.imageShape[2] : 0;
  if (imageSize > stateSize) {
    throw new RangeError(`imageShape ${config.imageShape?.join('x')} needs ${imageSize} state components, the state has ${stateSize}`);
  }
  return { imageSize, vectorSize: stateSize - imageSize };
}

export function createActorCritic(config: LearnerConfig, stateSize: number, actionSize: number, rng: Rng): ActorCritic {
  const { vectorSize } = stateLayout(config, stateSize);
  const encoder = config.imageShape ? createEncoder(config.imageShape, config.encoder, rng) : null;
  const featureSize = (encoder ? config.encoder.featureSize : 0) + vectorSize;
  if (featureSize === 0) throw new RangeError('the state has no components');
  const actor = createMlp([featureSize], config.actorHidden, actionSize, 'tanh', config.finalLayerInit, rng);
  const outputs = config.distributional ? config.atoms : 1;
  const critics = Array.from({ length: config.twinCritics ? 2 : 1 }, () =>
    createMlp([featureSize, actionSize], config.criticHidden, outputs, 'linear', config.finalLayerInit, rng),
  );
  return { encoder, actor, critics };
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

/** mu(s) in [-1, 1] from state features. */
export function actorForward(ops: TensorOps, net: ActorCritic, feats: Tensor): Tensor {
  return mlpForward(ops, net.actor, [feats]);
}

/** The critic `index`, first layer split into a state part and an action part (no concat). */
export function critic(net: ActorCritic, index: number): Mlp {
  const c = net.critics[index];
  if (!c) throw new RangeError(`no critic ${index}`);
  return c;
}

/** Q_i(s, a), or its logits for a distributional critic. */
export function criticForward(ops: TensorOps, net: ActorCritic, index: number, feats: Tensor, actions: Tensor): Tensor {
  return mlpForward(ops, critic(net, index), [feats, actions]);
}

/** A structural copy with fresh variables holding the same values (target networks). */
export function cloneActorCritic(net: ActorCritic): ActorCritic {
  const copyMlp = (m: Mlp): Mlp => ({
    outputActivation: m.outputActivation,
    layers: m.layers.map((l) => ({ ws: l.ws.map((w) => variableFrom(w.clone())), b: variableFrom(l.b.clone()) })),
  });
  const encoder = net.encoder
    ? {
        imageShape: net.encoder.imageShape,
        convs: net.encoder.convs.map((c) => ({ filter: variableFrom(c.filter.clone()), bias: variableFrom(c.bias.clone()) })),
        head: copyMlp(net.encoder.head),
      }
    : null;
  return { encoder, actor: copyMlp(net.actor), critics: net.critics.map(copyMlp) };
}

/** Every variable under a stable name (for checkpoints): actor/l0/w0, critic1/l2/b, encoder/c0/filter ... */
export function namedVariables(net: ActorCritic, prefix: string): Record<string, tf.Variable> {
  const out: Record<string, tf.Variable> = {};
  const addMlp = (m: Mlp, name: string) =>
    m.layers.forEach((l, i) => {
      l.ws.forEach((w, j) => (out[`${prefix}${name}/l${i}/w${j}`] = w));
      out[`${prefix}${name}/l${i}/b`] = l.b;
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
