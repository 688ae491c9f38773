import type { Optimizer } from '@tensorflow/tfjs-core';
import type { LayersModel } from '@tensorflow/tfjs-layers';
import type { NativeNode, NativePlan } from './addon.ts';

/**
 * Compiles a tfjs LayersModel into the plan the C++ core runs: nodes in topological order
 * (node 0 the input), their parameters as indices into `model.weights` (the order
 * `getWeights()` and checkpoints use), the loss with the output's softmax or sigmoid folded
 * into it, the metrics and the optimizer. Anything the core does not implement exactly is
 * refused with a reason, so the caller trains on tfjs instead: never a wrong answer.
 */
export class Unsupported extends Error {}

const ACTIVATIONS = new Set(['linear', 'relu', 'sigmoid', 'tanh', 'softmax', 'elu']);
const LOSSES = new Set(['sparseCategoricalCrossentropy', 'categoricalCrossentropy', 'binaryCrossentropy', 'meanSquaredError']);

export interface CompiledPlan {
  plan: NativePlan;
  /** Metric names as tfjs reports them: 'loss', then each metric ('acc', …). */
  names: string[];
  /** Parameter indices (into model.weights) of the trainable weights, in tfjs's optimizer order. */
  trainable: number[];
}

export interface PlanOptions {
  loss: string | string[];
  metrics?: string[];
  optimizer: Optimizer | string;
  /** Per-example target elements (1 for sparse labels). */
  labelSize: number;
  maxBatch: number;
}

// The parts of tfjs-layers' internals the walk reads (stable across 4.x, not in its typings).
interface SymTensor {
  id: number;
  shape: (number | null)[];
  sourceLayer: Layer;
  nodeIndex: number;
}
interface Layer {
  name: string;
  getClassName(): string;
  getConfig(): Record<string, unknown>;
  inboundNodes: { inputTensors: SymTensor[]; outputShapes: (number | null)[] | (number | null)[][] }[];
  weights: { id?: number; name: string; shape: number[]; trainable: boolean }[];
  batchInputShape?: (number | null)[];
}

function fail(message: string): never {
  throw new Unsupported(message);
}

function dims(shape: (number | null)[], what: string): number[] {
  const out = shape.slice(1);
  if (out.some((d) => d == null || !(d > 0))) fail(`${what} has an unknown dimension (${JSON.stringify(shape)}); native-cpu needs fixed shapes`);
  return out as number[];
}

function pair(v: unknown, what: string): [number, number] {
  const a = Array.isArray(v) ? v : [v, v];
  if (a.length !== 2 || a.some((x) => typeof x !== 'number')) fail(`${what} must be two numbers`);
  return [a[0] as number, a[1] as number];
}

function activationOf(layer: Layer, config: Record<string, unknown>): string {
  const a = (config.activation as string | undefined) ?? 'linear';
  if (typeof a !== 'string' || !ACTIVATIONS.has(a)) fail(`activation ${String(a)} (layer ${layer.name}) not supported by native-cpu`);
  return a;
}

function noExtras(layer: Layer, config: Record<string, unknown>): void {
  for (const key of Object.keys(config)) {
    if (/(Regularizer|Constraint)$/.test(key) && config[key] != null) fail(`${key} on layer ${layer.name} not supported by native-cpu`);
  }
}

/** Same-padding offsets as tfjs computes them (the extra row/column goes after). */
function padding(mode: unknown, size: number, k: number, s: number, layer: Layer): { out: number; before: number } {
  if (mode === 'valid') return { out: Math.floor((size - k) / s) + 1, before: 0 };
  if (mode === 'same') {
    const out = Math.ceil(size / s);
    const total = Math.max((out - 1) * s + k - size, 0);
    return { out, before: Math.floor(total / 2) };
  }
  return fail(`padding '${String(mode)}' (layer ${layer.name}) not supported by native-cpu`);
}

export function optimizerSpec(opt: Optimizer | string): NativePlan['optimizer'] {
  if (typeof opt === 'string') {
    // tfjs-layers' defaults for optimizers named by string (tfjs-layers optimizers.ts).
    switch (opt) {
      case 'adam':
      case 'Adam':
        return { kind: 'adam', learningRate: 0.001, beta1: 0.9, beta2: 0.999, epsilon: 1e-7 };
      case 'sgd':
      case 'SGD':
        return { kind: 'sgd', learningRate: 0.01 };
      case 'rmsprop':
      case 'RMSProp':
        return { kind: 'rmsprop', learningRate: 0.001, decay: 0.9, momentum: 0, epsilon: 1e-7, centered: false };
      default:
        return fail(`optimizer ${opt} not supported by native-cpu`);
    }
  }
  const o = opt as unknown as Record<string, number | boolean> & { getClassName(): string };
  const name = o.getClassName();
  switch (name) {
    case 'Adam':
      return { kind: 'adam', learningRate: o.learningRate as number, beta1: o.beta1 as number, beta2: o.beta2 as number, epsilon: o.epsilon as number };
    case 'SGD':
      return { kind: 'sgd', learningRate: o.learningRate as number };
    case 'Momentum':
      return { kind: 'momentum', learningRate: o.learningRate as number, momentum: o.momentum as number, nesterov: Boolean(o.useNesterov) };
    case 'RMSProp':
      return { kind: 'rmsprop', learningRate: o.learningRate as number, decay: o.decay as number, momentum: o.momentum as number, epsilon: o.epsilon as number, centered: Boolean(o.centered) };
    default:
      return fail(`optimizer ${name} not supported by native-cpu`);
  }
}

export function compilePlan(model: LayersModel, opts: PlanOptions): CompiledPlan {
  const m = model as unknown as { inputs: SymTensor[]; outputs: SymTensor[]; weights: Layer['weights']; trainableWeights: Layer['weights'] };
  if (!m.inputs || !m.outputs) fail('the model is not built (no inputs/outputs)');
  if (m.inputs.length !== 1) fail(`a model with ${m.inputs.length} inputs is not supported by native-cpu`);
  if (m.outputs.length !== 1) fail(`a model with ${m.outputs.length} outputs is not supported by native-cpu`);
  const weightIndex = new Map<object, number>();
  m.weights.forEach((w, i) => weightIndex.set(w, i));
  const paramOf = (w: object | undefined, layer: Layer): number => {
    const i = w ? weightIndex.get(w) : undefined;
    if (i === undefined) fail(`a weight of layer ${layer.name} is not among the model's weights`);
    return i;
  };

  const nodes: NativeNode[] = [];
  const byTensor = new Map<number, number>();
  const visiting = new Set<number>();
  const visit = (t: SymTensor): number => {
    const known = byTensor.get(t.id);
    if (known !== undefined) return known;
    if (visiting.has(t.id)) fail('the model graph has a cycle');
    visiting.add(t.id);
    const layer = t.sourceLayer;
    const cls = layer.getClassName();
    if ('layers' in layer) fail(`nested model ${layer.name} not supported by native-cpu`);
    const inbound = layer.inboundNodes[t.nodeIndex];
    if (!inbound) fail(`layer ${layer.name} has no inbound node ${t.nodeIndex}`);
    const inputs = cls === 'InputLayer' ? [] : inbound.inputTensors.map(visit);
    const shape = dims(t.shape, `the output of ${layer.name}`);
    const config = layer.getConfig();
    noExtras(layer, config);
    const inShape = (k = 0) => nodes[inputs[k]!]!.shape;
    let node: NativeNode;
    switch (cls) {
      case 'InputLayer':
        if (nodes.length > 0) fail('a second input layer');
        node = { op: 'input', inputs: [], shape };
        break;
      case 'Dense': {
        const act = activationOf(layer, config);
        const [kernel, bias] = layer.weights;
        node = { op: 'dense', inputs, shape, act, units: config.units as number, kernel: paramOf(kernel, layer), ...(config.useBias ? { bias: paramOf(bias, layer) } : {}) };
        break;
      }
      case 'Conv2D': {
        const act = activationOf(layer, config);
        if ((config.dataFormat ?? 'channelsLast') !== 'channelsLast') fail(`dataFormat ${String(config.dataFormat)} (layer ${layer.name}) not supported by native-cpu`);
        const [dh, dw] = pair(config.dilationRate ?? 1, 'dilationRate');
        if (dh !== 1 || dw !== 1) fail(`dilated convolution (layer ${layer.name}) not supported by native-cpu`);
        const [kh, kw] = pair(config.kernelSize, 'kernelSize');
        const [sh, sw] = pair(config.strides ?? 1, 'strides');
        const [h, w, cin] = inShape();
        if (h === undefined || w === undefined || cin === undefined || inShape().length !== 3) fail(`Conv2D ${layer.name} needs a [height, width, channels] input`);
        const py = padding(config.padding, h, kh, sh, layer);
        const px = padding(config.padding, w, kw, sw, layer);
        const [kernel, bias] = layer.weights;
        const cout = config.filters as number;
        node = {
          op: 'conv2d',
          inputs,
          shape,
          act,
          kernel: paramOf(kernel, layer),
          ...(config.useBias ? { bias: paramOf(bias, layer) } : {}),
          conv: { h, w, cin, kh, kw, sh, sw, padTop: py.before, padLeft: px.before, oh: py.out, ow: px.out, cout },
        };
        if (shape.join() !== [py.out, px.out, cout].join()) fail(`Conv2D ${layer.name}: output shape ${shape} differs from the computed ${[py.out, px.out, cout]}`);
        break;
      }
      case 'MaxPooling2D':
      case 'AveragePooling2D': {
        if ((config.dataFormat ?? 'channelsLast') !== 'channelsLast') fail(`dataFormat ${String(config.dataFormat)} (layer ${layer.name}) not supported by native-cpu`);
        const [ph, pw] = pair(config.poolSize, 'poolSize');
        const [sh, sw] = pair(config.strides ?? config.poolSize, 'strides');
        const [h, w, c] = inShape();
        if (h === undefined || w === undefined || c === undefined || inShape().length !== 3) fail(`${cls} ${layer.name} needs a [height, width, channels] input`);
        const py = padding(config.padding, h, ph, sh, layer);
        const px = padding(config.padding, w, pw, sw, layer);
        if (shape.join() !== [py.out, px.out, c].join()) fail(`${cls} ${layer.name}: output shape ${shape} differs from the computed ${[py.out, px.out, c]}`);
        node = { op: cls === 'MaxPooling2D' ? 'maxpool' : 'avgpool', inputs, shape, pool: { h, w, c, ph, pw, sh, sw, padTop: py.before, padLeft: px.before, oh: py.out, ow: px.out } };
        break;
      }
      case 'GlobalAveragePooling2D':
        if ((config.dataFormat ?? 'channelsLast') !== 'channelsLast') fail(`dataFormat ${String(config.dataFormat)} (layer ${layer.name}) not supported by native-cpu`);
        if (inShape().length !== 3 || shape.length !== 1) fail(`GlobalAveragePooling2D ${layer.name} with keepDims not supported by native-cpu`);
        node = { op: 'gap', inputs, shape };
        break;
      case 'Flatten':
        if (config.dataFormat === 'channelsFirst') fail(`Flatten with channelsFirst (layer ${layer.name}) not supported by native-cpu`);
        node = { op: 'reshape', inputs, shape };
        break;
      case 'Reshape':
        node = { op: 'reshape', inputs, shape };
        break;
      case 'Dropout':
        if (config.noiseShape != null) fail(`Dropout with noiseShape (layer ${layer.name}) not supported by native-cpu`);
        node = { op: 'dropout', inputs, shape, rate: config.rate as number };
        break;
      case 'BatchNormalization': {
        const rank = shape.length + 1;
        const axis = config.axis as number;
        if (axis !== -1 && axis !== rank - 1) fail(`BatchNormalization over axis ${axis} (layer ${layer.name}) not supported by native-cpu`);
        if (!config.center || !config.scale) fail(`BatchNormalization without center and scale (layer ${layer.name}) not supported by native-cpu`);
        const byName = (suffix: string) => layer.weights.find((w) => w.name.endsWith(`/${suffix}`));
        node = {
          op: 'batchnorm',
          inputs,
          shape,
          gamma: paramOf(byName('gamma'), layer),
          beta: paramOf(byName('beta'), layer),
          movingMean: paramOf(byName('moving_mean'), layer),
          movingVar: paramOf(byName('moving_variance'), layer),
          epsilon: config.epsilon as number,
          momentum: config.momentum as number,
        };
        break;
      }
      case 'Activation':
        node = { op: 'activation', inputs, shape, act: activationOf(layer, config) };
        break;
      case 'Embedding': {
        if (config.maskZero) fail(`Embedding with maskZero (layer ${layer.name}) not supported by native-cpu`);
        if (inputs[0] !== 0) fail(`Embedding ${layer.name} must read the model's input directly for native-cpu`);
        node = { op: 'embedding', inputs, shape, kernel: paramOf(layer.weights[0], layer), vocab: config.inputDim as number };
        break;
      }
      case 'Add':
        if (inputs.some((_, k) => inShape(k).join() !== shape.join())) fail(`Add ${layer.name} with broadcasting not supported by native-cpu`);
        node = { op: 'add', inputs, shape };
        break;
      case 'Concatenate': {
        const axis = config.axis as number;
        if (axis !== -1 && axis !== shape.length) fail(`Concatenate over axis ${axis} (layer ${layer.name}) not supported by native-cpu`);
        node = { op: 'concat', inputs, shape };
        break;
      }
      default:
        fail(`layer ${cls} not supported by native-cpu`);
    }
    if (cls !== 'InputLayer' && layer.weights.length > 0) {
      // Every weight a layer holds must be one the node reads, or the plan would ignore it.
      const used = new Set([node.kernel, node.bias, node.gamma, node.beta, node.movingMean, node.movingVar].filter((x) => x !== undefined));
      for (const w of layer.weights) if (!used.has(paramOf(w, layer))) fail(`weight ${w.name} of layer ${layer.name} not supported by native-cpu`);
    }
    nodes.push(node);
    visiting.delete(t.id);
    byTensor.set(t.id, nodes.length - 1);
    return nodes.length - 1;
  };
  visit(m.inputs[0]!);
  const output = visit(m.outputs[0]!);
  if (output === 0) fail('the model has no layers');
  const out = nodes[output]!;
  if (out.shape.length !== 1) fail(`an output of shape [${out.shape}] (more than one axis per example) not supported by native-cpu`);

  const losses = Array.isArray(opts.loss) ? opts.loss : [opts.loss];
  if (losses.length !== 1 || typeof losses[0] !== 'string') fail('native-cpu needs exactly one loss, named by string');
  const loss = losses[0]!;
  if (!LOSSES.has(loss)) fail(`loss ${loss} not supported by native-cpu`);
  const outAct = out.act ?? 'linear';
  let fused = false;
  if (loss === 'categoricalCrossentropy' || loss === 'sparseCategoricalCrossentropy') {
    if (outAct !== 'softmax') fail(`${loss} on an output without softmax (its activation is ${outAct}) not supported by native-cpu`);
    fused = true;
  } else if (loss === 'binaryCrossentropy') {
    if (outAct !== 'sigmoid') fail(`binaryCrossentropy on an output without sigmoid (its activation is ${outAct}) not supported by native-cpu`);
    fused = true;
  }
  const width = out.shape[0]!;
  if (loss === 'sparseCategoricalCrossentropy' ? opts.labelSize !== 1 : opts.labelSize !== width) {
    fail(`targets of ${opts.labelSize} values per example do not fit an output of ${width} with ${loss}`);
  }

  // Metric names and functions as tfjs-layers' compile picks them (training.ts handleMetrics).
  const names = ['loss'];
  const metrics: string[] = [];
  for (const metric of opts.metrics ?? []) {
    if (typeof metric !== 'string') fail('metric functions are not supported by native-cpu (name them by string)');
    const binary = width === 1 || loss === 'binaryCrossentropy';
    if (metric === 'accuracy' || metric === 'acc') {
      metrics.push(binary ? 'binaryAccuracy' : loss === 'sparseCategoricalCrossentropy' ? 'sparseCategoricalAccuracy' : 'categoricalAccuracy');
      names.push('acc');
    } else if (metric === 'crossentropy' || metric === 'ce') {
      metrics.push(binary ? 'binaryCrossentropy' : loss === 'sparseCategoricalCrossentropy' ? 'sparseCategoricalCrossentropy' : 'categoricalCrossentropy');
      names.push('ce');
    } else if (metric === 'binaryAccuracy' || metric === 'categoricalAccuracy') {
      metrics.push(metric);
      names.push(metric);
    } else if (metric === 'mse' || metric === 'MSE') {
      metrics.push('meanSquaredError');
      names.push(metric);
    } else if (metric === 'categoricalCrossentropy' || metric === 'sparseCategoricalCrossentropy' || metric === 'binaryCrossentropy') {
      metrics.push(metric);
      names.push(metric);
    } else {
      fail(`metric ${metric} not supported by native-cpu`);
    }
  }
  const sparse = loss === 'sparseCategoricalCrossentropy';
  for (const [k, metric] of metrics.entries()) {
    if (metric.startsWith('sparse') !== sparse) fail(`metric ${names[k + 1]} does not fit the targets of ${loss} on native-cpu`);
  }

  const trainable = m.trainableWeights.map((w) => paramOf(w, { name: w.name } as Layer));
  const isTrainable = new Set(trainable);
  const plan: NativePlan = {
    nodes,
    params: m.weights.map((w, i) => ({ shape: w.shape.length ? w.shape : [1], trainable: isTrainable.has(i) })),
    output,
    loss: loss as NativePlan['loss'],
    fused,
    metrics,
    labelSize: opts.labelSize,
    maxBatch: opts.maxBatch,
    optimizer: optimizerSpec(opts.optimizer),
  };
  return { plan, names, trainable };
}
