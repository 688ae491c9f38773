import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CairnError } from '@cairn/schema';
import { diffParams } from './run-comparison.ts';
import { testDrivers } from './testing.ts';
import type { Run, Store } from './types.ts';

async function errorOf(p: Promise<unknown>): Promise<CairnError> {
  const e = await p.then(
    () => null,
    (err: unknown) => err,
  );
  expect(e).toBeInstanceOf(CairnError);
  return e as CairnError;
}

describe('diffParams', () => {
  it('gives typed values, null where a run lacks the param, and differs by value and type', () => {
    const diff = diffParams([
      { id: 'a', params: { lr: '0.1', layers: '2', augment: 'true', opt: 'adam', width: '0.10' } },
      { id: 'b', params: { lr: '0.1', layers: '3', augment: 'true', width: '0.1' } },
    ]);
    expect(diff).toEqual([
      { key: 'augment', values: { a: true, b: true }, differs: false },
      { key: 'layers', values: { a: 2, b: 3 }, differs: true },
      { key: 'lr', values: { a: 0.1, b: 0.1 }, differs: false },
      { key: 'opt', values: { a: 'adam', b: null }, differs: true },
      // "0.10" is not how 0.1 prints: it stays text, and text is not the number.
      { key: 'width', values: { a: '0.10', b: 0.1 }, differs: true },
    ]);
    expect(diffParams([])).toEqual([]);
  });
});

describe.each(testDrivers())('compareRuns on $name', (driver) => {
  let store: Store;
  let a: Run;
  let b: Run;
  let c: Run;
  beforeAll(async () => {
    store = await driver.open();
    const exp = await store.ensureExperiment({ name: 'cmp' });
    a = await store.createRun({ experimentId: exp.id, name: 'a', params: { lr: 0.1, optimizer: 'sgd', layers: 2 } });
    b = await store.createRun({ experimentId: exp.id, name: 'b', params: { lr: 0.1, optimizer: 'adam' } });
    c = await store.createRun({ experimentId: exp.id, name: 'c' });
    await store.logMetrics(a.id, [
      { key: 'loss', value: 1, step: 0 },
      { key: 'loss', value: 0.5, step: 1 },
      { key: 'acc', value: 0.3, step: 1 },
      { key: 'system/cpu', value: 40, step: 0 },
    ]);
    await store.logMetrics(b.id, [{ key: 'loss', value: 2, step: 0 }]);
    await store.logMetrics(c.id, Array.from({ length: 1000 }, (_, step) => ({ key: 'loss', value: step === 700 ? 100 : 1, step })));
  });
  afterAll(() => driver.cleanup());

  it('gives the runs in the order asked, once each, the series asked that exist, and the param diff', async () => {
    const cmp = await store.compareRuns([b.id, a.id.toUpperCase(), a.id], { keys: ['acc', 'loss', 'missing'] });
    expect(cmp.runs.map((r) => r.name)).toEqual(['b', 'a']);
    expect(cmp.keys).toEqual(['acc', 'loss', 'missing']);
    expect(cmp.moreKeys).toEqual([]);
    expect(cmp.series).toEqual({
      [b.id]: { loss: { steps: [0], values: [2] } },
      [a.id]: { loss: { steps: [0, 1], values: [1, 0.5] }, acc: { steps: [1], values: [0.3] } },
    });
    expect(cmp.paramDiff).toEqual([
      { key: 'layers', values: { [b.id]: null, [a.id]: 2 }, differs: true },
      { key: 'lr', values: { [b.id]: 0.1, [a.id]: 0.1 }, differs: false },
      { key: 'optimizer', values: { [b.id]: 'adam', [a.id]: 'sgd' }, differs: true },
    ]);
  });

  it('reads no series without keys, and downsamples to maxPoints keeping the spike', async () => {
    const none = await store.compareRuns([a.id, c.id]);
    expect(none.series).toEqual({ [a.id]: {}, [c.id]: {} });
    expect(none.keys).toEqual([]);
    const few = await store.compareRuns([c.id], { keys: ['loss'], maxPoints: 50 });
    expect(few.series[c.id]!.loss!.steps.length).toBeLessThanOrEqual(50);
    expect(few.series[c.id]!.loss!.values).toContain(100);
  });

  it("with 'all', fills the request in the given order and names the keys that did not fit", async () => {
    const all = await store.compareRuns([a.id, b.id], { keys: 'all' });
    expect(all.keys).toEqual(['acc', 'loss', 'system/cpu']);
    const systemLast = (keys: readonly string[]) => [...keys].sort((x, y) => Number(x.startsWith('system/')) - Number(y.startsWith('system/')) || x.localeCompare(y));
    // Two runs and at most 5 series: two keys fit.
    const capped = await store.compareRuns([a.id, b.id], { keys: 'all', maxSeries: 5, order: systemLast });
    expect([capped.keys, capped.moreKeys]).toEqual([['acc', 'loss'], ['system/cpu']]);
    const oneKey = await store.compareRuns([a.id], { keys: 'all', maxKeys: 1, order: systemLast });
    expect([oneKey.keys, oneKey.moreKeys]).toEqual([['acc'], ['loss', 'system/cpu']]);
    expect(Object.keys(oneKey.series[a.id]!)).toEqual(['acc']);
  });

  it('refuses what it cannot compare: no such run, too many series, bad ids', async () => {
    const missing = await errorOf(store.compareRuns([a.id, '0190aaaa-0000-7000-8000-000000000000']));
    expect([missing.code, missing.message]).toEqual(['NOT_FOUND', "run '0190aaaa-0000-7000-8000-000000000000' not found"]);
    const tooMany = await errorOf(store.compareRuns([a.id, b.id], { keys: ['x', 'y', 'z'], maxSeries: 5 }));
    expect([tooMany.code, tooMany.message]).toEqual(['INVALID_INPUT', '2 runs × 3 metrics is more than 5 series; compare fewer']);
    expect((await errorOf(store.compareRuns([]))).code).toBe('INVALID_INPUT');
    expect((await errorOf(store.compareRuns(['not-a-uuid']))).code).toBe('INVALID_INPUT');
  });
});
