import fs from 'node:fs/promises';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { NotFoundError, ValidationError } from '@cairn/schema';
import { PNG } from 'pngjs';
import type { DataInfo, TrainingData } from '../types.ts';
import { DataError, assignRecords, oneHot, sortClasses, type SelectOptions } from './records.ts';

export interface ImageFolderOptions extends SelectOptions {
  /**
   * 1 (grayscale; colour images are converted by luma 0.299 R + 0.587 G + 0.114 B) or 3
   * (RGB; grayscale images are repeated). Default: 1 when every loaded image is a
   * grayscale PNG, else 3. Alpha is dropped.
   */
  channels?: 1 | 3;
  /** Every image must be this [height, width]; default: the first image's size. */
  size?: [number, number];
  /** The class list, in order (default: the class folders, sorted; see sortClasses). */
  classes?: string[];
}

export interface ImageFolderInfo extends DataInfo {
  source: string;
  classes: string[];
  numClasses: number;
  /** Images found, before the subset. */
  totalRecords: number;
}

export interface ImageFolderData extends TrainingData {
  info: ImageFolderInfo;
}

const OTHER_IMAGES = new Set(['.jpg', '.jpeg', '.gif', '.bmp', '.webp', '.tif', '.tiff']);

interface ImageRecord {
  /** Path relative to the folder, with '/' (the record id). */
  id: string;
  classIndex: number;
}

/**
 * Loads `dir/<class>/<file>.png` (any depth below the class folder) into train /
 * validation (/ test) tensors: xs float32 [n, height, width, channels] scaled to [0, 1],
 * ys one-hot [n, classes]. The record id is the path relative to `dir` ('cat/001.png'), so
 * subsets and splits follow the usual rules. Hidden files and folders are skipped, and so
 * are files that are not images; JPEG and other formats are an error (PNG only). Every
 * image must have the same size: a DataError names the file that differs.
 */
export async function loadImageFolder(dir: string, options: ImageFolderOptions): Promise<ImageFolderData> {
  const source = path.basename(path.resolve(dir));
  let top: import('node:fs').Dirent[];
  try {
    top = await fs.readdir(dir, { withFileTypes: true });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') throw new NotFoundError('image folder', dir);
    throw e;
  }
  const folders = top.filter((d) => d.isDirectory() && !d.name.startsWith('.')).map((d) => d.name);
  if (folders.length === 0 && !options.classes) throw new DataError(`${dir}: no class folders (expected ${source}/<class>/<image>.png)`, { file: dir });
  const classes = options.classes ? [...options.classes] : sortClasses(folders);
  if (classes.length < 2) throw new ValidationError(`${dir}: a classifier needs at least 2 classes, found ${classes.length} (${classes.join(', ')})`);
  for (const f of folders) {
    if (!classes.includes(f)) throw new DataError(`${dir}: folder "${f}" is not one of the classes given (${classes.join(', ')})`, { file: f });
  }

  const records: ImageRecord[] = [];
  for (const [classIndex, name] of classes.entries()) {
    const files = folders.includes(name) ? await listFiles(path.join(dir, name)) : [];
    for (const rel of files) {
      const ext = path.extname(rel).toLowerCase();
      const id = `${name}/${rel}`;
      if (ext === '.png') records.push({ id, classIndex });
      else if (OTHER_IMAGES.has(ext)) throw new DataError(`${id}: only PNG images are supported, found ${ext}`, { file: id });
    }
  }
  records.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  if (records.length === 0) throw new DataError(`${dir}: no PNG images in the class folders`, { file: dir });

  const parts = assignRecords(records, (r) => r.id, options, source);
  const chosen = [...parts.train, ...parts.validation, ...parts.test];
  const decoded = new Map<string, Decoded>();
  await forEachLimit(chosen, 32, async (r) => {
    decoded.set(r.id, decode(await fs.readFile(path.join(dir, r.id)), r.id));
  });

  let [height, width] = options.size ?? [0, 0];
  let sizeFrom = 'the size option';
  if (!options.size) {
    const first = decoded.get(chosen[0]!.id)!;
    [height, width, sizeFrom] = [first.height, first.width, chosen[0]!.id];
  }
  for (const r of chosen) {
    const d = decoded.get(r.id)!;
    if (d.height !== height || d.width !== width) {
      throw new DataError(`${r.id}: the image is ${d.width}x${d.height} but ${sizeFrom === 'the size option' ? 'the size option asks for' : `${sizeFrom} is`} ${width}x${height} (width x height); every image must have the same size`, {
        file: r.id,
      });
    }
  }
  const channels = options.channels ?? ([...decoded.values()].some((d) => d.color) ? 3 : 1);
  if (channels !== 1 && channels !== 3) throw new ValidationError(`channels must be 1 or 3, got ${String(channels)}`);

  const toSplit = (list: ImageRecord[]) => {
    const n = list.length;
    const per = height * width * channels;
    const xs = new Float32Array(n * per);
    list.forEach((r, i) => writePixels(decoded.get(r.id)!.rgba, channels, xs, i * per));
    return {
      xs: tf.tensor4d(xs, [n, height, width, channels]),
      ys: tf.tensor2d(
        oneHot(
          list.map((r) => r.classIndex),
          classes.length,
        ),
        [n, classes.length],
      ),
    };
  };
  const counts: DataInfo['counts'] = { train: parts.train.length };
  const info: ImageFolderInfo = { inputShape: [height, width, channels], classes, numClasses: classes.length, counts, source, totalRecords: records.length };
  const data: ImageFolderData = { train: toSplit(parts.train), info };
  if (options.split.validation > 0) {
    data.validation = toSplit(parts.validation);
    counts.validation = parts.validation.length;
  }
  if ((options.split.test ?? 0) > 0) {
    data.test = toSplit(parts.test);
    counts.test = parts.test.length;
  }
  return data;
}

interface Decoded {
  width: number;
  height: number;
  color: boolean;
  rgba: Uint8Array;
}

function decode(bytes: Buffer, id: string): Decoded {
  try {
    const png = PNG.sync.read(bytes);
    return { width: png.width, height: png.height, color: png.color, rgba: png.data };
  } catch (e) {
    throw new DataError(`${id}: not a readable PNG (${(e as Error).message})`, { file: id, cause: e });
  }
}

function writePixels(rgba: Uint8Array, channels: 1 | 3, out: Float32Array, at: number): void {
  const pixels = rgba.length / 4;
  for (let p = 0; p < pixels; p++) {
    const r = rgba[p * 4]!;
    const g = rgba[p * 4 + 1]!;
    const b = rgba[p * 4 + 2]!;
    if (channels === 1) out[at + p] = (r === g && g === b ? r : 0.299 * r + 0.587 * g + 0.114 * b) / 255;
    else {
      out[at + p * 3] = r / 255;
      out[at + p * 3 + 1] = g / 255;
      out[at + p * 3 + 2] = b / 255;
    }
  }
}

/** Files below `root` (not hidden), relative with '/'. */
async function listFiles(root: string, rel = ''): Promise<string[]> {
  const out: string[] = [];
  for (const d of await fs.readdir(path.join(root, rel), { withFileTypes: true })) {
    if (d.name.startsWith('.')) continue;
    const child = rel ? `${rel}/${d.name}` : d.name;
    if (d.isDirectory()) out.push(...(await listFiles(root, child)));
    else if (d.isFile()) out.push(child);
  }
  return out;
}

async function forEachLimit<T>(items: readonly T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) await fn(items[next++]!);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}
