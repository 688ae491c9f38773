import * as tfc from '@tensorflow/tfjs-core';
// Types only: brings tfjs's `declare module` augmentations (x.sub(), x.square(), ...) into
// the Tensor type. The runtime file cannot be imported under Node: it is ESM in a
// CommonJS package and would load a second tfjs-core (its ESM build) beside the engine's.
import type {} from '@tensorflow/tfjs-core/dist/public/chained_ops/register_all_chained_ops';

/**
 * Chained ops tfjs-core defines as `op(this, ...args)` (x.sub(b) is tf.sub(x, b)). The
 * list mirrors tfjs-core's public/chained_ops folder; chained-ops.test.ts fails when a
 * tfjs upgrade adds one.
 */
export const PLAIN_CHAINED_OPS = [
  'abs', 'acos', 'acosh', 'add', 'all', 'any', 'argMax', 'argMin', 'asin', 'asinh', 'atan', 'atan2', 'atanh', 'avgPool',
  'batchToSpaceND', 'batchNorm', 'broadcastTo', 'cast', 'ceil', 'clipByValue', 'conv1d', 'conv2d', 'conv2dTranspose', 'cos',
  'cosh', 'cumprod', 'cumsum', 'depthToSpace', 'depthwiseConv2d', 'dilation2d', 'div', 'divNoNan', 'dot', 'elu', 'equal',
  'erf', 'euclideanNorm', 'exp', 'expandDims', 'expm1', 'fft', 'floor', 'floorDiv', 'gather', 'greater', 'greaterEqual',
  'ifft', 'irfft', 'isFinite', 'isInf', 'isNaN', 'leakyRelu', 'less', 'lessEqual', 'localResponseNormalization', 'log',
  'log1p', 'logSigmoid', 'logSoftmax', 'logSumExp', 'logicalAnd', 'logicalNot', 'logicalOr', 'logicalXor', 'matMul', 'max',
  'maxPool', 'maximum', 'mean', 'min', 'minimum', 'mirrorPad', 'mod', 'mul', 'neg', 'norm', 'notEqual', 'oneHot',
  'onesLike', 'pad', 'pool', 'pow', 'prelu', 'prod', 'reciprocal', 'relu', 'relu6', 'reshape', 'reverse', 'rfft', 'round', 'rsqrt', 'selu', 'separableConv2d', 'sigmoid', 'sign', 'sin', 'sinh',
  'slice', 'softmax', 'softplus', 'spaceToBatchND', 'split', 'sqrt', 'square', 'squaredDifference', 'squeeze', 'step',
  'stridedSlice', 'sub', 'sum', 'tan', 'tanh', 'tile', 'topk', 'transpose', 'unique', 'unsortedSegmentSum', 'unstack',
  'zerosLike',
] as const;

type Method = (this: tfc.Tensor, ...args: never[]) => unknown;
const reshapeTo = (shape: (t: tfc.Tensor, args: number[]) => number[]): Method =>
  function (this: tfc.Tensor, ...args: number[]) {
    return tfc.reshape(this, shape(this, args));
  } as Method;

/** The chained ops that are not `op(this, ...args)` on a top-level op. */
const SPECIAL_CHAINED_OPS: Record<string, Method> = {
  as1D: reshapeTo((t) => [t.size]),
  as2D: reshapeTo((_, a) => a.slice(0, 2)),
  as3D: reshapeTo((_, a) => a.slice(0, 3)),
  as4D: reshapeTo((_, a) => a.slice(0, 4)),
  as5D: reshapeTo((_, a) => a.slice(0, 5)),
  flatten: reshapeTo((t) => [t.size]),
  asScalar: function (this: tfc.Tensor) {
    tfc.util.assert(this.size === 1, () => 'The array must have only 1 element.');
    return tfc.reshape(this, []);
  },
  reshapeAs: function (this: tfc.Tensor, x: tfc.Tensor) {
    return tfc.reshape(this, x.shape);
  } as Method,
  asType: function (this: tfc.Tensor, dtype: tfc.DataType) {
    return tfc.cast(this, dtype);
  } as Method,
  toBool: function (this: tfc.Tensor) {
    return tfc.cast(this, 'bool');
  },
  toFloat: function (this: tfc.Tensor) {
    return tfc.cast(this, 'float32');
  },
  toInt: function (this: tfc.Tensor) {
    return tfc.cast(this, 'int32');
  },
  concat: function (this: tfc.Tensor, x: tfc.Tensor | tfc.Tensor[], axis?: number) {
    return tfc.concat([this, ...(Array.isArray(x) ? x : [x])], axis);
  } as Method,
  stack: function (this: tfc.Tensor, x: tfc.Tensor | tfc.Tensor[], axis?: number) {
    return tfc.stack([this, ...(Array.isArray(x) ? x : [x])], axis);
  } as Method,
  // tfjs-core exports these under tf.image only.
  resizeBilinear: function (this: tfc.Tensor3D, size: [number, number], alignCorners?: boolean, halfPixelCenters?: boolean) {
    return tfc.image.resizeBilinear(this, size, alignCorners, halfPixelCenters);
  } as Method,
  resizeNearestNeighbor: function (this: tfc.Tensor3D, size: [number, number], alignCorners?: boolean, halfPixelCenters?: boolean) {
    return tfc.image.resizeNearestNeighbor(this, size, alignCorners, halfPixelCenters);
  } as Method,
  where: function (this: tfc.Tensor, condition: tfc.Tensor, x: tfc.Tensor) {
    return tfc.where(condition, this, x);
  } as Method,
};

/** Every chained op name the engine registers. */
export const CHAINED_OPS: readonly string[] = [...PLAIN_CHAINED_OPS, ...Object.keys(SPECIAL_CHAINED_OPS)];

/**
 * Puts tfjs's chained ops (x.sub(b), x.square(), ...) on the Tensor class. tfjs-core alone
 * leaves them out (the full @tensorflow/tfjs package adds them); a definition that writes
 * x.sub() would otherwise fail with "x.sub is not a function". Methods already there (the
 * full package loaded too) are kept. The Tensor class is tfjs's global one, so this
 * reaches every tensor the process creates.
 */
export function registerChainedOps(): void {
  const proto = tfc.Tensor.prototype as unknown as Record<string, unknown>;
  const ops = tfc as unknown as Record<string, (...args: unknown[]) => unknown>;
  const define = (name: string, fn: Method): void => {
    if (typeof proto[name] === 'function') return;
    proto[name] = function (this: tfc.Tensor, ...args: never[]) {
      (this as unknown as { throwIfDisposed(): void }).throwIfDisposed();
      return fn.apply(this, args);
    };
  };
  for (const name of PLAIN_CHAINED_OPS) {
    const op = ops[name];
    if (typeof op !== 'function') throw new Error(`tfjs-core has no op ${name} to chain`);
    define(name, function (this: tfc.Tensor, ...args: never[]) {
      return op(this, ...args);
    });
  }
  for (const [name, fn] of Object.entries(SPECIAL_CHAINED_OPS)) define(name, fn);
}
