import { ValidationError } from '@cairn/schema';
import type { LocalBlobStore } from '@cairn/snapshot';
import type { ModelVersion, Store } from '@cairn/store';
import { MODEL_FILES, putModelFiles, type ModelFiles } from './files.ts';

export interface RegisterOptions {
  store: Store;
  blobs: LocalBlobStore;
  runId: string;
  /** The model's name (created on first use). */
  name: string;
  description?: string;
  tags?: Record<string, string>;
  project?: string;
}

/**
 * Registers the model a run exported (its `model/` artifacts) as the next version of a
 * named model. The version points at the run, so lineage reaches its code and data.
 */
export async function registerRunModel(o: RegisterOptions): Promise<ModelVersion> {
  const run = await o.store.getRun(o.runId);
  const artifacts = await o.store.listArtifacts(run.id);
  const files = {} as Partial<ModelFiles['files']>;
  for (const f of MODEL_FILES) {
    const a = artifacts.find((x) => x.path === `model/${f}`);
    if (a) files[f] = { hash: a.hash, size: a.size };
  }
  const missing = MODEL_FILES.filter((f) => !files[f]);
  if (missing.length) {
    throw new ValidationError(`run ${run.id} (${run.status}) has no exported model: ${missing.map((f) => `model/${f}`).join(', ')} missing (a run exports its model when it finishes)`);
  }
  // Every file must still be in the blob store: a version that cannot be loaded is no version.
  for (const f of MODEL_FILES) if (!(await o.blobs.has(files[f]!.hash))) throw new ValidationError(`run ${run.id}'s model/${f} (${files[f]!.hash.slice(0, 12)}) is not in the blob store at ${o.blobs.root}`);
  const artifactHash = await putModelFiles(o.blobs, files as ModelFiles['files']);
  return o.store.registerModelVersion({
    name: o.name,
    runId: run.id,
    artifactHash,
    ...(o.description !== undefined ? { description: o.description } : {}),
    ...(o.tags ? { tags: o.tags } : {}),
    ...(o.project ? { project: o.project } : {}),
  });
}
