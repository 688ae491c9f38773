import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CairnError, FilterSyntaxError } from '@cairn/schema';
import { evaluateFilter, filterRowFromRun, parseFilter } from './filter/index.ts';
import { testDrivers } from './testing.ts';
import type { RunDetail, Store } from './types.ts';

const OPTIMIZERS = ['adam', 'sgd', 'rmsprop'];
const STATUSES = ['finished', 'failed', 'abandoned', 'cancelled'] as const;

describe.each(testDrivers())('searchRuns on $name', (driver) => {
  let store: Store;
  let all: RunDetail[];
  let vision: string;

  beforeAll(async () => {
    store = await driver.open();
    const a = await store.ensureExperiment({ name: 'search-a' });
    const b = await store.ensureExperiment({ name: 'search-b' });
    const archived = await store.ensureExperiment({ name: 'search-archived' });
    vision = a.id;
    for (let i = 0; i < 60; i++) {
      const exp = i % 3 === 0 ? b : a;
      const run = await store.createRun({
        experimentId: exp.id,
        name: `run-${String(i).padStart(2, '0')}`,
        tier: i % 4 === 0 ? null : ['ci', 'extended', 'nightly'][i % 3]!,
        params: { optimizer: OPTIMIZERS[i % 3]!, lr: (i % 7) / 100, layers: (i % 5) + 1, ...(i % 10 === 0 ? { note: 'special' } : {}) },
        tags: i % 2 ? { team: 'vision' } : { team: 'nlp' },
      });
      // Some runs never log accuracy; one diverges to NaN; ties on purpose (i % 13).
      if (i % 9 !== 0) {
        const acc = i === 17 ? Number.NaN : (i % 13) / 13;
        await store.logMetrics(run.id, [
          { key: 'acc', value: acc / 2, step: 0 },
          { key: 'acc', value: acc, step: 1 },
          { key: 'loss', value: 1 - (i % 11) / 11, step: 1 },
        ]);
      }
      if (i % 6 !== 5) await store.endRun(run.id, STATUSES[i % 4]!, i % 4 === 1 ? 'OOM at epoch 3' : null);
    }
    const hidden = await store.createRun({ experimentId: archived.id, name: 'hidden', params: { optimizer: 'adam' } });
    await store.updateExperiment(archived.id, { archived: true });
    expect(hidden.id).toBeTruthy();
    all = [];
    let cursor: string | null = null;
    do {
      const page: Awaited<ReturnType<Store['searchRuns']>> = await store.searchRuns({ limit: 1000, cursor });
      all.push(...page.runs);
      cursor = page.nextCursor;
    } while (cursor);
  });
  afterAll(() => driver.cleanup());

  it('lists every run of unarchived experiments, newest first by default', async () => {
    expect(all).toHaveLength(60);
    expect(all.some((r) => r.name === 'hidden')).toBe(false);
    const created = all.map((r) => r.createdAt.getTime());
    expect([...created].sort((x, y) => y - x)).toEqual(created);
    const withArchived = await store.searchRuns({ includeArchived: true, limit: 1000 });
    expect(withArchived.runs.some((r) => r.name === 'hidden')).toBe(true);
  });

  it.each([
    "params.optimizer = 'adam' OR params.optimizer = 'sgd'",
    "(params.optimizer = 'adam' OR tags.team = 'vision') AND metrics.acc >= 0.3 AND metrics.acc < 0.8",
    "NOT status = 'failed' AND params.layers IN (2, 4)",
    'metrics.acc.max > 0.5 OR metrics.loss.min <= 0.2',
    'metrics.acc IS NULL',
    "params.note IS NOT NULL OR name LIKE 'run-1%'",
    "tier != 'ci' AND NOT (status IN ('finished', 'cancelled'))",
    'params.lr < 0.03 AND params.lr >= 0.01',
    "tags.team ILIKE 'VIS%' AND metrics.acc.count = 2",
    "created >= '2000-01-01' AND status = 'running'",
  ])('filters like the in-memory evaluator: %s', async (filter) => {
    const ast = parseFilter(filter);
    const expected = all.filter((r) => evaluateFilter(ast, filterRowFromRun(r))).map((r) => r.id);
    const got = await store.searchRuns({ filter, limit: 1000 });
    expect(got.runs.map((r) => r.id)).toEqual(expected);
    expect(expected.length).toBeGreaterThan(0);
  });

  it('scopes to experiments by id or name', async () => {
    const byId = await store.searchRuns({ experimentIds: [vision], limit: 1000 });
    const byName = await store.searchRuns({ experimentIds: ['search-a'], limit: 1000 });
    expect(byId.runs).toHaveLength(40);
    expect(byName.runs.map((r) => r.id)).toEqual(byId.runs.map((r) => r.id));
    expect(((await store.searchRuns({ experimentIds: ['nope'] }).catch((e) => e)) as CairnError).code).toBe('NOT_FOUND');
  });

  it.each([
    [['metrics.acc desc']],
    [['metrics.acc asc']],
    [['params.lr asc', 'name desc']],
    [['params.optimizer desc', 'metrics.loss.min asc']],
    [['status', 'created desc']],
    [['tier desc']],
    [['name']],
  ])('pages through %j with cursors: every run once, in order', async (orderBy) => {
    const seen: RunDetail[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const page: Awaited<ReturnType<Store['searchRuns']>> = await store.searchRuns({ orderBy, limit: 7, cursor });
      expect(page.runs.length).toBeLessThanOrEqual(7);
      seen.push(...page.runs);
      cursor = page.nextCursor;
      pages++;
    } while (cursor && pages < 50);
    expect(seen.map((r) => r.id).sort()).toEqual(all.map((r) => r.id).sort());
    const full = await store.searchRuns({ orderBy, limit: 1000 });
    expect(seen.map((r) => r.id)).toEqual(full.runs.map((r) => r.id));
  });

  it.each([
    ['metrics.acc >= 0.3 AND metrics.acc < 0.8', 'metrics.acc desc'],
    ["metrics.acc > 0.5 OR params.optimizer = 'sgd'", 'metrics.acc asc'],
    ['metrics.acc.max <= 0.9 AND metrics.acc.max > 0.2', 'metrics.acc.max desc'],
    ["NOT metrics.acc > 0.5 AND tags.team = 'nlp'", 'metrics.acc desc'],
  ])('filters %s sorted by %s like an in-memory sort, across pages', async (filter, orderBy) => {
    const ast = parseFilter(filter);
    const [field, dir] = orderBy.split(' ') as [string, 'asc' | 'desc'];
    const agg = field.endsWith('.max') ? 'max' : 'last';
    const value = (r: RunDetail) => {
      const v = r.metrics.acc?.[agg];
      return v === undefined || v === null || Number.isNaN(v) ? null : v;
    };
    const expected = all
      .filter((r) => evaluateFilter(ast, filterRowFromRun(r)))
      .sort((a, b) => {
        const va = value(a);
        const vb = value(b);
        if (va !== vb) {
          if (va === null) return 1;
          if (vb === null) return -1;
          return dir === 'asc' ? va - vb : vb - va;
        }
        // Ties break by id in the sort's direction.
        return dir === 'asc' ? (a.id < b.id ? -1 : 1) : a.id < b.id ? 1 : -1;
      })
      .map((r) => r.id);
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const page: Awaited<ReturnType<Store['searchRuns']>> = await store.searchRuns({ filter, orderBy: [orderBy], limit: 4, cursor });
      seen.push(...page.runs.map((r) => r.id));
      cursor = page.nextCursor;
    } while (cursor);
    expect(seen).toEqual(expected);
    expect(expected.length).toBeGreaterThan(3);
  });

  it('sorts by a metric with missing and NaN values last', async () => {
    const { runs } = await store.searchRuns({ orderBy: ['metrics.acc desc'], limit: 1000 });
    const values = runs.map((r) => r.metrics.acc?.last);
    const firstMissing = values.findIndex((v) => v === undefined || Number.isNaN(v));
    const present = values.slice(0, firstMissing) as number[];
    expect(present.length).toBeGreaterThan(30);
    expect([...present].sort((x, y) => y - x)).toEqual(present);
    expect(values.slice(firstMissing).every((v) => v === undefined || Number.isNaN(v))).toBe(true);
  });

  it('points at the column of a malformed filter, and rejects bad cursors and limits', async () => {
    const err = (await store.searchRuns({ filter: "metrics.acc > 0.5 AND (params.x = 'y'" }).catch((e) => e)) as FilterSyntaxError;
    expect(err).toBeInstanceOf(FilterSyntaxError);
    expect(err.code).toBe('FILTER_SYNTAX');
    expect(err.column).toBeGreaterThan(20);
    const bad = (await store.searchRuns({ cursor: 'not-a-cursor' }).catch((e) => e)) as CairnError;
    expect(bad.code).toBe('INVALID_INPUT');
    const page = await store.searchRuns({ limit: 5 });
    const wrongSort = (await store.searchRuns({ cursor: page.nextCursor, orderBy: ['params.lr', 'name'] }).catch((e) => e)) as CairnError;
    expect(wrongSort.code).toBe('INVALID_INPUT');
    expect(((await store.searchRuns({ limit: 0 }).catch((e) => e)) as CairnError).code).toBe('INVALID_INPUT');
  });

  it('never lets filter text into the SQL: a hostile value is only data', async () => {
    const { runs } = await store.searchRuns({ filter: "params.optimizer = 'adam''; DROP TABLE runs; --'" });
    expect(runs).toEqual([]);
    expect((await store.searchRuns({ limit: 1 })).runs).toHaveLength(1);
  });
});
