/**
 * Cairn quick start: a small learning-rate sweep on Iris, tracked in the embedded
 * store (CAIRN_HOME, default ./.cairn), or PostgreSQL when DATABASE_URL is set.
 * Some runs finish, one is abandoned for learning too slowly, and one diverges and
 * fails: Cairn keeps all of them, with the reason each ended.
 *
 *   npm run quickstart        # this sweep, then `cairn runs list`
 */
import { readConfig } from '@cairn/config';
import { openStore } from '@cairn/store';
import { startRun } from '@cairn/tracking';
import { loadIris } from './data.ts';
import { evaluate, initModel, step } from './softmax.ts';

const EPOCHS = 60;
const PATIENCE = 15;
const TARGET = 0.9;
// Ten times the loss of a uniform guess over 3 classes.
const DIVERGED = 10 * Math.log(3);
const configs = [
  { lr: 0.5, standardize: true },
  { lr: 2, standardize: true },
  { lr: 0.0005, standardize: true },
  { lr: 50, standardize: false },
];

// This script is its own app: it reads DATABASE_URL / CAIRN_HOME once and tells the store.
const env = readConfig(process.env);
const store = await openStore({ url: env.databaseUrl, home: env.home });
try {
  // The metric that ranks these runs, for `cairn runs` and the portal's "best run".
  const experiment = await store.ensureExperiment({ name: 'iris-quickstart' });
  await store.setExperimentTags(experiment.id, { objective: 'val_accuracy max' });
  for (const config of configs) {
    const { train, validation } = loadIris(config);
    const run = await startRun({
      store,
      experiment: 'iris-quickstart',
      params: { ...config, epochs: EPOCHS, model: 'softmax-regression', optimizer: 'gd' },
      tags: { dataset: 'iris', example: 'quickstart' },
    });
    const model = initModel(train.x[0]!.length, train.classes);
    let best = -Infinity;
    let bestEpoch = 0;
    let ended = false;
    for (let epoch = 1; epoch <= EPOCHS && !ended; epoch++) {
      step(model, train, config.lr);
      const t = evaluate(model, train);
      const v = evaluate(model, validation);
      run.log({ loss: t.loss, accuracy: t.accuracy, val_loss: v.loss, val_accuracy: v.accuracy }, { step: epoch });
      if (!Number.isFinite(t.loss) || t.loss > DIVERGED) {
        await run.fail(`diverged: training loss ${t.loss.toFixed(1)} at epoch ${epoch} (learning rate ${config.lr} on unscaled features)`);
        ended = true;
      } else if (v.accuracy > best + 0.01) {
        best = v.accuracy;
        bestEpoch = epoch;
      } else if (epoch - bestEpoch >= PATIENCE && best < TARGET) {
        await run.note(`Stopped at epoch ${epoch}: validation accuracy stuck at ${best.toFixed(3)}. Try a larger learning rate.`);
        await run.end('abandoned', `plateau: val_accuracy below ${TARGET} and improved by less than 0.01 in ${PATIENCE} epochs (best ${best.toFixed(3)} at epoch ${bestEpoch})`);
        ended = true;
      }
    }
    if (!ended) await run.finish();
    const r = await store.getRun(run.id);
    const acc = r.metrics.val_accuracy?.last;
    console.log(`${r.name.padEnd(22)} lr=${String(config.lr).padEnd(7)} ${r.status.padEnd(10)} val_accuracy=${acc === undefined ? '-' : acc.toFixed(3)}`);
  }
} finally {
  await store.close();
}
