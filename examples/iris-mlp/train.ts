import path from 'node:path';
import { z } from 'zod';
import { defineTraining, loadTable, tf } from '@cairn/engine';

/**
 * A small MLP on the Iris flowers: four measurements in, three species out. The CSV's
 * `id` column keys the split (20% validation, by hashing ids with the run's seed) and
 * the features are standardised with train-split statistics.
 */
export default defineTraining({
  name: 'iris-mlp',
  params: z.object({
    hiddenUnits: z.number().int().min(1).default(16),
    learningRate: z.number().positive().default(0.01),
    dropout: z.number().min(0).max(0.9).default(0.1),
    epochs: z.number().int().min(1).default(100),
    batchSize: z.number().int().min(1).default(16),
  }),
  data: (ctx) =>
    loadTable(path.join(ctx.dir, 'iris.csv'), {
      features: ['sepal_length', 'sepal_width', 'petal_length', 'petal_width'],
      label: 'species',
      task: 'classification',
      id: 'id',
      subset: ctx.subset,
      seed: ctx.seed,
      split: { validation: 0.2 },
      normalize: 'standard',
    }),
  model: (p, info) =>
    tf.sequential({
      layers: [
        tf.layers.dense({ inputShape: info.inputShape, units: p.hiddenUnits, activation: 'relu' }),
        tf.layers.dropout({ rate: p.dropout }),
        tf.layers.dense({ units: info.numClasses!, activation: 'softmax' }),
      ],
    }),
  compile: (p) => ({ optimizer: tf.train.adam(p.learningRate), loss: 'categoricalCrossentropy', metrics: ['accuracy'] }),
  // tfjs-layers 4.x reports metrics: ['accuracy'] as `acc` and `val_acc`.
  objective: { metric: 'val_acc', direction: 'maximize' },
  tiers: {
    // 150 rows: every tier can afford all of them.
    ci: { subset: 1, epochs: 30 },
    extended: { subset: 1, epochs: 60, policies: [{ kind: 'plateau', patience: 15 }] },
    nightly: { subset: 1 },
    weekly: { subset: 1, epochs: 200 },
  },
});
