import * as tf from '@tensorflow/tfjs';

/**
 * The encoder's forward pass as the fused ops its layers call, without tfjs-layers' predict():
 * at batch 1, predict()'s own bookkeeping (the feed dict, name scopes, a layer call per layer)
 * is about a third of an encode (bench/vision.bench.ts: a median 0.16 ms per model input
 * through predict(), 0.11 ms here, and a p99 of 1.6 against 0.7 ms), paid on every simulator
 * step. The ops are the ones the layers run (Conv2D.call: tf.fused.conv2d with its bias and
 * activation; Flatten: a reshape; Dense.call: tf.fused.matMul with its bias), on the layers'
 * own weight variables, so the result is bit-identical to predict()
 * (test/vision/encoder-forward.test.ts).
 */
export type EncoderForward = (x: tf.Tensor4D) => tf.Tensor2D;

interface ConvStep {
  readonly kind: 'conv';
  readonly kernel: tf.Tensor4D;
  readonly bias: tf.Tensor1D | undefined;
  readonly strides: [number, number];
  readonly pad: 'same' | 'valid';
  readonly activation: 'relu' | 'linear';
}

interface DenseStep {
  readonly kind: 'dense';
  readonly kernel: tf.Tensor2D;
  readonly bias: tf.Tensor1D | undefined;
  readonly activation: 'relu' | 'linear';
}

type Step = ConvStep | DenseStep | { readonly kind: 'flatten' };

const pair = (v: unknown): [number, number] | null =>
  typeof v === 'number' ? [v, v] : Array.isArray(v) && v.length === 2 ? [Number(v[0]), Number(v[1])] : null;

/** One layer as a step, or null when it is not a layer this forward pass knows how to run. */
function stepOf(layer: tf.layers.Layer): Step | null {
  const c = layer.getConfig();
  const activation = c.activation === 'relu' || c.activation === 'linear' ? c.activation : null;
  const weights = layer.getWeights();
  switch (layer.getClassName()) {
    case 'Flatten':
      return c.dataFormat === undefined || c.dataFormat === 'channelsLast' ? { kind: 'flatten' } : null;
    case 'Conv2D': {
      const strides = pair(c.strides);
      const dilation = pair(c.dilationRate ?? 1);
      const plain = c.dataFormat === 'channelsLast' && dilation?.[0] === 1 && dilation[1] === 1;
      if (!plain || !strides || !activation || (c.padding !== 'same' && c.padding !== 'valid')) return null;
      return {
        kind: 'conv',
        kernel: weights[0] as tf.Tensor4D,
        bias: c.useBias ? (weights[1] as tf.Tensor1D) : undefined,
        strides,
        pad: c.padding,
        activation,
      };
    }
    case 'Dense':
      if (!activation) return null;
      return {
        kind: 'dense',
        kernel: weights[0] as tf.Tensor2D,
        bias: c.useBias ? (weights[1] as tf.Tensor1D) : undefined,
        activation,
      };
    default:
      return null;
  }
}

/**
 * The forward pass of `model` if it is a chain of Conv2D, Flatten and Dense layers (relu or
 * linear) as buildEncoder makes it; null for any other model, which then runs through predict().
 * Call it inside tf.tidy: the intermediate tensors are not disposed here.
 */
export function encoderForward(model: tf.LayersModel): EncoderForward | null {
  if (model.inputs.length !== 1 || model.outputs.length !== 1) return null;
  const [first, ...rest] = model.layers;
  if (first?.getClassName() !== 'InputLayer' || rest.length === 0) return null;
  const steps: Step[] = [];
  let previous = first;
  for (const layer of rest) {
    // A chain: each layer reads exactly the previous one's output.
    const inbound = layer.inboundNodes.length === 1 ? layer.inboundNodes[0]!.inboundLayers : [];
    if (inbound.length !== 1 || inbound[0] !== previous) return null;
    const step = stepOf(layer);
    if (!step) return null;
    steps.push(step);
    previous = layer;
  }
  if (previous.output !== model.outputs[0]) return null;
  return (x: tf.Tensor4D): tf.Tensor2D => {
    let h: tf.Tensor = x;
    for (const s of steps) {
      if (s.kind === 'flatten') h = tf.reshape(h, [h.shape[0]!, -1]);
      else if (s.kind === 'conv')
        h = tf.fused.conv2d({
          x: h as tf.Tensor4D,
          filter: s.kernel,
          strides: s.strides,
          pad: s.pad,
          bias: s.bias,
          activation: s.activation,
        });
      else h = tf.fused.matMul({ a: h as tf.Tensor2D, b: s.kernel, bias: s.bias, activation: s.activation });
    }
    return h as tf.Tensor2D;
  };
}
