import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { afterAll, describe, expect, it } from 'vitest';
import { exportModel, loadPackagedModel, type ModelCard } from '@cairn/engine';
import { CairnError } from '@cairn/schema';
import { LocalBlobStore } from '@cairn/snapshot';
import { testDrivers } from '@cairn/store/testing';
import { loadModelVersion, packageModel, parseModelRef, readModelFiles, registerRunModel, resolveRef } from './index.ts';

const FEATURES = ['a', 'b', 'c'];
const CLASSES = ['x', 'y'];

function card(): ModelCard {
  return {
    name: 'tiny',
    params: {},
    metrics: { val_acc: 0.5 },
    objective: { metric: 'val_acc', direction: 'maximize' },
    backend: 'cpu',
    seed: 1,
    createdAt: new Date().toISOString(),
    data: { inputShape: [3], counts: { train: 10 }, task: 'classification', features: FEATURES, label: 'k', classes: CLASSES, numClasses: 2, normalization: { method: 'standard', offset: [1, 2, 3], scale: [2, 2, 2] }, source: 't.csv', totalRecords: 10 },
  };
}

async function failure(p: Promise<unknown>): Promise<CairnError> {
  const e = await p.then(
    () => null,
    (err: unknown) => err,
  );
  expect(e).toBeInstanceOf(CairnError);
  return e as CairnError;
}

describe.each(testDrivers())('registry, packaging and loading on $name', (engine) => {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'cairn-models-'));
  afterAll(async () => {
    await engine.cleanup();
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  it('registers what a run exported, resolves name@alias, packages it and predicts like the model', async () => {
    const store = await engine.open();
    const blobs = new LocalBlobStore(path.join(tmp, engine.name, 'blobs'));
    const exp = await store.ensureExperiment({ name: 'tiny' });
    const run = await store.createRun({ experimentId: exp.id });
    const model = tfl.sequential({ layers: [tfl.layers.dense({ inputShape: [3], units: 2, activation: 'softmax' })] });
    for (const f of await exportModel(model, blobs, card())) await store.logArtifact(run.id, f);
    await store.endRun(run.id, 'finished');

    const v1 = await registerRunModel({ store, blobs, runId: run.id, name: 'tiny', description: 'first' });
    const v2 = await registerRunModel({ store, blobs, runId: run.id, name: 'tiny' });
    expect([v1.version, v2.version]).toEqual([1, 2]);
    // The same files, the same content id: a version is its files.
    expect(v2.artifactHash).toBe(v1.artifactHash);
    expect(Object.keys((await readModelFiles(blobs, v1.artifactHash)).files)).toEqual(['model.json', 'weights.bin', 'card.json']);
    await store.setModelAlias('tiny', 'production', 1);
    expect((await resolveRef(store, 'tiny@production')).id).toBe(v1.id);
    expect((await resolveRef(store, 'tiny')).id).toBe(v2.id);

    const out = path.join(tmp, engine.name, 'pkg');
    const { manifest, version } = await packageModel({ store, blobs, ref: 'tiny@production', outDir: out });
    expect(version.version).toBe(1);
    expect(manifest).toMatchObject({ name: 'tiny', version: 1, artifactHash: v1.artifactHash });
    expect(fs.readdirSync(out).sort()).toEqual(['cairn-model.json', 'card.json', 'input-schema.json', 'model.json', 'weights.bin']);

    const loaded = await loadPackagedModel(out);
    try {
      const rows = [{ a: 1, b: 2, c: 3 }, { a: 5, b: -1, c: 0.5 }];
      const got = await loaded.predict({ rows });
      const want = tf.tidy(() => (model.predict(tf.tensor2d(rows.map((r) => [(r.a - 1) / 2, (r.b - 2) / 2, (r.c - 3) / 2]))) as tf.Tensor).arraySync() as number[][]);
      got.forEach((p, i) => {
        const probs = (p as { probabilities: Record<string, number> }).probabilities;
        expect(probs.x).toBeCloseTo(want[i]![0]!, 5);
        expect(probs.y).toBeCloseTo(want[i]![1]!, 5);
      });
    } finally {
      loaded.dispose();
    }

    // The serving cache: packaged once per version, then reused.
    const cacheDir = path.join(tmp, engine.name, 'cache');
    const served = await loadModelVersion({ blobs, version: v1, cacheDir });
    served.dispose();
    const stamp = fs.statSync(path.join(cacheDir, v1.artifactHash, 'cairn-model.json')).mtimeMs;
    (await loadModelVersion({ blobs, version: v1, cacheDir })).dispose();
    expect(fs.statSync(path.join(cacheDir, v1.artifactHash, 'cairn-model.json')).mtimeMs).toBe(stamp);

    // A non-empty folder is not overwritten without force.
    expect((await failure(packageModel({ store, blobs, ref: 'tiny@1', outDir: out }))).code).toBe('INVALID_INPUT');
    await packageModel({ store, blobs, ref: 'tiny@2', outDir: out, force: true });
    expect(JSON.parse(fs.readFileSync(path.join(out, 'cairn-model.json'), 'utf8')).version).toBe(2);
  });

  it('refuses a run without an exported model, unknown refs and bad references, creating nothing', async () => {
    const store = await engine.open();
    const blobs = new LocalBlobStore(path.join(tmp, engine.name, 'blobs2'));
    const exp = await store.ensureExperiment({ name: 'none' });
    const run = await store.createRun({ experimentId: exp.id });
    await store.endRun(run.id, 'failed', 'diverged');
    const e = await failure(registerRunModel({ store, blobs, runId: run.id, name: 'nothing' }));
    expect(e.message).toMatch(/has no exported model: model\/model\.json, model\/weights\.bin, model\/card\.json missing/);
    expect(await store.listModels()).toEqual([]);
    expect((await failure(resolveRef(store, 'nothing@production'))).code).toBe('NOT_FOUND');
    for (const bad of ['', 'a@b@c', '../x', 'x@', 'x@has space']) expect(() => parseModelRef(bad)).toThrow(/invalid model reference/);
    expect(parseModelRef('iris-mlp@production')).toEqual({ name: 'iris-mlp', ref: 'production' });
    expect(parseModelRef('iris-mlp')).toEqual({ name: 'iris-mlp', ref: 'latest' });
  });

  it('a damaged weights blob stops packaging with the blob store’s error, writing no package', async () => {
    const store = await engine.open();
    const blobs = new LocalBlobStore(path.join(tmp, engine.name, 'blobs3'));
    const exp = await store.ensureExperiment({ name: 'tiny' });
    const run = await store.createRun({ experimentId: exp.id });
    const model = tfl.sequential({ layers: [tfl.layers.dense({ inputShape: [3], units: 2, activation: 'softmax' })] });
    const files = await exportModel(model, blobs, card());
    for (const f of files) await store.logArtifact(run.id, f);
    await store.endRun(run.id, 'finished');
    await registerRunModel({ store, blobs, runId: run.id, name: 'tiny' });
    // Flip a byte of the weights blob on disk, as a bad disk would.
    const weights = files.find((f) => f.path === 'model/weights.bin')!;
    const file = path.join(blobs.root, weights.hash.slice(0, 2), weights.hash.slice(2));
    fs.chmodSync(file, 0o644);
    const bytes = fs.readFileSync(file);
    bytes[0] = bytes[0]! ^ 0xff;
    fs.writeFileSync(file, bytes);
    const out = path.join(tmp, engine.name, 'damaged');
    const e = await failure(packageModel({ store, blobs, ref: 'tiny', outDir: out }));
    expect(e.message).toContain(weights.hash.slice(0, 12));
    expect(fs.existsSync(path.join(out, 'cairn-model.json'))).toBe(false);
  });
});
