import fs from 'node:fs';
import path from 'node:path';
import { loadPackagedModel, writePackage, type ModelCard, type PackageManifest, type PackagedModel } from '@cairn/engine';
import { StoreDamagedError } from '@cairn/schema';
import type { LocalBlobStore } from '@cairn/snapshot';
import type { ModelVersion, Store } from '@cairn/store';
import { readModelBytes, readModelFiles } from './files.ts';
import { parseModelRef } from './ref.ts';

export interface PackageOptions {
  store: Store;
  blobs: LocalBlobStore;
  /** `name`, `name@3`, `name@production`. */
  ref: string;
  outDir: string;
  force?: boolean;
  project?: string;
}

/** Resolves `name@ref` to its version (number, alias or latest). */
export function resolveRef(store: Store, ref: string, project?: string): Promise<ModelVersion> {
  const r = parseModelRef(ref);
  return store.resolveModelVersion(r.name, r.ref, project);
}

/**
 * Writes a model version as a self-contained folder (model.json, weights.bin, card.json,
 * input-schema.json, cairn-model.json) that `loadPackagedModel` from @cairn/engine loads.
 */
export async function packageModel(o: PackageOptions): Promise<{ version: ModelVersion; manifest: PackageManifest; dir: string }> {
  const version = await resolveRef(o.store, o.ref, o.project);
  const dir = path.resolve(o.outDir);
  const manifest = await writeVersion(o.blobs, version, dir, o.force ?? false);
  return { version, manifest, dir };
}

async function writeVersion(blobs: LocalBlobStore, version: ModelVersion, dir: string, force: boolean): Promise<PackageManifest> {
  const bytes = await readModelBytes(blobs, await readModelFiles(blobs, version.artifactHash));
  let card: ModelCard;
  try {
    card = JSON.parse(new TextDecoder().decode(bytes['card.json'])) as ModelCard;
  } catch {
    throw new StoreDamagedError(`${version.modelName}@${version.version}'s card.json is not JSON`);
  }
  return writePackage(dir, { modelJson: bytes['model.json'], weights: bytes['weights.bin'], card, name: version.modelName, version: version.version, artifactHash: version.artifactHash }, { force });
}

/**
 * Loads a version for serving: packaged once into `cacheDir/<artifactHash>` (versions are
 * immutable, so a complete package is reused), then loaded and verified.
 */
export async function loadModelVersion(o: { blobs: LocalBlobStore; version: ModelVersion; cacheDir: string; maxBatch?: number }): Promise<PackagedModel> {
  const dir = path.join(o.cacheDir, o.version.artifactHash);
  if (!fs.existsSync(path.join(dir, 'cairn-model.json'))) await writeVersion(o.blobs, o.version, dir, true);
  return loadPackagedModel(dir, o.maxBatch ? { maxBatch: o.maxBatch } : {});
}
