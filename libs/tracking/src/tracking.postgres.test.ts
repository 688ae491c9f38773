import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InvalidStateError, NotFoundError, ParamConflictError, ValidationError } from '@cairn/schema';
import { openStore, type Store } from '@cairn/store';
import { testDrivers } from '@cairn/store/testing';
import {
  DEFAULT_LOST_RUN_TIMEOUT_MS,
  DirectTransport,
  MetricsNotWrittenError,
  processHooksInstalled,
  startRun,
  withRun,
  type StartRunOptions,
} from './index.ts';
import { packageLockHash } from './environment.ts';
import { FaultyTransport, rejection, sleep, thrown, waitFor } from './test-support.ts';

// Quiet, fast defaults for tests; each test overrides what it exercises.
const quiet: Partial<StartRunOptions> = { heartbeatIntervalMs: 0, processHooks: false, retryBaseMs: 5, onWarning: () => {} };

describe.each(testDrivers())('tracking client on $name', (driver) => {
  let store: Store;
  beforeAll(async () => {
    store = await driver.open();
  });
  afterAll(() => driver.cleanup());

  const count = async (runId: string, key: string) => (await store.getMetricSummaries(runId))[key]?.count ?? 0;

  it('starts a running run with params, tags and the captured environment', async () => {
    const run = await startRun({
      ...quiet,
      store,
      experiment: 'mnist',
      name: 'lr-sweep-1',
      params: { lr: 0.01, opt: 'adam', shuffle: true },
      tags: { team: 'vision' },
      environment: { tfjsBackend: 'cpu' },
    });
    expect(run.status).toBe('running');
    expect(run.name).toBe('lr-sweep-1');
    const r = await store.getRun(run.id);
    expect(r.status).toBe('running');
    expect(r.experimentId).toBe((await store.getExperiment('mnist')).id);
    expect(r.params).toEqual({ lr: '0.01', opt: 'adam', shuffle: 'true' });
    expect(r.tags).toEqual({ team: 'vision' });
    expect(r.startedAt).toBeInstanceOf(Date);
    const env = r.environment;
    expect(env.node).toBe(process.version);
    expect(env.platform).toBe(process.platform);
    expect(env.arch).toBe(process.arch);
    expect(typeof env.hostname).toBe('string');
    expect(env.cpus?.count).toBeGreaterThan(0);
    expect(env.memoryBytes).toBeGreaterThan(0);
    expect(env.tfjsBackend).toBe('cpu');
    const lock = await packageLockHash(process.cwd());
    expect(lock).not.toBeNull();
    expect(env.packageLockHash).toBe(createHash('sha256').update(fs.readFileSync(lock!.path)).digest('hex'));
    // This checkout may or may not have commits; either way the values are well-formed.
    expect(r.gitSha === null || /^[0-9a-f]{40,64}$/.test(r.gitSha)).toBe(true);
    expect(r.gitDirty === null || typeof r.gitDirty === 'boolean').toBe(true);
    await run.finish();
    expect(run.status).toBe('finished');
    const done = await store.getRun(run.id);
    expect(done.status).toBe('finished');
    expect(done.endedAt).toBeInstanceOf(Date);
  });

  it('checks log() input synchronously and buffers nothing from a bad call', async () => {
    const run = await startRun({ ...quiet, store, experiment: 'validation', flushIntervalMs: 0 });
    const bad: [unknown, unknown?][] = [
      [{ loss: '0.3' }],
      [{ loss: null }],
      [{ loss: 1n }],
      [{ ok: 1, ' padded': 2 }],
      [{ '': 1 }],
      [{ ['x'.repeat(251)]: 1 }],
      [{ 'bad\nkey': 1 }],
      [[1, 2]],
      [null],
      [{ loss: 1 }, { step: -1 }],
      [{ loss: 1 }, { step: 1.5 }],
      [{ loss: 1 }, { step: '3' }],
    ];
    for (const [metrics, options] of bad) {
      const e = thrown(() => run.log(metrics as Record<string, number>, options as { step?: number }));
      expect(e).toBeInstanceOf(ValidationError);
      expect(e.message).not.toContain('\n');
    }
    expect(run.pendingPoints).toBe(0);
    expect(run.nextStep).toBe(0);
    // Non-finite values are information, not errors.
    run.log({ loss: Number.NaN, grad: Number.POSITIVE_INFINITY, floor: Number.NEGATIVE_INFINITY, acc: 0.5 });
    expect(run.pendingPoints).toBe(4);
    await run.finish();
    const s = await store.getMetricSummaries(run.id);
    expect(s.loss!.count).toBe(1);
    expect(s.loss!.last).toBeNaN();
    expect(s.loss!.min).toBeNull();
    expect(s.grad!.last).toBe(Number.POSITIVE_INFINITY);
    expect(s.floor!.last).toBe(Number.NEGATIVE_INFINITY);
    expect(s.acc!.last).toBe(0.5);
  });

  it('sends a batch as soon as maxBatchPoints points wait', async () => {
    const t = new FaultyTransport(new DirectTransport(store));
    const run = await startRun({ ...quiet, transport: t, experiment: 'batching', maxBatchPoints: 10, flushIntervalMs: 0 });
    for (let i = 0; i < 25; i++) run.log({ loss: 1 / (i + 1) });
    await waitFor(async () => (await count(run.id, 'loss')) === 20, '20 points stored');
    await sleep(100);
    // Only full batches go on size; the rest waits for the timer, a flush or the end.
    expect(t.okBatches).toEqual([10, 10]);
    expect(run.pendingPoints).toBe(5);
    await run.finish();
    expect(t.okBatches).toEqual([10, 10, 5]);
    expect(await count(run.id, 'loss')).toBe(25);
  });

  it('sends what waits every flushIntervalMs', async () => {
    const t = new FaultyTransport(new DirectTransport(store));
    const run = await startRun({ ...quiet, transport: t, experiment: 'batching', flushIntervalMs: 50 });
    run.log({ loss: 0.9, acc: 0.1 });
    run.log({ loss: 0.8, acc: 0.2 });
    // The points are in the store a moment before the client hears the answer and
    // empties its buffer, so wait for both.
    await waitFor(async () => run.pendingPoints === 0 && (await count(run.id, 'acc')) === 2, 'the timer to flush');
    expect(t.okBatches).toEqual([4]);
    await run.finish();
  });

  it('sends one batch at a time', async () => {
    const t = new FaultyTransport(new DirectTransport(store));
    let inflight = 0;
    let most = 0;
    const inner = t.logMetrics.bind(t);
    t.logMetrics = async (id, batch) => {
      most = Math.max(most, ++inflight);
      try {
        await sleep(5);
        return await inner(id, batch);
      } finally {
        inflight--;
      }
    };
    const run = await startRun({ ...quiet, transport: t, experiment: 'batching', maxBatchPoints: 5, flushIntervalMs: 1 });
    for (let i = 0; i < 20; i++) {
      run.log({ x: i });
      if (i % 3 === 0) await sleep(2);
    }
    await run.finish();
    expect(most).toBe(1);
    expect(await count(run.id, 'x')).toBe(20);
  });

  it('retries a batch after a transient failure, with the same batch id', async () => {
    const t = new FaultyTransport(new DirectTransport(store));
    t.failBefore = 2;
    const run = await startRun({ ...quiet, transport: t, experiment: 'retry', flushIntervalMs: 0 });
    for (let i = 0; i < 5; i++) run.log({ loss: i });
    await run.flush();
    expect(t.calls.map((c) => c.outcome)).toEqual(['failed-before', 'failed-before', 'ok']);
    expect(new Set(t.calls.map((c) => c.batchId)).size).toBe(1);
    expect(await count(run.id, 'loss')).toBe(5);
    await run.finish();
  });

  it('never duplicates a point when a batch whose answer was lost is sent again', async () => {
    const direct = new DirectTransport(store);
    const t = new FaultyTransport(direct);
    t.failAfter = 1;
    const run = await startRun({ ...quiet, transport: t, experiment: 'retry', flushIntervalMs: 0 });
    for (let i = 0; i < 7; i++) run.log({ loss: i, acc: i / 10 });
    await run.flush();
    expect(t.calls.map((c) => c.outcome)).toEqual(['failed-after', 'ok']);
    expect(await count(run.id, 'loss')).toBe(7);
    expect(await count(run.id, 'acc')).toBe(7);
    // And a batch sent again by hand adds nothing either.
    const points = Array.from({ length: 7 }, (_, i) => ({ key: 'loss', value: i, step: i, wallMs: Date.now() }));
    expect(await direct.logMetrics(run.id, { batchId: 'again', points })).toEqual({ inserted: 0 });
    expect(await count(run.id, 'loss')).toBe(7);
    await run.finish();
  });

  it('keeps the points while the store is down and writes them once it is back', async () => {
    const t = new FaultyTransport(new DirectTransport(store));
    t.down = true;
    const run = await startRun({ ...quiet, transport: t, experiment: 'outage', flushIntervalMs: 0, maxAttempts: 3 });
    for (let i = 0; i < 4; i++) run.log({ loss: i });
    const e = await rejection(run.flush());
    expect(e).toBeInstanceOf(MetricsNotWrittenError);
    expect((e as MetricsNotWrittenError).code).toBe('STORE_UNREACHABLE');
    expect((e as MetricsNotWrittenError).unwritten).toBe(4);
    expect(t.calls.length).toBe(3);
    expect(run.pendingPoints).toBe(4);
    run.log({ loss: 9 }); // still buffering meanwhile
    t.down = false;
    await run.finish();
    expect(await count(run.id, 'loss')).toBe(5);
    expect((await store.getRun(run.id)).status).toBe('finished');
  });

  it('ends the run but reports points it could not write on finish', async () => {
    const t = new FaultyTransport(new DirectTransport(store));
    t.down = true;
    const run = await startRun({ ...quiet, transport: t, experiment: 'outage', flushIntervalMs: 0, maxAttempts: 2 });
    run.log({ loss: 1 });
    run.log({ loss: 2 });
    const e = await rejection(run.finish());
    expect(e).toBeInstanceOf(MetricsNotWrittenError);
    expect(e.message).toMatch(/2 of 2 metric points are not stored: 2 unsent/);
    expect((await store.getRun(run.id)).status).toBe('finished');
    expect(run.status).toBe('finished');
  });

  it('applies back-pressure: log() never blocks, points beyond maxBufferPoints are dropped and counted', async () => {
    const t = new FaultyTransport(new DirectTransport(store));
    const warnings: string[] = [];
    t.hold();
    const run = await startRun({
      ...quiet,
      transport: t,
      experiment: 'backpressure',
      maxBatchPoints: 2,
      maxBufferPoints: 5,
      flushIntervalMs: 0,
      onWarning: (m) => warnings.push(m),
    });
    for (let i = 0; i < 8; i++) run.log({ loss: i });
    expect(run.droppedPoints).toBe(3);
    expect(run.pendingPoints).toBe(5);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(/buffer full/);
    t.release();
    const e = await rejection(run.finish());
    expect(e).toBeInstanceOf(MetricsNotWrittenError);
    expect((e as MetricsNotWrittenError).dropped).toBe(3);
    expect(await count(run.id, 'loss')).toBe(5);
    const r = await store.getRun(run.id);
    expect(r.status).toBe('finished');
    expect(r.tags['cairn.metrics.dropped']).toBe('3');
  });

  it('counts steps per run when log() is given none', async () => {
    const run = await startRun({ ...quiet, store, experiment: 'steps', flushIntervalMs: 0 });
    run.log({ a: 1 });
    run.log({ a: 2, b: 2 });
    run.log({ a: 3 });
    run.log({ a: 10 }, { step: 10 });
    run.log({ a: 11 });
    run.log({ b: 5 }, { step: 5 }); // an earlier step does not move the counter back
    expect(run.nextStep).toBe(12);
    run.log({ c: 1 }, { step: 0 });
    run.log({ c: 2 }, { step: 0 }); // (key, step) is a point's identity: the first write wins
    await run.finish();
    const a = await store.getMetricSeries(run.id, 'a');
    expect(a.points.map((p) => [p.step, p.value])).toEqual([
      [0, 1],
      [1, 2],
      [2, 3],
      [10, 10],
      [11, 11],
    ]);
    expect((await store.getMetricSeries(run.id, 'b')).points.map((p) => p.step)).toEqual([1, 5]);
    expect((await store.getMetricSeries(run.id, 'c')).points.map((p) => p.value)).toEqual([1]);
  });

  it('logs params, tags, notes and artifacts', async () => {
    const run = await startRun({ ...quiet, store, experiment: 'data', params: { lr: 0.01 } });
    await run.logParams({ lr: 0.01, epochs: 5 }); // the same value again is fine
    const conflict = await rejection(run.logParams({ lr: 0.1 }));
    expect(conflict).toBeInstanceOf(ParamConflictError);
    expect(conflict.message).toMatch(/param 'lr' .* is already '0.01'/);
    expect(await rejection(run.logParams({ '': 1 }))).toBeInstanceOf(ValidationError);
    await run.setTags({ team: 'vision' });
    await run.setTags({ team: 'nlp', stage: 'dev' });
    await run.note('tried cosine decay; diverged after epoch 3', { author: 'ana' });
    expect(await rejection(run.note('  '))).toBeInstanceOf(ValidationError);
    const hash = createHash('sha256').update('weights').digest('hex');
    await run.logArtifact({ path: 'model/model.json', hash, size: 1234, mediaType: 'application/json' });
    expect(await rejection(run.logArtifact({ path: '../escape', hash, size: 1 }))).toBeInstanceOf(ValidationError);
    await run.finish();
    const r = await store.getRun(run.id);
    expect(r.params).toEqual({ lr: '0.01', epochs: '5' });
    expect(r.tags).toEqual({ team: 'nlp', stage: 'dev' });
    const notes = await store.listNotes({ kind: 'run', id: run.id });
    expect(notes.map((n) => [n.body, n.author])).toEqual([['tried cosine decay; diverged after epoch 3', 'ana']]);
    const arts = await store.listArtifacts(run.id);
    expect(arts.map((a) => [a.path, a.hash, a.size, a.mediaType])).toEqual([['model/model.json', hash, 1234, 'application/json']]);
  });

  it('detaches from a run without ending it: buffered points sent, heartbeat stopped, nothing more logged', async () => {
    const t = new FaultyTransport(new DirectTransport(store));
    let beats = 0;
    const beat = t.heartbeat.bind(t);
    t.heartbeat = (id: string) => (beats++, beat(id));
    const run = await startRun({ ...quiet, transport: t, experiment: 'detach', flushIntervalMs: 0, heartbeatIntervalMs: 20 });
    await waitFor(async () => beats > 0, 'a heartbeat');
    run.log({ loss: 0.5 }, { step: 1 });
    await run.detach();
    expect(await count(run.id, 'loss')).toBe(1);
    expect((await store.getRun(run.id)).status).toBe('running');
    const after = beats;
    await sleep(100);
    expect(beats).toBe(after);
    expect(thrown(() => run.log({ loss: 0.4 }, { step: 2 }))).toBeInstanceOf(InvalidStateError);
    // Detaching wins over a later end: the run is left to whoever takes it.
    await run.finish();
    expect((await store.getRun(run.id)).status).toBe('running');
  });

  it('ends runs failed with the error message, or with a status and reason', async () => {
    const a = await startRun({ ...quiet, store, experiment: 'ends' });
    a.log({ loss: 1 });
    await a.fail(new TypeError('Cannot read properties of undefined'));
    let r = await store.getRun(a.id);
    expect([r.status, r.statusReason]).toEqual(['failed', 'TypeError: Cannot read properties of undefined']);
    expect(await count(a.id, 'loss')).toBe(1); // flushed before ending

    const b = await startRun({ ...quiet, store, experiment: 'ends' });
    await b.fail('out of memory on batch 12');
    r = await store.getRun(b.id);
    expect([r.status, r.statusReason]).toEqual(['failed', 'out of memory on batch 12']);

    const c = await startRun({ ...quiet, store, experiment: 'ends' });
    const first = c.end('abandoned', 'plateau: no improvement in 5 evaluations');
    expect(c.finish()).toBe(first); // the first end wins
    await first;
    r = await store.getRun(c.id);
    expect([r.status, r.statusReason]).toEqual(['abandoned', 'plateau: no improvement in 5 evaluations']);
    expect(thrown(() => c.log({ loss: 1 }))).toBeInstanceOf(InvalidStateError);
    expect(await rejection(c.setTags({ a: 'b' }))).toBeInstanceOf(InvalidStateError);

    const d = await startRun({ ...quiet, store, experiment: 'ends' });
    expect(await rejection(d.end('running' as never))).toBeInstanceOf(ValidationError);
    await d.end('cancelled');
    expect((await store.getRun(d.id)).status).toBe('cancelled');
  });

  it('heartbeats while running', async () => {
    const run = await startRun({ ...quiet, store, experiment: 'heartbeat', heartbeatIntervalMs: 25 });
    const first = (await store.getRun(run.id)).heartbeatAt!;
    expect(first).toBeInstanceOf(Date);
    await waitFor(async () => (await store.getRun(run.id)).heartbeatAt!.getTime() > first.getTime(), 'a newer heartbeat');
    expect(await store.markLostRuns(DEFAULT_LOST_RUN_TIMEOUT_MS)).not.toContain(run.id);
    await run.finish();
  });

  it('starts child runs through the same transport', async () => {
    const parent = await startRun({ ...quiet, store, experiment: 'sweep', name: 'sweep' });
    const child = await parent.startChild({ name: 'trial-1', params: { lr: 0.1 } });
    expect((await store.getRun(child.id)).parentRunId).toBe(parent.id);
    expect(child.experimentId).toBe(parent.experimentId);
    child.log({ loss: 0.5 });
    await child.finish();
    await parent.finish();
    expect((await store.getRun(child.id)).params).toEqual({ lr: '0.1' });
  });

  it('starts a queued run by id', async () => {
    const exp = await store.ensureExperiment({ name: 'queue' });
    const queued = await store.createRun({ experimentId: exp.id, status: 'queued', name: 'waiting' });
    const run = await startRun({ ...quiet, store, runId: queued.id, params: { lr: 0.3 } });
    expect(run.id).toBe(queued.id);
    const r = await store.getRun(run.id);
    expect(r.status).toBe('running');
    expect(r.attempts).toBe(1);
    expect(r.environment.node).toBe(process.version);
    expect(r.params).toEqual({ lr: '0.3' });
    await run.finish();
    expect(await rejection(startRun({ ...quiet, store, runId: '00000000-0000-7000-8000-000000000000' }))).toBeInstanceOf(NotFoundError);
  });

  it('checks startRun options', async () => {
    expect(await rejection(startRun({ ...quiet, store }))).toBeInstanceOf(ValidationError);
    expect(await rejection(startRun({ ...quiet, store, experiment: '' }))).toBeInstanceOf(ValidationError);
    expect(await rejection(startRun({ ...quiet, store, experiment: 'x', name: 'a\u0000b' }))).toBeInstanceOf(ValidationError);
    expect(await rejection(startRun({ ...quiet, store, experiment: 'x', params: { ' lr': 1 } }))).toBeInstanceOf(ValidationError);
    expect(await rejection(startRun({ ...quiet, store, experiment: 'x', maxBatchPoints: 0 }))).toBeInstanceOf(ValidationError);
  });

  it('withRun finishes on return and fails on throw', async () => {
    let id = '';
    const out = await withRun({ ...quiet, store, experiment: 'with' }, (run) => {
      id = run.id;
      run.log({ loss: 1 });
      return 42;
    });
    expect(out).toBe(42);
    expect((await store.getRun(id)).status).toBe('finished');
    const e = await rejection(
      withRun({ ...quiet, store, experiment: 'with' }, async (run) => {
        id = run.id;
        throw new Error('diverged');
      }),
    );
    expect(e.message).toBe('diverged');
    const r = await store.getRun(id);
    expect([r.status, r.statusReason]).toEqual(['failed', 'diverged']);
  });

  it('installs process hooks while a run is active and removes them after', async () => {
    const before = ['beforeExit', 'uncaughtException', 'unhandledRejection', 'SIGINT', 'SIGTERM'].map((e) => process.listenerCount(e));
    expect(processHooksInstalled()).toBe(false);
    const a = await startRun({ ...quiet, store, experiment: 'hooks', processHooks: true });
    const b = await startRun({ ...quiet, store, experiment: 'hooks', processHooks: true });
    expect(processHooksInstalled()).toBe(true);
    expect(process.listenerCount('SIGTERM')).toBe(before[4]! + 1);
    await a.finish();
    expect(processHooksInstalled()).toBe(true);
    await b.finish();
    expect(processHooksInstalled()).toBe(false);
    expect(['beforeExit', 'uncaughtException', 'unhandledRejection', 'SIGINT', 'SIGTERM'].map((e) => process.listenerCount(e))).toEqual(before);
  });

  it('opens the store itself from url/home, shares it between runs and closes it after the last', async () => {
    const loc = await driver.fresh();
    const [a, b] = await Promise.all([
      startRun({ ...quiet, ...loc, experiment: 'own-store' }),
      startRun({ ...quiet, ...loc, experiment: 'own-store' }),
    ]);
    const child = await a.startChild({ name: 'child' });
    a.log({ loss: 1 });
    await a.finish();
    child.log({ loss: 2 });
    await child.finish(); // the parent has ended; the shared store is still open
    await b.finish();
    // All closed: for PGlite, the directory lock is free again.
    const again = await openStore(loc);
    try {
      const runs = await again.searchRuns({ experimentIds: ['own-store'] });
      expect(runs.runs).toHaveLength(3);
      expect(runs.runs.every((r) => r.status === 'finished')).toBe(true);
    } finally {
      await again.close();
    }
  });
});

describe('disabled mode', () => {
  it('checks input like a real run and stores nothing', async () => {
    const run = await startRun({ experiment: 'x', disabled: true });
    expect(run.disabled).toBe(true);
    run.log({ loss: 1 });
    expect(run.nextStep).toBe(1);
    expect(thrown(() => run.log({ loss: 'x' as unknown as number }))).toBeInstanceOf(ValidationError);
    await run.logParams({ lr: 1 });
    await run.finish();
    expect(run.status).toBe('finished');
    expect(processHooksInstalled()).toBe(false);
  });

  it('follows CAIRN_DISABLED', async () => {
    const old = process.env.CAIRN_DISABLED;
    process.env.CAIRN_DISABLED = '1';
    try {
      // No store anywhere: a disabled run never opens one.
      const run = await startRun({ experiment: 'x', url: 'postgres://nobody@127.0.0.1:1/none' });
      expect(run.disabled).toBe(true);
      await run.finish();
    } finally {
      if (old === undefined) delete process.env.CAIRN_DISABLED;
      else process.env.CAIRN_DISABLED = old;
    }
  });
});

describe('environment capture', () => {
  it('finds no git and no lock file in an empty directory without failing', async () => {
    const { gitState } = await import('./environment.ts');
    const dir = fs.mkdtempSync(path.join((await import('node:os')).tmpdir(), 'cairn-env-'));
    try {
      expect(await gitState(dir)).toEqual({ sha: null, dirty: null });
      expect(await packageLockHash(dir)).toBeNull();
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('records the commit and whether the work tree is dirty', async () => {
    const { gitState } = await import('./environment.ts');
    const { execFileSync } = await import('node:child_process');
    const dir = fs.mkdtempSync(path.join((await import('node:os')).tmpdir(), 'cairn-git-'));
    const git = (...args: string[]) =>
      execFileSync('git', ['-c', 'user.name=t', '-c', 'user.email=t@example.com', '-c', 'commit.gpgsign=false', ...args], { cwd: dir, encoding: 'utf8' }).trim();
    try {
      git('init', '-q');
      fs.writeFileSync(path.join(dir, 'train.ts'), 'console.log(1)\n');
      fs.writeFileSync(path.join(dir, 'package-lock.json'), '{}');
      git('add', '.');
      git('commit', '-q', '-m', 'init');
      const sha = git('rev-parse', 'HEAD');
      expect(await gitState(dir)).toEqual({ sha, dirty: false });
      fs.writeFileSync(path.join(dir, 'train.ts'), 'console.log(2)\n');
      expect(await gitState(dir)).toEqual({ sha, dirty: true });
      const sub = path.join(dir, 'src', 'deep');
      fs.mkdirSync(sub, { recursive: true });
      expect((await packageLockHash(sub))?.sha256).toBe(createHash('sha256').update('{}').digest('hex'));
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
