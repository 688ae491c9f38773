/**
 * Writes data/<digit>/<row>.png from the UCI "Optical Recognition of Handwritten Digits"
 * test set as scikit-learn ships it (sklearn/datasets/data/digits.csv.gz: 1797 rows of 64
 * pixel counts 0..16, then the digit). The PNGs are committed; run this only to recreate
 * them, from a copy of that file (for example from Debian's python3-sklearn package):
 *
 *   node --import tsx examples/digits-cnn/make-data.ts path/to/digits.csv.gz
 *
 * Each image is 8x8 grayscale; a count c becomes the gray level round(c * 255 / 16).
 */
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { gunzipSync } from 'node:zlib';
import { PNG } from 'pngjs';

const input = process.argv[2];
if (!input) throw new Error('usage: make-data.ts path/to/digits.csv[.gz]');
let bytes = readFileSync(input);
if (input.endsWith('.gz')) bytes = gunzipSync(bytes);
const rows = bytes
  .toString('utf8')
  .split('\n')
  .filter((l) => l.trim() !== '')
  .map((l) => l.split(',').map(Number));
const out = fileURLToPath(new URL('./data', import.meta.url));
for (let d = 0; d <= 9; d++) rmSync(path.join(out, String(d)), { recursive: true, force: true });
rows.forEach((r, i) => {
  if (r.length !== 65 || r.some((v) => !Number.isInteger(v))) throw new Error(`row ${i + 1}: expected 64 pixel counts and a digit`);
  const png = new PNG({ width: 8, height: 8 });
  for (let p = 0; p < 64; p++) {
    const g = Math.round((r[p]! * 255) / 16);
    png.data.set([g, g, g, 255], p * 4);
  }
  const dir = path.join(out, String(r[64]));
  mkdirSync(dir, { recursive: true });
  writeFileSync(path.join(dir, `${String(i).padStart(4, '0')}.png`), PNG.sync.write(png, { colorType: 0, inputColorType: 6, bitDepth: 8 }));
});
console.log(`wrote ${rows.length} images under ${out}`);
