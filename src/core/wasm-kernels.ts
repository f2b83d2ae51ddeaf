import * as tf from '@tensorflow/tfjs';

/**
 * Kernels that tfjs-backend-wasm 4.22 lacks (or runs slowly), registered for 'wasm' from kernels
 * it has.
 *
 * - Conv2DBackpropFilter (the filter gradient of every conv and transposed conv) is missing, so
 *   no convolutional model could train on wasm. It is rebuilt from the wasm Transpose, Conv2D
 *   (XNNPACK) and Slice kernels.
 * - Conv2DBackpropInput exists but is a scalar loop that took half of a VAE training step; it is
 *   replaced by a sub-pixel decomposition onto the XNNPACK Conv2D and a transpose.
 * test/vision/wasm-kernel.test.ts checks both against the cpu backend (valid, same and explicit
 * padding, strides 1 and 2); bench/vision.bench.ts measures the training throughput.
 */

type KernelFn = (args: {
  inputs: tf.NamedTensorInfoMap;
  backend: tf.KernelBackend;
  attrs?: tf.NamedAttrMap;
}) => tf.TensorInfo;

function wasmKernel(name: string): KernelFn {
  const k = tf.getKernel(name, 'wasm');
  if (k === undefined) throw new Error(`tfjs-backend-wasm has no ${name} kernel (needed for Conv2DBackpropFilter)`);
  return k.kernelFunc as unknown as KernelFn;
}

function pair(v: number | [number, number]): [number, number] {
  return typeof v === 'number' ? [v, v] : v;
}

/**
 * dW[p,q,c,o] = sum_{b,i,j} x[b, i*s_h + p - padTop, j*s_w + q - padLeft, c] * dy[b,i,j,o].
 *
 * Read with c as the batch and b as the channel, this is a stride-1 convolution of x^T
 * [C,H,W,B] with dy^T [OH,OW,B,O] as the filter, dilated by the forward stride:
 *   out[c,p,q,o] = sum_{i,j,b} xT[c, p + s_h*i - padTop, q + s_w*j - padLeft, b] * dyT[i,j,b,o]
 * With the forward's top/left padding and the bottom/right padding that makes the output
 * exactly kh x kw (a forward 'valid' conv may have dropped trailing rows: then the padding is 0
 * and the surplus output rows are sliced off), transposed back to [kh,kw,C,O].
 */
function conv2DBackpropFilterWasm(args: {
  inputs: tf.NamedTensorInfoMap;
  backend: tf.KernelBackend;
  attrs?: tf.NamedAttrMap;
}): tf.TensorInfo {
  const { backend } = args;
  const x = args.inputs.x as tf.TensorInfo;
  const dy = args.inputs.dy as tf.TensorInfo;
  const attrs = (args.attrs ?? {}) as unknown as tf.Conv2DBackpropFilterAttrs;
  if (attrs.dataFormat === 'NCHW') throw new Error('wasm Conv2DBackpropFilter supports only NHWC (channelsLast)');
  const filterShape = attrs.filterShape;
  const info = tf.backend_util.computeConv2DInfo(
    x.shape as [number, number, number, number],
    filterShape,
    attrs.strides,
    1,
    attrs.pad,
    attrs.dimRoundingMode,
  );
  const [strideH, strideW] = pair(attrs.strides);
  const [kh, kw] = [filterShape[0], filterShape[1]];
  const [h, w] = [x.shape[1] as number, x.shape[2] as number];
  const { outHeight, outWidth } = info;
  const padTop = info.padInfo.top;
  const padLeft = info.padInfo.left;
  // Rows the dilated dy filter spans, and the padding that yields exactly kh rows of output.
  const padBottom = Math.max(0, kh - 1 + (outHeight - 1) * strideH + 1 - h - padTop);
  const padRight = Math.max(0, kw - 1 + (outWidth - 1) * strideW + 1 - w - padLeft);

  const transpose = wasmKernel('Transpose');
  const conv2d = wasmKernel('Conv2D');
  const slice = wasmKernel('Slice');
  const temps: tf.TensorInfo[] = [];
  try {
    const xT = transpose({ inputs: { x }, backend, attrs: { perm: [3, 1, 2, 0] } });
    temps.push(xT);
    const dyT = transpose({ inputs: { x: dy }, backend, attrs: { perm: [1, 2, 0, 3] } });
    temps.push(dyT);
    const explicitPad: tf.backend_util.ExplicitPadding = [
      [0, 0],
      [padTop, padBottom],
      [padLeft, padRight],
      [0, 0],
    ];
    let g = conv2d({
      inputs: { x: xT, filter: dyT },
      backend,
      attrs: {
        strides: [1, 1],
        pad: explicitPad,
        dataFormat: 'NHWC',
        dilations: [strideH, strideW],
        dimRoundingMode: undefined,
      } as unknown as tf.NamedAttrMap,
    });
    temps.push(g);
    if (g.shape[1] !== kh || g.shape[2] !== kw) {
      g = slice({
        inputs: { x: g },
        backend,
        attrs: { begin: [0, 0, 0, 0], size: [g.shape[0] as number, kh, kw, g.shape[3] as number] },
      });
      temps.push(g);
    }
    return transpose({ inputs: { x: g }, backend, attrs: { perm: [1, 2, 0, 3] } });
  } finally {
    for (const t of temps) backend.disposeData(t.dataId);
  }
}

/** The wasm backend's own helpers that composite kernels need. */
interface WasmBackendLike extends tf.KernelBackend {
  makeOutput(shape: number[], dtype: tf.DataType, memoryOffset?: number, values?: Float32Array): tf.TensorInfo;
}

/** For one axis of a transposed conv: which filter tap p and dy offset d feed output phase a. */
interface PhaseTaps {
  /** taps[a] = [p, d] pairs: dx[m*s + a] += dy[m + d] * W[p]. */
  readonly taps: [number, number][][];
  readonly dMin: number;
  readonly dMax: number;
}

/**
 * dx[h] = sum over i, p with i*s + p - padBefore = h of dy[i] * W[p]. Writing h = m*s + a:
 * p = a + padBefore - s*d and i = m + d, so each output phase a is a small stride-1
 * correlation of dy (offsets d) with the taps p of matching phase.
 */
function phaseTaps(kernel: number, stride: number, padBefore: number): PhaseTaps {
  const taps: [number, number][][] = [];
  let dMin = Infinity;
  let dMax = -Infinity;
  for (let a = 0; a < stride; a++) {
    const list: [number, number][] = [];
    for (let p = 0; p < kernel; p++) {
      const num = a + padBefore - p;
      if (((num % stride) + stride) % stride !== 0) continue;
      const d = num / stride;
      list.push([p, d]);
      dMin = Math.min(dMin, d);
      dMax = Math.max(dMax, d);
    }
    taps.push(list);
  }
  return { taps, dMin, dMax };
}

/**
 * Conv2DBackpropInput (the transposed convolution: the VAE decoder's forward pass and every
 * conv's input gradient) on XNNPACK instead of the wasm backend's scalar loop, by sub-pixel
 * decomposition (Shi et al. 2016): one stride-1 conv of dy with a kernel K holding, for each of
 * the s*s output phases, the filter taps of that phase (s*s*Cin output channels), then
 * a depth-to-space (reshape, transpose) interleaves the phases into dx. K is rebuilt from the filter on each call (a few
 * thousand values). Cases it does not cover (NCHW, unequal strides, padding before the first
 * input larger than the kernel) go to the original kernel.
 */
function makeConv2DBackpropInputWasm(original: KernelFn): KernelFn {
  return (args) => {
    const backend = args.backend as WasmBackendLike;
    const dy = args.inputs.dy as tf.TensorInfo;
    const filter = args.inputs.filter as tf.TensorInfo;
    const attrs = (args.attrs ?? {}) as unknown as tf.Conv2DBackpropInputAttrs;
    const [sh, sw] = pair(attrs.strides);
    if (attrs.dataFormat === 'NCHW' || sh !== sw) return original(args);
    const inputShape = attrs.inputShape;
    const [kh, kw, cin, cout] = filter.shape as [number, number, number, number];
    const info = tf.backend_util.computeConv2DInfo(
      inputShape,
      [kh, kw, cin, cout],
      attrs.strides,
      1,
      attrs.pad,
      attrs.dimRoundingMode,
    );
    const rows = phaseTaps(kh, sh, info.padInfo.top);
    const cols = phaseTaps(kw, sw, info.padInfo.left);
    if (rows.dMin > 0 || cols.dMin > 0 || !Number.isFinite(rows.dMin) || !Number.isFinite(cols.dMin))
      return original(args);
    const [batch, h, w] = [inputShape[0], inputShape[1], inputShape[2]];
    const [oh, ow] = [dy.shape[1] as number, dy.shape[2] as number];
    const KH = rows.dMax - rows.dMin + 1;
    const KW = cols.dMax - cols.dMin + 1;
    const phases = sh * sw;

    // K[t, u, co, (a*s + b)*cin + ci] = W[p, q, ci, co] for the taps of phase (a, b).
    const wv = backend.readSync(filter.dataId) as Float32Array;
    const kv = new Float32Array(KH * KW * cout * phases * cin);
    const outCh = phases * cin;
    for (let a = 0; a < sh; a++) {
      for (const [p, dr] of rows.taps[a]!) {
        const t = dr - rows.dMin;
        for (let b = 0; b < sw; b++) {
          for (const [q, dc] of cols.taps[b]!) {
            const u = dc - cols.dMin;
            const chBase = (a * sw + b) * cin;
            for (let ci = 0; ci < cin; ci++) {
              const wBase = ((p * kw + q) * cin + ci) * cout;
              for (let co = 0; co < cout; co++) kv[((t * KW + u) * cout + co) * outCh + chBase + ci] = wv[wBase + co]!;
            }
          }
        }
      }
    }
    // Phase rows needed: ceil(h / s); dy rows read reach m + dMax, padded with zeros past the end.
    const mRows = Math.ceil(h / sh);
    const mCols = Math.ceil(w / sw);
    const padBottom = Math.max(0, mRows + rows.dMax - oh);
    const padRight = Math.max(0, mCols + cols.dMax - ow);
    const temps: tf.TensorInfo[] = [];
    try {
      const k = backend.makeOutput([KH, KW, cout, outCh], 'float32', undefined, kv);
      temps.push(k);
      let y = wasmKernel('Conv2D')({
        inputs: { x: dy, filter: k },
        backend,
        attrs: {
          strides: [1, 1],
          pad: [
            [0, 0],
            [-rows.dMin, padBottom],
            [-cols.dMin, padRight],
            [0, 0],
          ],
          dataFormat: 'NHWC',
          dilations: [1, 1],
          dimRoundingMode: undefined,
        } as unknown as tf.NamedAttrMap,
      });
      temps.push(y);
      if (y.shape[1] !== mRows || y.shape[2] !== mCols) {
        y = wasmKernel('Slice')({
          inputs: { x: y },
          backend,
          attrs: { begin: [0, 0, 0, 0], size: [batch, mRows, mCols, outCh] },
        });
        temps.push(y);
      }
      if (sh > 1) {
        // Interleave the phases (depth-to-space): [B*M, N, s(a), s*Cin (b, ci)] -> transpose the
        // middle axes -> [B, M*s, N*s, Cin]. (The wasm DepthToSpace kernel is ~30x slower.)
        const reshape = wasmKernel('Reshape');
        const split = reshape({ inputs: { x: y }, backend, attrs: { shape: [batch * mRows, mCols, sh, sw * cin] } });
        temps.push(split);
        const swapped = wasmKernel('Transpose')({ inputs: { x: split }, backend, attrs: { perm: [0, 2, 1, 3] } });
        temps.push(swapped);
        y = reshape({ inputs: { x: swapped }, backend, attrs: { shape: [batch, mRows * sh, mCols * sw, cin] } });
        temps.push(y);
      }
      if (y.shape[1] !== h || y.shape[2] !== w) {
        y = wasmKernel('Slice')({
          inputs: { x: y },
          backend,
          attrs: { begin: [0, 0, 0, 0], size: [batch, h, w, cin] },
        });
        temps.push(y);
      }
      temps.pop(); // the result is returned, not freed
      return y;
    } finally {
      for (const t of temps) backend.disposeData(t.dataId);
    }
  };
}

let registered = false;

/**
 * Registers, once, for 'wasm': Conv2DBackpropFilter (missing) and a faster
 * Conv2DBackpropInput (replacing the backend's scalar loop; it delegates to it where it does
 * not apply). Idempotent; the wasm backend must be loaded.
 */
export function registerMissingWasmKernels(): void {
  if (registered) return;
  if (tf.getKernel('Conv2DBackpropFilter', 'wasm') === undefined) {
    tf.registerKernel({
      kernelName: 'Conv2DBackpropFilter',
      backendName: 'wasm',
      kernelFunc: conv2DBackpropFilterWasm as unknown as tf.KernelFunc,
    });
  }
  const original = tf.getKernel('Conv2DBackpropInput', 'wasm');
  if (original !== undefined) {
    tf.unregisterKernel('Conv2DBackpropInput', 'wasm');
    tf.registerKernel({
      kernelName: 'Conv2DBackpropInput',
      backendName: 'wasm',
      kernelFunc: makeConv2DBackpropInputWasm(original.kernelFunc as unknown as KernelFn) as unknown as tf.KernelFunc,
    });
  }
  registered = true;
}
