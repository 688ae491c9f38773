import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { ValidationError, formatZodError } from '@cairn/schema';
import type { ModelCard } from '../export.ts';
import { inputSchemaFromCard } from './input-schema.ts';
import { MANIFEST_FILE, PACKAGE_FORMAT, expectedWeightBytes, manifestSchema, modelJsonSchema, sha256, type FileEntry, type PackageFile, type PackageManifest } from './manifest.ts';

export interface PackageInput {
  /** model.json bytes as exportModel stored them (weightsManifest paths: ['weights.bin']). */
  modelJson: Uint8Array;
  weights: Uint8Array;
  card: ModelCard;
  name: string;
  version: number;
  artifactHash?: string;
}

export interface WritePackageOptions {
  /** Replace an existing non-empty folder (swapped out whole, never merged into). */
  force?: boolean;
}

/** Checks model.json and weights.bin fit together, so a package that cannot load is never written. */
function checkModelFiles(modelJson: Uint8Array, weights: Uint8Array): void {
  let json: unknown;
  try {
    json = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(modelJson));
  } catch (e) {
    throw new ValidationError(`model.json is not valid JSON: ${(e as Error).message}`);
  }
  const r = modelJsonSchema.safeParse(json);
  if (!r.success) throw new ValidationError(`model.json: ${formatZodError(r.error)}`);
  const expected = expectedWeightBytes(r.data);
  if (expected !== undefined && expected !== weights.length) throw new ValidationError(`weights.bin has ${weights.length} bytes but model.json's weights need ${expected}`);
}

async function syncPath(p: string): Promise<void> {
  let fh: fs.FileHandle | undefined;
  try {
    fh = await fs.open(p, 'r');
    await fh.sync();
  } catch (e) {
    // Directories cannot be opened for fsync on Windows; a rename there is as durable as it gets.
    if (process.platform !== 'win32') throw e;
  } finally {
    await fh?.close();
  }
}

async function writeSynced(file: string, bytes: Uint8Array): Promise<void> {
  const fh = await fs.open(file, 'wx');
  try {
    await fh.writeFile(bytes);
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/** 'absent', 'empty' or 'full'; a non-folder at outDir is refused outright. */
async function targetState(outDir: string): Promise<'absent' | 'empty' | 'full'> {
  try {
    const st = await fs.stat(outDir);
    if (!st.isDirectory()) throw new ValidationError(`${outDir} exists and is not a folder`);
    return (await fs.readdir(outDir)).length === 0 ? 'empty' : 'full';
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return 'absent';
    throw e;
  }
}

/**
 * Writes a self-contained model package to outDir: model.json, weights.bin, card.json,
 * input-schema.json and cairn-model.json (the manifest, with each file's sha256 and size).
 * Everything is written and fsynced in a temporary sibling folder that is then renamed into
 * place, so outDir holds either no package or a whole one, never part of one.
 */
export async function writePackage(outDir: string, input: PackageInput, options: WritePackageOptions = {}): Promise<PackageManifest> {
  checkModelFiles(input.modelJson, input.weights);
  const schema = inputSchemaFromCard(input.card);
  const enc = new TextEncoder();
  const files: Record<PackageFile, Uint8Array> = {
    'model.json': input.modelJson,
    'weights.bin': input.weights,
    'card.json': enc.encode(JSON.stringify(input.card, null, 2)),
    'input-schema.json': enc.encode(JSON.stringify(schema, null, 2)),
  };
  const entries = Object.fromEntries(Object.entries(files).map(([f, b]) => [f, { sha256: sha256(b), size: b.length }])) as Record<PackageFile, FileEntry>;
  const manifest: PackageManifest = {
    format: PACKAGE_FORMAT,
    name: input.name,
    version: input.version,
    ...(input.artifactHash !== undefined ? { artifactHash: input.artifactHash } : {}),
    createdAt: new Date().toISOString(),
    files: entries,
  };
  const checked = manifestSchema.safeParse(manifest);
  if (!checked.success) throw new ValidationError(`package manifest: ${formatZodError(checked.error)}`);

  const target = path.resolve(outDir);
  const parent = path.dirname(target);
  const state = await targetState(target);
  if (state === 'full' && !options.force) throw new ValidationError(`${outDir} is not empty; choose an empty or new folder, or pass force to replace it`);
  await fs.mkdir(parent, { recursive: true });
  // A sibling, so the final rename stays on one file system (and so is atomic).
  const tmp = await fs.mkdtemp(path.join(parent, `.${path.basename(target)}.tmp-`));
  try {
    for (const [f, bytes] of Object.entries(files)) await writeSynced(path.join(tmp, f), bytes);
    // The manifest goes last: a folder with one is complete.
    await writeSynced(path.join(tmp, MANIFEST_FILE), enc.encode(JSON.stringify(manifest, null, 2)));
    await syncPath(tmp);
    await moveIntoPlace(tmp, target, state);
    await syncPath(parent);
  } catch (e) {
    await fs.rm(tmp, { recursive: true, force: true });
    throw e;
  }
  return manifest;
}

async function moveIntoPlace(tmp: string, target: string, state: 'absent' | 'empty' | 'full'): Promise<void> {
  const renameIn = async () => {
    try {
      await fs.rename(tmp, target);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      // Someone filled the folder after it was checked.
      if (code === 'ENOTEMPTY' || code === 'EEXIST') throw new ValidationError(`${target} is not empty; it was written to while the package was being built`);
      throw e;
    }
  };
  if (state === 'absent') return renameIn();
  if (state === 'empty') {
    await fs.rmdir(target);
    return renameIn();
  }
  // force over a full folder: move the old one aside, swap the new one in, then delete the
  // old; if the swap fails the old package is put back.
  const old = `${path.join(path.dirname(target), `.${path.basename(target)}.old-`)}${randomBytes(4).toString('hex')}`;
  await fs.rename(target, old);
  try {
    await renameIn();
  } catch (e) {
    await fs.rename(old, target).catch(() => undefined);
    throw e;
  }
  await fs.rm(old, { recursive: true, force: true });
}
