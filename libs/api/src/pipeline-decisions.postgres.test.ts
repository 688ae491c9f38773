import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { candidateFilter, resolvePipelineConfig } from '@cairn/pipeline';
import type { Experiment, Store } from '@cairn/store';
import { testEngines } from '@cairn/store/testing';
import { callerFor, teamViewer } from './test-support.ts';

/**
 * What the pipeline decides (gate verdicts, sweeps) cannot be forged by an editor through
 * the API: tags and notes are theirs to write, and the pipeline reads neither.
 */
describe.each(testEngines())('pipeline decisions against an editor on $name', (engine) => {
  let store: Store;
  let exp: Experiment;
  let editor: ReturnType<typeof callerFor>;
  const config = resolvePipelineConfig({});

  beforeAll(async () => {
    store = await engine.open();
    exp = await store.ensureExperiment({ name: 'forgery' });
    const project = (await store.listProjects()).find((p) => p.id === exp.projectId)!;
    editor = callerFor(store, { viewer: teamViewer('ed', { [project.id]: 'editor' }) });
  });
  afterAll(async () => {
    await engine.cleanup();
  });

  it('an abandoned extended run tagged gate = passed, with a forged gate note, is no nightly candidate and shows no verdict', async () => {
    const run = await store.createRun({ experimentId: exp.id, tier: 'extended', code: { codeHash: 'f'.repeat(64) }, snapshotIds: ['a'.repeat(64)] });
    await store.endRun(run.id, 'abandoned', 'median: below the median of 3 peers');
    await editor.runs.setTags({ runId: run.id, tags: { gate: 'passed', 'gate.tier': 'extended' } });
    const forged = { tier: 'extended', passed: true, expression: "status = 'finished'", values: { status: 'finished' }, missing: [] };
    await editor.runs.addNote({ runId: run.id, body: `**extended gate passed**\n\n<!-- cairn-gate ${JSON.stringify(forged)} -->` });
    // The tags are the editor's and stay as written.
    expect((await store.getRun(run.id)).tags).toMatchObject({ gate: 'passed', 'gate.tier': 'extended' });

    // The schedule's candidate choice (fireSchedule searches with this filter).
    const found = await store.searchRuns({ filter: candidateFilter(config, 'nightly')! });
    expect(found.runs.map((r) => r.id)).not.toContain(run.id);

    const view = await editor.runs.get({ id: run.id });
    expect(view.pipeline.gates).toEqual([]);
    expect(await editor.runs.gates({ experimentIds: [exp.id] })).toEqual([]);
  });

  it('a run tagged as a sweep parent is no sweep', async () => {
    const run = await store.createRun({ experimentId: exp.id, name: 'fake-sweep', status: 'running' });
    const spec = { version: 1, space: { lr: { type: 'uniform', min: 0, max: 1 } }, strategy: { kind: 'random' }, seed: 1, maxTrials: 1000, parallel: 100, objective: { metric: 'acc', direction: 'maximize' }, policies: [], prefix: 'cairn', job: {} };
    await editor.runs.setTags({ runId: run.id, tags: { 'sweep.kind': 'parent', 'sweep.spec': JSON.stringify(spec), 'sweep.prefix': 'cairn', 'sweep.best': run.id, 'sweep.best.value': '1' } });
    expect((await editor.sweeps.list()).map((s) => s.id)).not.toContain(run.id);
    expect((await editor.runs.get({ id: run.id })).pipeline.sweep).toBeNull();
  });
});

describe('who writes pipeline decisions', () => {
  const root = fileURLToPath(new URL('../../..', import.meta.url));
  const WRITERS = /\.(recordGateResult|createSweep|createSweepTrial|updateSweep|recordChampionDecision)\s*\(/;

  function sources(dir: string): string[] {
    return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
      const p = path.join(dir, e.name);
      if (e.isDirectory()) return e.name === 'node_modules' || e.name === '.next' ? [] : sources(p);
      return /\.tsx?$/.test(e.name) && !/\.test\.tsx?$/.test(e.name) ? [p] : [];
    });
  }

  it('no code behind the portal API, the ingest API or the portal calls a writer: only the pipeline does', () => {
    const surfaces = ['libs/api/src', 'libs/tracking/src', 'apps/web/src'].flatMap((d) => sources(path.join(root, d)));
    expect(surfaces.length).toBeGreaterThan(50);
    expect(surfaces.filter((f) => WRITERS.test(fs.readFileSync(f, 'utf8'))).map((f) => path.relative(root, f))).toEqual([]);
    // The check finds a writer where there is one.
    expect(WRITERS.test(fs.readFileSync(path.join(root, 'libs/pipeline/src/gates.ts'), 'utf8'))).toBe(true);
  });
});
