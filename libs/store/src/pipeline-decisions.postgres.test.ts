import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import { PGlite } from '@electric-sql/pglite';
import { drizzle as drizzlePglite } from 'drizzle-orm/pglite';
import { migrate as migratePglite } from 'drizzle-orm/pglite/migrator';
import { drizzle as drizzlePg } from 'drizzle-orm/node-postgres';
import { migrate as migratePg } from 'drizzle-orm/node-postgres/migrator';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MIGRATIONS_DIR } from '@cairn/schema/migrations';
import { openStore } from './open-store.ts';
import { resolveLocation } from './config.ts';
import { testDrivers } from './testing.ts';
import type { Experiment, Store } from './types.ts';

const SPEC = { version: 1, space: { lr: { type: 'loguniform', min: 1e-4, max: 0.1 } }, strategy: { kind: 'random' }, seed: 7, maxTrials: 3, parallel: 2, objective: { metric: 'val_acc', direction: 'maximize' }, policies: [], prefix: 'cairn', job: {} };
const sweepInput = { strategy: 'random', spec: SPEC, objective: { metric: 'val_acc', direction: 'maximize' as const }, prefix: 'cairn', maxTrials: 3, parallel: 2 };

describe.each(testDrivers())('pipeline decisions on $name', (driver) => {
  let store: Store;
  let exp: Experiment;

  beforeAll(async () => {
    store = await driver.open();
    exp = await store.ensureExperiment({ name: 'decisions' });
  });
  afterAll(async () => {
    await driver.cleanup();
  });

  it('records one gate verdict per run and tier (a re-evaluation replaces it) and filters on it, never on tags', async () => {
    const run = await store.createRun({ experimentId: exp.id, tier: 'ci' });
    await store.endRun(run.id, 'finished');
    const first = await store.recordGateResult({ runId: run.id, tier: 'ci', passed: false, expression: 'metrics.acc >= 0.9', values: { 'metrics.acc': null }, missing: ['metrics.acc'] });
    expect(first).toMatchObject({ runId: run.id, tier: 'ci', passed: false, values: { 'metrics.acc': null }, missing: ['metrics.acc'], evaluatedAt: expect.any(Date) });
    const again = await store.recordGateResult({ runId: run.id.toUpperCase(), tier: 'ci', passed: true, expression: "status = 'finished'", values: { status: 'finished', 'metrics.x': 'NaN', 'metrics.y': 0.5 }, missing: [] });
    await store.recordGateResult({ runId: run.id, tier: 'extended', passed: false, expression: 'metrics.acc >= 0.99', values: { 'metrics.acc': 0.97 }, missing: [] });
    const listed = await store.listGateResults({ runIds: [run.id] });
    expect(listed.map((g) => [g.tier, g.passed])).toEqual([
      ['extended', false],
      ['ci', true],
    ]);
    expect(listed[1]).toEqual(again);
    expect(again.values).toEqual({ status: 'finished', 'metrics.x': 'NaN', 'metrics.y': 0.5 });

    // A user's tag named gate is a tag: it changes no gate field.
    const tagged = await store.createRun({ experimentId: exp.id, tier: 'ci' });
    await store.endRun(tagged.id, 'abandoned');
    await store.setTags(tagged.id, { gate: 'passed', 'gate.tier': 'ci' });
    const ids = async (filter: string) => (await store.searchRuns({ filter, experimentIds: [exp.id] })).runs.map((r) => r.id);
    expect(await ids("gate.ci = 'passed'")).toEqual([run.id]);
    expect(await ids("gate.extended = 'failed'")).toEqual([run.id]);
    expect(await ids("gate.ci IS NULL AND tags.gate = 'passed'")).toEqual([tagged.id]);
    expect(await store.countRuns({ filter: "gate.ci != 'failed'", experimentIds: [exp.id] })).toBe(1);
    const sorted = await store.searchRuns({ experimentIds: [exp.id], orderBy: ['gate.extended asc'], limit: 1 });
    expect(sorted.runs.map((r) => r.id)).toEqual([run.id]);
    const next = await store.searchRuns({ experimentIds: [exp.id], orderBy: ['gate.extended asc'], limit: 1, cursor: sorted.nextCursor });
    expect(next.runs.map((r) => r.id)).toEqual([tagged.id]);

    // Newest first across experiments, and scoped to some.
    const other = await store.ensureExperiment({ name: 'decisions-other' });
    const elsewhere = await store.createRun({ experimentId: other.id, tier: 'ci' });
    await store.recordGateResult({ runId: elsewhere.id, tier: 'ci', passed: true, expression: "status = 'running'", values: { status: 'running' }, missing: [] });
    expect((await store.listGateResults({ limit: 1 })).map((g) => g.runId)).toEqual([elsewhere.id]);
    expect((await store.listGateResults({ experimentIds: [exp.id] })).map((g) => g.runId)).toEqual([run.id, run.id]);
    expect(await store.listGateResults({ experimentIds: [] })).toEqual([]);

    await expect(store.recordGateResult({ runId: randomUUID(), tier: 'ci', passed: true, expression: 'x = 1', values: {}, missing: [] })).rejects.toMatchObject({ code: 'NOT_FOUND' });
    await expect(store.recordGateResult({ runId: run.id, tier: '', passed: true, expression: 'x = 1', values: {}, missing: [] })).rejects.toMatchObject({ code: 'INVALID_INPUT' });
    await expect(store.recordGateResult({ runId: run.id, tier: 'ci', passed: 'yes' as unknown as boolean, expression: 'x = 1', values: {}, missing: [] })).rejects.toMatchObject({ code: 'INVALID_INPUT' });
  });

  it('keeps a sweep and its trials: created with their runs, each index once, listed by status and prefix', async () => {
    const { run: parent, sweep } = await store.createSweep({ run: { experimentId: exp.id, name: 'sw', tier: 'nightly' }, sweep: sweepInput });
    expect(sweep).toMatchObject({ parentRunId: parent.id, strategy: 'random', spec: SPEC, objective: { metric: 'val_acc', direction: 'maximize' }, prefix: 'cairn', maxTrials: 3, parallel: 2, status: 'running', best: null, endedAt: null });
    expect(await store.getSweep(parent.id)).toEqual(sweep);
    expect(await store.getSweep(randomUUID())).toBeNull();

    const t0 = await store.createSweepTrial(parent.id, { index: 0, params: { lr: 0.001 } }, { experimentId: exp.id, name: 'sw-t0', status: 'queued', tier: 'nightly', params: { lr: 0.001 } });
    expect(t0).toMatchObject({ parentRunId: parent.id, status: 'queued' });
    const t1 = await store.createSweepTrial(parent.id, { index: 1, params: { lr: 1e-5 } }, { experimentId: exp.id, status: 'queued' });
    // An index taken: CONFLICT, and no run is left behind.
    const before = (await store.searchRuns({ experimentIds: [exp.id], limit: 1000 })).runs.length;
    await expect(store.createSweepTrial(parent.id, { index: 1, params: {} }, { experimentId: exp.id })).rejects.toMatchObject({ code: 'CONFLICT' });
    expect((await store.searchRuns({ experimentIds: [exp.id], limit: 1000 })).runs.length).toBe(before);
    // A run that is no sweep takes no trials.
    await expect(store.createSweepTrial(t0.id, { index: 0, params: {} }, { experimentId: exp.id })).rejects.toThrow();

    expect(await store.listSweepTrials(parent.id)).toEqual([
      { runId: t0.id, sweepId: parent.id, index: 0, params: { lr: 0.001 } },
      { runId: t1.id, sweepId: parent.id, index: 1, params: { lr: 1e-5 } },
    ]);
    expect(await store.getSweepTrial(t1.id)).toEqual({ runId: t1.id, sweepId: parent.id, index: 1, params: { lr: 1e-5 } });
    expect(await store.getSweepTrial(parent.id)).toBeNull();

    const best = await store.updateSweep(parent.id, { best: { runId: t1.id, trial: 1, value: 0.93 } });
    expect(best.best).toEqual({ runId: t1.id, trial: 1, value: 0.93 });
    expect((await store.listSweeps({ status: 'running', prefix: 'cairn', experimentIds: [exp.id] })).map((s) => s.parentRunId)).toEqual([parent.id]);
    const ended = await store.updateSweep(parent.id, { status: 'finished' });
    expect(ended).toMatchObject({ status: 'finished', endedAt: expect.any(Date), best: { runId: t1.id } });
    expect(await store.listSweeps({ status: 'running', experimentIds: [exp.id] })).toEqual([]);
    expect(await store.listSweeps({ prefix: 'other' })).toEqual([]);
    await expect(store.updateSweep(t0.id, { status: 'cancelled' })).rejects.toMatchObject({ code: 'NOT_FOUND' });

    expect(await store.getPipelineDecisions(parent.id)).toMatchObject({ gates: [], champion: [], sweep: { parentRunId: parent.id }, trial: null });
    expect(await store.getPipelineDecisions(t0.id)).toMatchObject({ sweep: null, trial: { index: 0 } });

    // Deleting the best trial's run clears the best; deleting the parent removes the sweep.
    await store.deleteRun(t1.id);
    expect((await store.getSweep(parent.id))!.best).toBeNull();
    await store.deleteRun(parent.id);
    expect(await store.getSweep(parent.id)).toBeNull();
    expect(await store.getSweepTrial(t0.id)).toBeNull();
  });

  it('records a champion decision per run and tier', async () => {
    const run = await store.createRun({ experimentId: exp.id, tier: 'nightly' });
    await store.recordChampionDecision({ runId: run.id, tier: 'nightly', decision: 'kept', model: 'iris', alias: 'champion', metric: 'val_acc', challenger: 0.9, champion: 0.95, detail: 'val_acc 0.9 does not beat iris@champion (v1, 0.95)' });
    const d = await store.recordChampionDecision({ runId: run.id, tier: 'nightly', decision: 'promoted', model: 'iris', alias: 'champion', metric: 'val_acc', challenger: 0.97, champion: 0.95, version: 2, detail: 'val_acc 0.97 beats 0.95 of v1: iris@champion → v2' });
    expect((await store.getPipelineDecisions(run.id)).champion).toEqual([d]);
    expect(d).toMatchObject({ decision: 'promoted', version: 2, decidedAt: expect.any(Date) });
    await expect(store.recordChampionDecision({ ...d, decision: 'maybe' as 'kept' })).rejects.toMatchObject({ code: 'INVALID_INPUT' });
  });
});

/**
 * Upgrading a store whose sweeps kept their state in tags (before migration 0005): sweeps
 * and their trials are copied into the tables; gate tags are not (anyone could write them).
 */
describe.each(testDrivers())('migration 0005 on $name', (driver) => {
  afterAll(async () => {
    await driver.cleanup();
  });

  /** The migrations folder as it was before 0005. */
  function oldMigrations(): string {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cairn-mig-0004-'));
    for (const f of fs.readdirSync(MIGRATIONS_DIR)) if (/^000[0-4]_.*\.sql$/.test(f)) fs.copyFileSync(path.join(MIGRATIONS_DIR, f), path.join(dir, f));
    fs.mkdirSync(path.join(dir, 'meta'));
    const journal = JSON.parse(fs.readFileSync(path.join(MIGRATIONS_DIR, 'meta/_journal.json'), 'utf8')) as { entries: { idx: number }[] };
    fs.writeFileSync(path.join(dir, 'meta/_journal.json'), JSON.stringify({ ...journal, entries: journal.entries.filter((e) => e.idx <= 4) }));
    return dir;
  }

  it('copies tag-held sweeps (skipping unreadable ones and forged trials) and no gate verdict', async () => {
    const location = await driver.fresh();
    const folder = oldMigrations();
    const ids = { project: randomUUID(), exp: randomUUID(), sweep: randomUUID(), t0: randomUUID(), t1: randomUUID(), stray: randomUUID(), dup: randomUUID(), bad: randomUUID(), gated: randomUUID(), nested: randomUUID() };
    const statements: [string, unknown[]][] = [
      ['INSERT INTO projects (id, name) VALUES ($1, $2)', [ids.project, 'default']],
      ['INSERT INTO experiments (id, project_id, name) VALUES ($1, $2, $3)', [ids.exp, ids.project, 'e']],
      ...[ids.sweep, ids.bad, ids.gated, ids.stray].map((id, i): [string, unknown[]] => ['INSERT INTO runs (id, experiment_id, name, status, tier) VALUES ($1, $2, $3, $4, $5)', [id, ids.exp, `r${i}`, 'running', 'nightly']]),
      // Creation times a second apart: "the first created wins" must not hang on the clock's resolution.
      ...[ids.t0, ids.t1, ids.dup, ids.nested].map((id, i): [string, unknown[]] => ['INSERT INTO runs (id, experiment_id, name, status, tier, parent_run_id, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7)', [id, ids.exp, `t${i}`, 'finished', 'nightly', ids.sweep, new Date(Date.UTC(2026, 0, 1, 0, 0, i))]]),
    ];
    const tag = (run: string, key: string, value: string): [string, unknown[]] => ['INSERT INTO run_tags (run_id, key, value) VALUES ($1, $2, $3)', [run, key, value]];
    statements.push(
      tag(ids.sweep, 'sweep.kind', 'parent'),
      tag(ids.sweep, 'sweep.spec', JSON.stringify(SPEC)),
      tag(ids.sweep, 'sweep.best', ids.t1),
      tag(ids.sweep, 'sweep.best.trial', '1'),
      tag(ids.sweep, 'sweep.best.value', '0.91'),
      // A spec that is not JSON: left out, the upgrade goes on.
      tag(ids.bad, 'sweep.kind', 'parent'),
      tag(ids.bad, 'sweep.spec', '{not json'),
      ...[ids.t0, ids.t1, ids.dup].flatMap((id, i) => [tag(id, 'sweep', ids.sweep), tag(id, 'sweep.kind', 'trial'), tag(id, 'trial', String(Math.min(i, 1))), tag(id, 'sweep.params', JSON.stringify({ lr: 0.01 * (i + 1) }))]),
      // Tagged as a trial of the sweep, but no child of it.
      tag(ids.stray, 'sweep', ids.sweep),
      tag(ids.stray, 'sweep.kind', 'trial'),
      tag(ids.stray, 'trial', '2'),
      // A child whose params tag is no JSON.
      tag(ids.nested, 'sweep', ids.sweep),
      tag(ids.nested, 'sweep.kind', 'trial'),
      tag(ids.nested, 'trial', '2'),
      tag(ids.nested, 'sweep.params', 'oops'),
      tag(ids.gated, 'gate', 'passed'),
      tag(ids.gated, 'gate.tier', 'extended'),
    );
    if (location.url) {
      const client = new pg.Client({ connectionString: location.url });
      await client.connect();
      try {
        await migratePg(drizzlePg(client) as never, { migrationsFolder: folder });
        for (const [q, p] of statements) await client.query(q, p);
      } finally {
        await client.end();
      }
    } else {
      const loc = resolveLocation(location);
      if (loc.driver !== 'pglite') throw new Error('expected an embedded location');
      fs.mkdirSync(loc.home, { recursive: true });
      const client = await PGlite.create(loc.dataDir);
      try {
        await migratePglite(drizzlePglite(client) as never, { migrationsFolder: folder });
        for (const [q, p] of statements) await client.query(q, p);
      } finally {
        await client.close();
      }
    }
    fs.rmSync(folder, { recursive: true, force: true });

    const store = await openStore(location);
    try {
      const sweep = await store.getSweep(ids.sweep);
      expect(sweep).toMatchObject({ strategy: 'random', spec: SPEC, objective: { metric: 'val_acc', direction: 'maximize' }, prefix: 'cairn', maxTrials: 3, parallel: 2, status: 'running', best: { runId: ids.t1, trial: 1, value: 0.91 } });
      expect(await store.getSweep(ids.bad)).toBeNull();
      const trials = await store.listSweepTrials(ids.sweep);
      // Index 1 twice: the first created wins; the stray is no child; the bad params are left out.
      expect(trials.map((t) => [t.index, t.runId, t.params])).toEqual([
        [0, ids.t0, { lr: 0.01 }],
        [1, ids.t1, { lr: 0.02 }],
      ]);
      expect(await store.listGateResults({ runIds: [ids.gated] })).toEqual([]);
      expect((await store.getRun(ids.gated)).tags).toEqual({ gate: 'passed', 'gate.tier': 'extended' });
    } finally {
      await store.close();
    }
  }, 60_000);
});
