import { z } from 'zod';
import { defineTraining, loadImageFolder, tf } from '@cairn/engine';

/**
 * A small CNN (conv → pool → conv → pool → dense) on 8x8 handwritten digits: the data
 * folder holds data/<digit>/<n>.png, the record id is the relative path, 20% go to
 * validation by hashing ids with the run's seed, and pixels are scaled to [0, 1].
 * Small enough that an epoch over all 1797 images takes seconds on the pure-JS cpu
 * backend (the wasm backend cannot train convolutions).
 */
export default defineTraining({
  name: 'digits-cnn',
  params: z.object({
    filters1: z.number().int().min(1).default(8),
    filters2: z.number().int().min(1).default(16),
    denseUnits: z.number().int().min(1).default(32),
    dropout: z.number().min(0).max(0.9).default(0.25),
    learningRate: z.number().positive().default(0.01),
    epochs: z.number().int().min(1).default(10),
    batchSize: z.number().int().min(1).default(32),
  }),
  data: (ctx) => loadImageFolder(ctx.dir, { subset: ctx.subset, seed: ctx.seed, split: { validation: 0.2 } }),
  model: (p, info) =>
    tf.sequential({
      layers: [
        tf.layers.conv2d({ inputShape: info.inputShape, filters: p.filters1, kernelSize: 3, padding: 'same', activation: 'relu' }),
        tf.layers.maxPooling2d({ poolSize: 2 }),
        tf.layers.conv2d({ filters: p.filters2, kernelSize: 3, padding: 'same', activation: 'relu' }),
        tf.layers.maxPooling2d({ poolSize: 2 }),
        tf.layers.flatten(),
        tf.layers.dense({ units: p.denseUnits, activation: 'relu' }),
        tf.layers.dropout({ rate: p.dropout }),
        tf.layers.dense({ units: info.numClasses!, activation: 'softmax' }),
      ],
    }),
  compile: (p) => ({ optimizer: tf.train.adam(p.learningRate), loss: 'categoricalCrossentropy', metrics: ['accuracy'] }),
  // tfjs-layers 4.x reports metrics: ['accuracy'] as `acc` and `val_acc`.
  objective: { metric: 'val_acc', direction: 'maximize' },
  tiers: {
    // A smoke test: a fifth of the images (about 360), three epochs.
    ci: { subset: 0.2, epochs: 3 },
    extended: { subset: 0.5, epochs: 10 },
    nightly: { subset: 1 },
    weekly: { subset: 1, epochs: 40 },
  },
});
