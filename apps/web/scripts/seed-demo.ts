/**
 * Seeds a store with everything the portal shows, for trying it out and for browser
 * tests: runs of every status (with their reasons), params, tags, markdown notes, long
 * metric series (12,000 points) and system metrics, artifacts, a dataset with two
 * profiled snapshots that differ (files, class balance, missing values), lineage from
 * snapshot and code through a run to a registered model version, aliases that moved,
 * a deployment, and optionally many small runs for the runs table.
 *
 *   CAIRN_HOME=/tmp/webdemo node --import tsx apps/web/scripts/seed-demo.ts [--bulk 2000]
 *   DATABASE_URL=postgres://… node --import tsx apps/web/scripts/seed-demo.ts --bulk 100000
 *
 * --bulk N adds N runs to an experiment `bulk`: through the store API (about 80 runs/s
 * on PGlite), or, on PostgreSQL, set-based in SQL (100,000 runs in seconds), for
 * trying the runs table at scale.
 *
 * Prints the ids it created as JSON on stdout.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { blobRootFor, readConfig } from '@cairn/config';
import { cairnHome, openStore, type Store } from '@cairn/store';
import { LocalBlobStore, profileSnapshot, snapshotDir } from '@cairn/snapshot';

const here = path.dirname(fileURLToPath(import.meta.url));
const IRIS = path.resolve(here, '../../../examples/iris-mlp/data');

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : fallback;
}

/** A deterministic pseudo-random stream, so two seeds give the same data. */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

async function snapshot(store: Store, blobs: LocalBlobStore, dir: string, message: string) {
  const snap = await snapshotDir(dir, { store: blobs });
  const profile = await profileSnapshot(snap.id, { store: blobs, labelColumn: 'species' });
  return store.recordSnapshot({ dataset: 'iris', id: snap.id, message, fileCount: snap.files, bytes: snap.bytes, profile });
}

/** iris v2: a third of setosa dropped, every tenth sepal_width blanked, a README added. */
function irisV2(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cairn-iris-v2-'));
  const lines = fs.readFileSync(path.join(IRIS, 'iris.csv'), 'utf8').trim().split('\n');
  const out = [lines[0]!];
  lines.slice(1).forEach((line, i) => {
    const cells = line.split(',');
    if (cells[5] === 'setosa' && i % 3 === 0) return;
    if (i % 10 === 0) cells[2] = '';
    out.push(cells.join(','));
  });
  fs.writeFileSync(path.join(dir, 'iris.csv'), `${out.join('\n')}\n`);
  fs.writeFileSync(path.join(dir, 'README.txt'), 'v2: fewer setosa, some missing sepal_width\n');
  return dir;
}

function curve(n: number, r: () => number, opts: { start: number; end: number; noise: number }): number[] {
  return Array.from({ length: n }, (_, i) => {
    const t = i / Math.max(1, n - 1);
    return opts.end + (opts.start - opts.end) * Math.exp(-5 * t) + (r() - 0.5) * opts.noise;
  });
}

async function logCurves(store: Store, runId: string, steps: number, r: () => number, quality: number) {
  const loss = curve(steps, r, { start: 1.2, end: 0.15 / quality, noise: 0.05 });
  const valLoss = curve(steps, r, { start: 1.25, end: 0.2 / quality, noise: 0.08 });
  const acc = curve(steps, r, { start: 0.33, end: Math.min(0.99, 0.7 + 0.25 * quality), noise: 0.03 });
  const t0 = Date.now() - steps * 50;
  const points = [];
  for (let i = 0; i < steps; i++) {
    const wallMs = t0 + i * 50;
    points.push({ key: 'loss', step: i, value: loss[i]!, wallMs }, { key: 'val_loss', step: i, value: valLoss[i]!, wallMs }, { key: 'val_accuracy', step: i, value: acc[i]!, wallMs });
    if (i % 10 === 0) {
      points.push({ key: 'system/cpu_percent', step: i, value: 40 + 30 * r(), wallMs }, { key: 'system/memory_mb', step: i, value: 900 + i * 0.01 + 50 * r(), wallMs });
    }
  }
  for (let i = 0; i < points.length; i += 20_000) await store.logMetrics(runId, points.slice(i, i + 20_000));
}

/**
 * N runs in four statements (PostgreSQL): UUIDv7-shaped ids in creation order, a
 * status mix with reasons, 4 params, 3 metric summaries and a tag per run.
 */
async function bulkSql(url: string, experimentId: string, n: number): Promise<void> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await client.query('SELECT setseed(0.42)');
    await client.query(
      `INSERT INTO runs (id, experiment_id, name, status, status_reason, created_at, started_at, ended_at, heartbeat_at, attempts)
       SELECT (lpad(to_hex((extract(epoch FROM c) * 1000)::int8), 12, '0') || '7' || substr(h, 1, 3) || '8' || substr(h, 4, 15))::uuid,
         $1::uuid, 'bulk-' || lpad(i::text, 6, '0'), s,
         CASE s WHEN 'failed' THEN 'diverged: loss NaN at step ' || (i % 500) WHEN 'abandoned' THEN 'plateau: no gain in 10 epochs' WHEN 'cancelled' THEN 'cancelled by user' END,
         c, c + interval '10 seconds', c + interval '1 hour', c + interval '1 hour', 1
       FROM (SELECT i, md5('cairn-web-bulk-' || i) AS h, now() - ($2::int - i) * interval '1 minute' AS c,
               (ARRAY['finished','finished','finished','failed','abandoned','cancelled'])[1 + i % 6] AS s
             FROM generate_series(1, $2::int) AS i) x`,
      [experimentId, n],
    );
    await client.query(
      `INSERT INTO params (run_id, key, value, value_num)
       SELECT id, k, v, CASE WHEN v ~ '^[0-9.]+$' THEN v::float8 END FROM (
         SELECT r.id, p.k, p.v FROM (SELECT id, random() a, random() b, random() c FROM runs WHERE experiment_id = $1::uuid) r
         CROSS JOIN LATERAL (VALUES ('lr', round((10 ^ (-4 + r.a * 3))::numeric, 6)::text), ('layers', (1 + floor(r.b * 6))::int::text),
           ('optimizer', (ARRAY['adam','sgd','rmsprop'])[1 + floor(r.c * 3)::int]), ('batch_size', (ARRAY['32','64','128'])[1 + floor(r.a * 3)::int])) p(k, v)) q`,
      [experimentId],
    );
    await client.query(
      `INSERT INTO metric_summaries (run_id, key, last, last_step, last_wall_ms, min, max, count)
       SELECT r.id, m.k, m.v, 99, (extract(epoch FROM r.created_at) * 1000)::int8, m.v * 0.9, m.v * 1.1, 100
       FROM (SELECT id, created_at, random() q FROM runs WHERE experiment_id = $1::uuid) r
       CROSS JOIN LATERAL (VALUES ('val_accuracy', 0.5 + 0.49 * r.q), ('loss', 2.0 * (1 - r.q) + 0.05), ('val_loss', 2.2 * (1 - r.q) + 0.08)) m(k, v)`,
      [experimentId],
    );
    await client.query(
      `INSERT INTO run_tags (run_id, key, value) SELECT id, 'team', (ARRAY['vision','nlp','speech','rl'])[1 + floor(random() * 4)::int] FROM runs WHERE experiment_id = $1::uuid`,
      [experimentId],
    );
    await client.query('ANALYZE runs; ANALYZE params; ANALYZE metric_summaries; ANALYZE run_tags');
  } finally {
    await client.end();
  }
}

async function main() {
  const bulk = arg('bulk', 0);
  const config = readConfig(process.env);
  const store = await openStore({ url: config.databaseUrl, home: config.home });
  const blobs = new LocalBlobStore(blobRootFor(config, cairnHome(config.home)));
  const r = rng(42);
  try {
    const experiment = await store.ensureExperiment({ name: 'iris-demo', description: 'MLP on Iris: learning rates and widths' });
    await store.setExperimentTags(experiment.id, { objective: 'val_accuracy max' });

    const v1 = await snapshot(store, blobs, IRIS, 'original');
    const v2dir = irisV2();
    const v2 = await snapshot(store, blobs, v2dir, 'drop some setosa, blank sepal_width');
    fs.rmSync(v2dir, { recursive: true, force: true });

    const code = { gitSha: 'a1b2c3d4e5f60718293a4b5c6d7e8f9012345678', gitDirty: true, codeHash: 'c0de'.padEnd(64, '7') };
    const env = { node: process.version, platform: process.platform, cpu: 'demo cpu', backend: 'cpu' };
    const specs = [
      { name: 'wide-fast', status: 'finished', reason: null, lr: 0.05, hidden: 32, steps: 12_000, quality: 1.3, snapshot: v2.id },
      { name: 'narrow-steady', status: 'finished', reason: null, lr: 0.01, hidden: 8, steps: 400, quality: 1, snapshot: v1.id },
      { name: 'too-hot', status: 'failed', reason: 'diverged: training loss 1e+12 at step 37 (learning rate 5 on unscaled features)', lr: 5, hidden: 16, steps: 37, quality: 0.3, snapshot: v1.id },
      { name: 'plateau', status: 'abandoned', reason: 'plateau: val_accuracy improved by less than 0.01 in 15 epochs (best 0.821 at epoch 12)', lr: 0.0005, hidden: 16, steps: 120, quality: 0.6, snapshot: v1.id },
      { name: 'stopped-by-hand', status: 'cancelled', reason: 'cancelled by user', lr: 0.02, hidden: 64, steps: 60, quality: 0.9, snapshot: v2.id },
      { name: 'still-going', status: 'running', reason: null, lr: 0.03, hidden: 32, steps: 200, quality: 1.1, snapshot: v2.id },
      { name: 'waiting', status: 'queued', reason: null, lr: 0.04, hidden: 32, steps: 0, quality: 1, snapshot: v2.id },
    ] as const;
    const ids: Record<string, string> = {};
    for (const s of specs) {
      const run = await store.createRun({
        experimentId: experiment.id,
        name: s.name,
        status: s.status === 'queued' ? 'queued' : 'running',
        tier: s.status === 'queued' || s.status === 'running' ? 'ci' : 'extended',
        code,
        environment: env,
        snapshotIds: [s.snapshot],
        params: { learningRate: s.lr, hiddenUnits: s.hidden, optimizer: s.lr > 1 ? 'sgd' : 'adam', epochs: 50 },
        tags: { dataset: 'iris', team: s.hidden > 16 ? 'vision' : 'tabular' },
      });
      ids[s.name] = run.id;
      if (s.steps) await logCurves(store, run.id, s.steps, r, s.quality);
      if (s.status !== 'queued' && s.status !== 'running') await store.endRun(run.id, s.status, s.reason);
    }
    const best = ids['wide-fast']!;
    await store.addNote(
      { kind: 'run', id: best },
      '## Why wide\n\nA **wider** hidden layer with `lr=0.05` beat the *narrow* one.\n\n- 12,000 steps\n- see [the runs](/runs)\n\n<script>alert("not html")</script>',
    );
    await store.addNote({ kind: 'run', id: ids.plateau! }, 'Stopped: validation accuracy stuck at 0.821. Try a larger learning rate.');
    // Verdicts as the pipeline records them (a `gate` tag would be only a tag).
    await store.recordGateResult({ runId: best, tier: 'extended', passed: true, expression: "status = 'finished'", values: { status: 'finished' }, missing: [] });
    await store.recordGateResult({ runId: ids['too-hot']!, tier: 'extended', passed: false, expression: "status = 'finished'", values: { status: 'failed' }, missing: [] });
    await store.logArtifact(best, { path: 'model/model.json', hash: 'ab'.repeat(32), size: 2_345, mediaType: 'application/json' });
    await store.logArtifact(best, { path: 'model/weights.bin', hash: 'cd'.repeat(32), size: 48_128, mediaType: 'application/octet-stream' });

    const mv1 = await store.registerModelVersion({ name: 'iris-mlp', runId: ids['narrow-steady']!, artifactHash: 'ef'.repeat(32), description: 'first' });
    const mv2 = await store.registerModelVersion({ name: 'iris-mlp', runId: best, artifactHash: 'ab'.repeat(32), description: 'wide' });
    await store.setModelAlias('iris-mlp', 'production', mv1.version);
    await store.setModelAlias('iris-mlp', 'staging', mv2.version);
    await store.setModelAlias('iris-mlp', 'production', mv2.version);
    const deployment = await store.recordDeployment({ modelVersionId: mv2.id, environment: 'production', host: 'demo-host:8080' });

    if (bulk > 0 && store.driver === 'postgres' && config.databaseUrl) {
      const many = await store.ensureExperiment({ name: 'bulk', description: `${bulk} small runs for the runs table` });
      await bulkSql(config.databaseUrl, many.id, bulk);
    } else if (bulk > 0) {
      const many = await store.ensureExperiment({ name: 'bulk', description: `${bulk} small runs for the runs table` });
      const statuses = ['finished', 'finished', 'finished', 'failed', 'abandoned', 'cancelled'] as const;
      for (let i = 0; i < bulk; i++) {
        const status = statuses[i % statuses.length]!;
        const run = await store.createRun({
          experimentId: many.id,
          name: `bulk-${String(i).padStart(6, '0')}`,
          params: { lr: Number((0.001 + r() * 0.1).toFixed(4)), layers: 1 + (i % 4), optimizer: i % 3 ? 'adam' : 'sgd' },
          tags: { shard: String(i % 10) },
        });
        await store.logMetrics(run.id, [
          { key: 'val_accuracy', step: 0, value: 0.5 + r() * 0.5 },
          { key: 'loss', step: 0, value: r() },
        ]);
        await store.endRun(run.id, status, status === 'finished' ? null : `${status} in bulk seed #${i}`);
      }
    }
    console.log(JSON.stringify({ experiment: experiment.id, runs: ids, snapshots: [v1.id, v2.id], datasetId: v1.datasetId, modelVersions: [mv1.id, mv2.id], deployment: deployment.id, bulk }, null, 2));
  } finally {
    await store.close();
  }
}

await main();
