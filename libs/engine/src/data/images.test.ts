import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { PNG } from 'pngjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DataError, loadImageFolder, splitOf } from '../index.ts';

let root: string;
beforeAll(async () => {
  await tf.setBackend('cpu');
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'cairn-images-'));
});
afterAll(() => fs.rmSync(root, { recursive: true, force: true }));

/** Writes a PNG whose pixel p has gray value pixel(p), or an RGB one with (r, g, b) per pixel. */
function writePng(file: string, width: number, height: number, pixel: (p: number) => number | [number, number, number], colorType: 0 | 2 = 0): void {
  const png = new PNG({ width, height, colorType, inputColorType: 6, bitDepth: 8 });
  for (let p = 0; p < width * height; p++) {
    const v = pixel(p);
    const [r, g, b] = typeof v === 'number' ? [v, v, v] : v;
    png.data[p * 4] = r;
    png.data[p * 4 + 1] = g;
    png.data[p * 4 + 2] = b;
    png.data[p * 4 + 3] = 255;
  }
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, PNG.sync.write(png, { colorType, inputColorType: 6, bitDepth: 8 }));
}

/** Gray 4x3 images; pixel 0 holds the image's number, the rest 10 * class + p. */
function makeFolder(dir: string, perClass: number, classes = ['a', 'b', 'c']): void {
  let n = 0;
  for (const [c, name] of classes.entries()) {
    for (let i = 0; i < perClass; i++, n++) {
      const num = n;
      writePng(path.join(dir, name, `img-${String(i).padStart(3, '0')}.png`), 4, 3, (p) => (p === 0 ? num : 10 * c + p));
    }
  }
}

function tensors(split: unknown): { xs: tf.Tensor; ys: tf.Tensor } {
  return split as { xs: tf.Tensor; ys: tf.Tensor };
}

describe('loadImageFolder', () => {
  it('round-trips grayscale PNGs into [n, h, w, 1] scaled to [0, 1] with one-hot labels', async () => {
    const dir = path.join(root, 'gray');
    makeFolder(dir, 20);
    fs.writeFileSync(path.join(dir, 'README.txt'), 'not a class');
    fs.writeFileSync(path.join(dir, 'a', 'notes.txt'), 'ignored');
    fs.mkdirSync(path.join(dir, '.cache'));
    const data = await loadImageFolder(dir, { seed: 4, split: { validation: 0.25 } });
    expect(data.info.classes).toEqual(['a', 'b', 'c']);
    expect(data.info.numClasses).toBe(3);
    expect(data.info.inputShape).toEqual([3, 4, 1]);
    expect(data.info.totalRecords).toBe(60);
    expect(data.info.counts.train + data.info.counts.validation!).toBe(60);
    const { xs, ys } = tensors(data.train);
    expect(xs.shape).toEqual([data.info.counts.train, 3, 4, 1]);
    expect(ys.shape).toEqual([data.info.counts.train, 3]);
    const x = xs.arraySync() as number[][][][];
    const y = ys.arraySync() as number[][];
    x.forEach((img, i) => {
      const c = y[i]!.indexOf(1);
      expect(y[i]!.reduce((s, v) => s + v, 0)).toBe(1);
      // pixel p = 1 is at row 0, column 1
      expect(img[0]![1]![0]).toBeCloseTo((10 * c + 1) / 255, 6);
      expect(img[2]![3]![0]).toBeCloseTo((10 * c + 11) / 255, 6);
      const num = Math.round(img[0]![0]![0]! * 255);
      expect(Math.floor(num / 20)).toBe(c);
      const id = `${'abc'[c]}/img-${String(num % 20).padStart(3, '0')}.png`;
      expect(splitOf(id, 4, { validation: 0.25 })).toBe('train');
    });
  });

  it('keeps the same subset and splits when images are added', async () => {
    const dir = path.join(root, 'grow');
    makeFolder(dir, 30);
    const opts = { seed: 1, subset: 0.5, split: { validation: 0.3 } };
    const numbers = (d: Awaited<ReturnType<typeof loadImageFolder>>, split: 'train' | 'validation') =>
      (tensors(d[split]).xs.arraySync() as number[][][][]).map((img) => Math.round(img[0]![0]![0]! * 255));
    const before = await loadImageFolder(dir, opts);
    const again = await loadImageFolder(dir, opts);
    expect(numbers(again, 'train')).toEqual(numbers(before, 'train'));
    for (const name of ['a', 'b', 'c']) writePng(path.join(dir, name, 'zz-new.png'), 4, 3, () => 250);
    const after = await loadImageFolder(dir, opts);
    expect(after.info.totalRecords).toBe(93);
    for (const s of ['train', 'validation'] as const) expect(numbers(after, s).filter((v) => v !== 250)).toEqual(numbers(before, s));
  });

  it('reads RGB images as three channels', async () => {
    const dir = path.join(root, 'rgb');
    for (const [c, name] of ['red', 'blue'].entries()) {
      for (let i = 0; i < 6; i++) writePng(path.join(dir, name, `${i}.png`), 2, 2, () => (c === 0 ? [200, 10, 0] : [0, 20, 100]), 2);
    }
    const data = await loadImageFolder(dir, { seed: 0, split: { validation: 0 } });
    expect(data.info.inputShape).toEqual([2, 2, 3]);
    expect(data.info.classes).toEqual(['blue', 'red']);
    const first = (tensors(data.train).xs.arraySync() as number[][][][])[0]!;
    expect(first[1]![1]).toEqual([0, 20 / 255, 100 / 255].map((v) => Math.fround(v)));
    const gray = await loadImageFolder(dir, { seed: 0, split: { validation: 0 }, channels: 1 });
    expect(gray.info.inputShape).toEqual([2, 2, 1]);
    expect((tensors(gray.train).xs.arraySync() as number[][][][])[0]![0]![0]![0]).toBeCloseTo((0.587 * 20 + 0.114 * 100) / 255, 6);
  });

  it('names the file whose size differs', async () => {
    const dir = path.join(root, 'sizes');
    makeFolder(dir, 3, ['x', 'y']);
    writePng(path.join(dir, 'y', 'big.png'), 5, 3, () => 0);
    const err = (await loadImageFolder(dir, { seed: 0, split: { validation: 0 } }).catch((e: unknown) => e)) as DataError;
    expect(err).toBeInstanceOf(DataError);
    expect(err.file).toBe('y/big.png');
    expect(err.message).toBe('y/big.png: the image is 5x3 but x/img-000.png is 4x3 (width x height); every image must have the same size');
    await expect(loadImageFolder(dir, { seed: 0, split: { validation: 0 }, size: [3, 5] })).rejects.toThrow('x/img-000.png: the image is 4x3 but the size option asks for 5x3');
  });

  it('refuses JPEGs, unreadable PNGs and a missing folder', async () => {
    const dir = path.join(root, 'jpeg');
    makeFolder(dir, 2, ['x', 'y']);
    fs.writeFileSync(path.join(dir, 'x', 'photo.JPG'), 'jpeg');
    await expect(loadImageFolder(dir, { seed: 0, split: { validation: 0 } })).rejects.toThrow('x/photo.JPG: only PNG images are supported, found .jpg');
    fs.rmSync(path.join(dir, 'x', 'photo.JPG'));
    fs.writeFileSync(path.join(dir, 'y', 'broken.png'), 'not a png');
    await expect(loadImageFolder(dir, { seed: 0, split: { validation: 0 } })).rejects.toThrow(/y\/broken.png: not a readable PNG/);
    await expect(loadImageFolder(path.join(root, 'nope'), { seed: 0, split: { validation: 0 } })).rejects.toMatchObject({ code: 'NOT_FOUND' });
  });
});
