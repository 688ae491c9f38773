import { z } from 'zod';
import { StoreDamagedError, ValidationError } from '@cairn/schema';
import type { LocalBlobStore } from '@cairn/snapshot';

/** The files a trained run exports (libs/engine exportModel), under its artifacts' `model/`. */
export const MODEL_FILES = ['model.json', 'weights.bin', 'card.json'] as const;
export type ModelFile = (typeof MODEL_FILES)[number];

export const FILES_FORMAT = 'cairn-model-files/1';

const entry = z.object({ hash: z.string().regex(/^[0-9a-f]{64}$/), size: z.number().int().nonnegative() });
const filesSchema = z.object({
  format: z.literal(FILES_FORMAT),
  files: z.object({ 'model.json': entry, 'weights.bin': entry, 'card.json': entry }).strict(),
});

/**
 * What a model version's `artifactHash` names: a small JSON blob listing the version's
 * files by content id. The version is then one immutable id, however many files it has.
 */
export type ModelFiles = z.infer<typeof filesSchema>;

export async function putModelFiles(blobs: LocalBlobStore, files: ModelFiles['files']): Promise<string> {
  // Keys in a fixed order, so the same files always give the same id.
  const canonical = { format: FILES_FORMAT, files: Object.fromEntries(MODEL_FILES.map((f) => [f, { hash: files[f].hash, size: files[f].size }])) };
  return blobs.put(new TextEncoder().encode(JSON.stringify(canonical)));
}

export async function readModelFiles(blobs: LocalBlobStore, artifactHash: string): Promise<ModelFiles> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(new TextDecoder().decode(await blobs.get(artifactHash)));
  } catch (e) {
    if (e instanceof SyntaxError) throw new StoreDamagedError(`model files ${artifactHash.slice(0, 12)} are not JSON`);
    throw e;
  }
  const r = filesSchema.safeParse(parsed);
  if (!r.success) throw new ValidationError(`blob ${artifactHash.slice(0, 12)} is not a model version's file list (${r.error.issues[0]?.message ?? 'bad shape'})`);
  return r.data;
}

/** Each file's bytes, every one verified against its content id by the blob store. */
export async function readModelBytes(blobs: LocalBlobStore, files: ModelFiles): Promise<Record<ModelFile, Uint8Array>> {
  const out = {} as Record<ModelFile, Uint8Array>;
  for (const f of MODEL_FILES) out[f] = await blobs.get(files.files[f].hash);
  return out;
}
