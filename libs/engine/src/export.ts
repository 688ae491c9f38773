import * as tf from '@tensorflow/tfjs-core';
import type { LayersModel } from '@tensorflow/tfjs-layers';
import type { ArtifactStore } from './types.ts';

export interface ExportedFile {
  /** Path inside the run's artifacts (model/model.json, model/weights.bin, model/card.json). */
  path: string;
  hash: string;
  size: number;
  mediaType: string;
}

/** What a model card says: enough to know what made the model and how well it did. */
export interface ModelCard {
  name: string;
  params: Record<string, unknown>;
  snapshotId?: string;
  dataDir?: string;
  metrics: Record<string, number>;
  objective: { metric: string; direction: string; best?: number };
  backend: string;
  code?: { path: string; hash?: string };
  seed: number;
  tier?: string;
  data: Record<string, unknown>;
  createdAt: string;
}

/**
 * Saves the model in tfjs's own format (model.json with a weights manifest pointing at
 * weights.bin beside it, loadable with tf.loadLayersModel) plus a model card, each as a
 * content-addressed blob. Returns the files, for the caller to record as artifacts.
 */
export async function exportModel(model: LayersModel, store: ArtifactStore, card: ModelCard): Promise<ExportedFile[]> {
  let artifacts: tf.io.ModelArtifacts | null = null;
  await model.save(
    tf.io.withSaveHandler(async (a) => {
      artifacts = a;
      return { modelArtifactsInfo: tf.io.getModelArtifactsInfoForJSON(a) };
    }),
  );
  const a = artifacts as tf.io.ModelArtifacts | null;
  if (!a || !a.weightData || !a.weightSpecs) throw new Error('tfjs returned no weights when saving the model');
  const weights = new Uint8Array(tf.io.CompositeArrayBuffer.join(a.weightData));
  const modelJson = {
    modelTopology: a.modelTopology,
    format: a.format ?? 'layers-model',
    generatedBy: a.generatedBy,
    convertedBy: a.convertedBy ?? null,
    ...(a.trainingConfig ? { trainingConfig: a.trainingConfig } : {}),
    weightsManifest: [{ paths: ['weights.bin'], weights: a.weightSpecs }],
  };
  const enc = new TextEncoder();
  const put = async (path: string, bytes: Uint8Array, mediaType: string): Promise<ExportedFile> => ({ path, hash: await store.put(bytes), size: bytes.length, mediaType });
  return [
    await put('model/model.json', enc.encode(JSON.stringify(modelJson)), 'application/json'),
    await put('model/weights.bin', weights, 'application/octet-stream'),
    await put('model/card.json', enc.encode(JSON.stringify(card, null, 2)), 'application/json'),
  ];
}
