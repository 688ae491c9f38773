import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { candidateFilter, resolvePipelineConfig } from '@cairn/pipeline';
import type { Experiment, Store } from '@cairn/store';
import { testDrivers } from '@cairn/store/testing';
import { callerFor, teamViewer } from './test-support.ts';

/**
 * What the pipeline decides (gate verdicts, sweeps) cannot be forged by an editor through
 * the API: tags and notes are theirs to write, and the pipeline reads neither.
 */
describe.each(testDrivers())('pipeline decisions against an editor on $name', (driver) => {
  let store: Store;
  let exp: Experiment;
  let editor: ReturnType<typeof callerFor>;
  const config = resolvePipelineConfig({});

  beforeAll(async () => {
    store = await driver.open();
    exp = await store.ensureExperiment({ name: 'forgery' });
    const project = (await store.listProjects()).find((p) => p.id === exp.projectId)!;
    editor = callerFor(store, { viewer: teamViewer('ed', { [project.id]: 'editor' }) });
  });
  afterAll(async () => {
    await driver.cleanup();
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

  it("runs.get shows the run's attempts as the pipeline recorded them, and its queue prefix; attempt tags are only tags", async () => {
    const run = await store.createRun({ experimentId: exp.id, name: 'taken-twice', status: 'queued', tier: 'ci', queuePrefix: 'team-a' });
    await store.claimRun(run.id, { workerId: 'host-a:11:aa' });
    await store.claimRun(run.id, { workerId: 'host-b:12:bb' });
    await store.updateAttempt(run.id, 2, { resumedFromStep: 40 });
    await store.updateAttempt(run.id, 2, { outcome: 'finished' });
    await store.endRun(run.id, 'finished');
    // What an editor can write: tags in the format the pipeline once used. They decide and show nothing.
    await editor.runs.setTags({ runId: run.id, tags: { attempts: '9', 'attempt.3': '2026-01-01T00:00:00.000Z on forged:1:ff' } });

    const recorded = await store.listAttempts(run.id);
    const view = await editor.runs.get({ id: run.id });
    expect(view.attempts).toBe(2);
    expect(view.pipeline.queue).toBe('team-a');
    expect(view.pipeline.attempts).toEqual([
      { attempt: 1, workerId: 'host-a:11:aa', startedAt: recorded[0]!.startedAt, endedAt: recorded[0]!.endedAt, resumedFromStep: null, outcome: 'superseded', detail: 'taken over by attempt 2 on host-b:12:bb' },
      { attempt: 2, workerId: 'host-b:12:bb', startedAt: recorded[1]!.startedAt, endedAt: recorded[1]!.endedAt, resumedFromStep: 40, outcome: 'finished', detail: null },
    ]);
    expect(view.pipeline.attempts.every((a) => a.endedAt instanceof Date && a.endedAt >= a.startedAt)).toBe(true);

    // A run tracked by a script: its one attempt, no worker, no queue.
    const script = await store.createRun({ experimentId: exp.id, name: 'scripted' });
    const scripted = await editor.runs.get({ id: script.id });
    expect(scripted.pipeline.queue).toBeNull();
    expect(scripted.pipeline.attempts).toMatchObject([{ attempt: 1, workerId: null, endedAt: null, outcome: null }]);
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

  it("no code behind those surfaces sets a run's queue prefix: only the pipeline queues runs", () => {
    const SETS_PREFIX = /\bqueuePrefix\s*:/;
    const surfaces = ['libs/api/src', 'libs/tracking/src', 'apps/web/src'].flatMap((d) => sources(path.join(root, d)));
    expect(surfaces.filter((f) => SETS_PREFIX.test(fs.readFileSync(f, 'utf8'))).map((f) => path.relative(root, f))).toEqual([]);
    expect(SETS_PREFIX.test(fs.readFileSync(path.join(root, 'libs/pipeline/src/queued-run.ts'), 'utf8'))).toBe(true);
  });
});
