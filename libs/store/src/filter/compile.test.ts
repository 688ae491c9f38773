import { randomUUID } from 'node:crypto';
import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import { RUN_STATUSES, ValidationError } from '@cairn/schema';
import { MIGRATIONS_DIR } from '@cairn/schema/migrations';
import { sql, type SQL } from 'drizzle-orm';
import { PgDialect } from 'drizzle-orm/pg-core';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { filterArbitrary, trickyKey, trickyString } from './arbitrary.ts';
import type { FieldRef, FilterExpr } from './ast.ts';
import { compileFilter, compileSortKey } from './compile.ts';
import { compareCodePoints, evaluateFilter, type FilterRow, type MetricValues } from './evaluate.ts';
import { paramValueNum } from './numeric.ts';
import { parseFilter } from './parser.ts';

const dialect = new PgDialect();
const render = (chunk: SQL) => dialect.sqlToQuery(chunk);
const compileText = (text: string) => render(compileFilter(parseFilter(text)!));

describe('compileFilter', () => {
  it('compiles params to EXISTS over value_num for numbers and value for strings', () => {
    const num = compileText('params.lr < 0.01');
    expect(num.sql).toBe(
      'EXISTS (SELECT 1 FROM params p WHERE p.run_id = "runs"."id" AND p.key = $1::text AND p.value_num < $2::float8)',
    );
    expect(num.params).toEqual(['lr', 0.01]);
    expect(compileText("params.opt = 'adam'").sql).toContain('p.value = $2::text');
    // Ordering text is by code point on every server.
    expect(compileText("params.opt >= 'a'").sql).toContain('p.value COLLATE "C" >= $2::text');
  });

  it('splits IN lists by kind', () => {
    expect(compileText('params.d IN (1, 2)').sql).toContain('p.value_num IN ($2::float8, $3::float8)');
    expect(compileText("params.d IN ('a')").sql).toContain('p.value IN ($2::text)');
    expect(compileText("params.d IN (1, 'a')").sql).toContain('(p.value_num IN ($2::float8) OR p.value IN ($3::text))');
    expect(compileText("params.d NOT IN (1, 'a')").sql).toContain('(p.value_num NOT IN ($2::float8) AND p.value NOT IN ($3::text))');
  });

  it('reads metric summaries, keeping NaN out of comparisons', () => {
    expect(compileText('metrics.acc > 0.9').sql).toBe(
      "EXISTS (SELECT 1 FROM metric_summaries ms WHERE ms.run_id = \"runs\".\"id\" AND ms.key = $1::text AND (ms.last <> 'NaN'::float8 AND ms.last > $2::float8))",
    );
    expect(compileText('metrics.loss.min <= 1').sql).toContain("ms.min <> 'NaN'::float8 AND ms.min <= $2::float8");
    expect(compileText('metrics.loss.count = 3').sql).toContain('AND (ms.count = $2::float8))');
  });

  it('folds predicates on the same field into one EXISTS, and keeps other fields apart', () => {
    const range = compileText('metrics.acc >= 0.8 AND metrics.acc < 0.9 AND params.o = 1').sql;
    expect(range.match(/FROM metric_summaries/g)).toHaveLength(1);
    expect(range.match(/FROM params/g)).toHaveLength(1);
    const either = compileText("params.opt = 'adam' OR params.opt = 'sgd' OR tags.t = 'x'").sql;
    expect(either.match(/FROM params/g)).toHaveLength(1);
    expect(either).toContain('(p.value = $2::text OR p.value = $3::text)');
    // Different keys of one table are different rows: never folded.
    expect(compileText('params.a = 1 AND params.b = 2').sql.match(/FROM params/g)).toHaveLength(2);
  });

  it('turns IS NULL into NOT EXISTS', () => {
    expect(compileText('tags.team IS NULL').sql).toBe(
      '(NOT EXISTS (SELECT 1 FROM run_tags t WHERE t.run_id = "runs"."id" AND t.key = $1::text))',
    );
    expect(compileText('metrics.loss.max IS NOT NULL').sql).toBe(
      'EXISTS (SELECT 1 FROM metric_summaries ms WHERE ms.run_id = "runs"."id" AND ms.key = $1::text AND ms.max IS NOT NULL)',
    );
  });

  it('maps attributes to runs columns, guarding nullable ones', () => {
    expect(compileText("status IN ('failed', 'cancelled')").sql).toBe('"runs"."status" IN ($1::text, $2::text)');
    expect(compileText("tier = 'gpu'").sql).toBe('("runs"."tier" IS NOT NULL AND "runs"."tier" = $1::text)');
    expect(compileText("created >= '2026-01-01'")).toMatchObject({
      sql: '"runs"."created_at" >= $1::timestamptz',
      params: ['2026-01-01T00:00:00.000Z'],
    });
    expect(compileText("id LIKE '0f3a%'").sql).toBe('"runs"."id"::text LIKE $1::text');
    expect(compileText('ended IS NULL').sql).toBe('"runs"."ended_at" IS NULL');
  });

  it('reads gate verdicts from gate_results (the pipeline\'s table), never from tags', () => {
    expect(compileText("gate.ci = 'passed'")).toMatchObject({
      sql: 'EXISTS (SELECT 1 FROM gate_results g WHERE g.run_id = "runs"."id" AND g.tier = $1::text AND g.passed = $2::boolean)',
      params: ['ci', true],
    });
    expect(compileText("gate.extended != 'Failed'").params).toEqual(['extended', false]);
    expect(compileText("gate.extended != 'failed'").sql).toContain('g.passed <> $2::boolean');
    expect(compileText("gate.`my tier` NOT IN ('passed', 'failed')")).toMatchObject({ sql: expect.stringContaining('g.passed NOT IN ($2::boolean, $3::boolean)'), params: ['my tier', true, false] });
    expect(compileText('gate.nightly IS NULL').sql).toBe('(NOT EXISTS (SELECT 1 FROM gate_results g WHERE g.run_id = "runs"."id" AND g.tier = $1::text))');
    // Two tests of one tier fold into one probe.
    expect(compileText("gate.ci = 'passed' OR gate.ci = 'failed'").sql.match(/FROM gate_results/g)).toHaveLength(1);
    expect(compileText("tags.gate = 'passed'").sql).toContain('FROM run_tags');
  });

  it('keeps boolean structure', () => {
    expect(compileText("not (status = 'failed' or params.a = 1) and tier is null").sql).toBe(
      '((NOT ("runs"."status" = $1::text OR EXISTS (SELECT 1 FROM params p WHERE p.run_id = "runs"."id" AND p.key = $2::text AND p.value_num = $3::float8))) AND "runs"."tier" IS NULL)',
    );
    expect(render(compileFilter({ type: 'and', items: [] })).sql).toBe('TRUE');
    expect(render(compileFilter({ type: 'or', items: [] })).sql).toBe('FALSE');
  });

  it('never puts user text into the SQL, only into params', () => {
    const evil = [
      "x'; DROP TABLE runs; --",
      "') OR 1=1 --",
      '"runs"."id" OR TRUE --',
      "$1 OR 'a'='a'",
      "\\'; SELECT pg_sleep(10); --",
      'p.value_num IS NULL OR p.key',
      '*/ OR TRUE /*',
    ];
    for (const v of evil) {
      const ast: FilterExpr = {
        type: 'or',
        items: [
          { type: 'compare', field: { kind: 'param', key: v }, op: '=', value: v },
          { type: 'compare', field: { kind: 'tag', key: v }, op: '<', value: v },
          { type: 'in', field: { kind: 'param', key: v }, values: [v, 1], negated: true },
          { type: 'like', field: { kind: 'attribute', name: 'name' }, pattern: v.replace(/\\$/, ''), caseInsensitive: true, negated: false },
          { type: 'compare', field: { kind: 'metric', key: v, agg: 'max' }, op: '>', value: 1 },
          { type: 'isNull', field: { kind: 'tag', key: v }, negated: false },
          { type: 'compare', field: { kind: 'attribute', name: 'experiment' }, op: '=', value: v },
          { type: 'in', field: { kind: 'gate', tier: v }, values: ['passed'], negated: false },
        ],
      };
      const q = render(compileFilter(ast));
      expect(q.sql).not.toContain(v);
      expect(q.params.filter((p) => p === v).length).toBeGreaterThanOrEqual(6);
      // The same through the text syntax.
      const text = `params.\`${v.replaceAll('`', '``')}\` = '${v.replaceAll("'", "''").replaceAll('\\', '\\\\')}'`;
      const parsed = render(compileFilter(parseFilter(text)!));
      expect(parsed.sql).not.toContain(v);
      expect(parsed.params).toEqual([v, v]);
    }
  });

  it('never puts user text into the SQL (property)', () => {
    // Every user string carries markers that cannot occur in the SQL this module writes.
    const mark = (s: string) => `⟦${s}⟧`;
    const arb = filterArbitrary({ paramKey: trickyKey.map(mark), metricKey: trickyKey.map(mark), tagKey: trickyKey.map(mark), gateTier: trickyKey.map(mark), string: trickyString.map(mark) });
    fc.assert(
      fc.property(arb, (ast) => {
        const q = render(compileFilter(ast));
        expect(q.sql).not.toMatch(/[⟦⟧]/);
        for (const key of collectKeys(ast)) expect(q.params).toContain(key);
        for (const key of collectKeys(ast)) for (const k of [...compileSortKey(fieldOf(key)), ...compileSortKey({ kind: 'gate', tier: key })]) expect(render(k.expr).sql).not.toMatch(/[⟦⟧]/);
      }),
      { numRuns: 500 },
    );
  });

  it('refuses ASTs the parser would not produce', () => {
    const bad: unknown[] = [
      { type: 'compare', field: { kind: 'metric', key: 'acc', agg: 'last' }, op: '>', value: 'x' },
      { type: 'compare', field: { kind: 'param', key: 'a' }, op: '; DROP', value: 1 },
      { type: 'compare', field: { kind: 'param', key: '' }, op: '=', value: 1 },
      { type: 'compare', field: { kind: 'param', key: 'a' }, op: '=', value: Number.NaN },
      { type: 'compare', field: { kind: 'attribute', name: 'status' }, op: '=', value: 'done' },
      { type: 'compare', field: { kind: 'attribute', name: 'created' }, op: '=', value: '2026-01-01' },
      { type: 'compare', field: { kind: 'attribute', name: 'color' }, op: '=', value: 'x' },
      { type: 'in', field: { kind: 'param', key: 'a' }, values: [], negated: false },
      { type: 'like', field: { kind: 'metric', key: 'a', agg: 'max' }, pattern: 'x', caseInsensitive: false, negated: false },
      { type: 'like', field: { kind: 'param', key: 'a' }, pattern: 'x\\', caseInsensitive: false, negated: false },
      { type: 'isNull', field: { kind: 'attribute', name: 'name' }, negated: false },
      { type: 'compare', field: { kind: 'gate', tier: 'ci' }, op: '=', value: 'true' },
      { type: 'compare', field: { kind: 'gate', tier: 'ci' }, op: '<', value: 'passed' },
      { type: 'like', field: { kind: 'gate', tier: 'ci' }, pattern: 'pass%', caseInsensitive: false, negated: false },
      { type: 'compare', field: { kind: 'gate', tier: '' }, op: '=', value: 'passed' },
      { type: 'xor', items: [] },
    ];
    for (const ast of bad) expect(() => compileFilter(ast as FilterExpr), JSON.stringify(ast)).toThrow(ValidationError);
  });
});

describe('compileSortKey', () => {
  it('sorts params by number, then text', () => {
    const keys = compileSortKey({ kind: 'param', key: 'lr' });
    expect(keys.map((k) => [render(k.expr).sql, k.type])).toEqual([
      ['(SELECT p.value_num FROM params p WHERE p.run_id = "runs"."id" AND p.key = $1::text)', 'number'],
      ['(SELECT p.value COLLATE "C" FROM params p WHERE p.run_id = "runs"."id" AND p.key = $1::text)', 'text'],
    ]);
  });

  it('gives one key for metrics, tags and attributes', () => {
    const one = (field: FieldRef) => compileSortKey(field).map((k) => [render(k.expr).sql, k.type]);
    expect(one({ kind: 'metric', key: 'acc', agg: 'max' })).toEqual([
      [`(SELECT NULLIF(ms.max, 'NaN'::float8) FROM metric_summaries ms WHERE ms.run_id = "runs"."id" AND ms.key = $1::text)`, 'number'],
    ]);
    expect(one({ kind: 'metric', key: 'acc', agg: 'count' })[0]![0]).toContain('SELECT ms.count::float8 FROM');
    expect(one({ kind: 'attribute', name: 'created' })).toEqual([['"runs"."created_at"', 'timestamp']]);
    expect(one({ kind: 'attribute', name: 'name' })).toEqual([['"runs"."name" COLLATE "C"', 'text']]);
  });
});

function collectKeys(e: FilterExpr): string[] {
  if (e.type === 'and' || e.type === 'or') return e.items.flatMap(collectKeys);
  if (e.type === 'not') return collectKeys(e.item);
  return e.field.kind === 'attribute' ? [] : [e.field.kind === 'gate' ? e.field.tier : e.field.key];
}
const fieldOf = (key: string): FieldRef => ({ kind: 'param', key });

/**
 * The compiled SQL against a real database (PGlite), compared with
 * evaluateFilter on the same runs: the two must select exactly the same runs.
 */
describe('compiled SQL on PGlite agrees with evaluateFilter', () => {
  let pg: PGlite;
  const rows: (FilterRow & { id: string })[] = [];

  const PARAM_KEYS = ['lr', 'opt', 'model.depth', 'flag'];
  const PARAM_VALUES = ['0.1', '1', '1.0', '-3', '1e-3', '10', '9', 'abc', 'Adam', 'adam', 'true', '', ' 1', "it's"];
  const METRIC_KEYS = ['acc', 'loss', 'val acc'];
  const METRIC_NUMBERS = [0, 0.5, 0.9, 1, -1, 3, 10, Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY];
  const TAG_KEYS = ['team', 'stage'];
  const TAG_VALUES = ['vision', 'Vision', 'nlp', 'prod', '', 'a_b', 'a%b'];
  const NAMES = ['bert-base', 'bert_large', 'GPT-2', 'gpt-neo', 'a%b', 'x\\y', 'Zeta', 'émile'];
  const TIERS = [null, 'small', 'large', 'XL'];
  const GATE_TIERS = ['ci', 'extended'];
  const DATES = ['2025-06-01T00:00:00.000Z', '2026-01-01T00:00:00.000Z', '2026-01-01T12:30:00.250Z', '2026-03-15T08:00:00.000Z'];

  beforeAll(async () => {
    pg = new PGlite();
    for (const file of readdirSync(MIGRATIONS_DIR).filter((f) => f.endsWith('.sql')).sort()) {
      const migration = readFileSync(path.join(MIGRATIONS_DIR, file), 'utf8');
      for (const statement of migration.split('--> statement-breakpoint')) if (statement.trim()) await pg.exec(statement);
    }
    const projectId = randomUUID();
    const experimentId = randomUUID();
    await pg.query('INSERT INTO projects (id, name) VALUES ($1, $2)', [projectId, 'p']);
    await pg.query('INSERT INTO experiments (id, project_id, name) VALUES ($1, $2, $3)', [experimentId, projectId, 'e']);

    const pick = <T>(xs: readonly T[]) => fc.constantFrom(...xs);
    const subset = <T>(keys: string[], value: fc.Arbitrary<T>) =>
      fc.dictionary(pick(keys), value, { maxKeys: keys.length }) as fc.Arbitrary<Record<string, T>>;
    const metricValues: fc.Arbitrary<MetricValues> = fc.record({
      last: pick(METRIC_NUMBERS),
      min: fc.option(pick(METRIC_NUMBERS.filter((n) => !Number.isNaN(n)))),
      max: fc.option(pick(METRIC_NUMBERS.filter((n) => !Number.isNaN(n)))),
      count: fc.integer({ min: 1, max: 12 }),
    });
    const date = pick(DATES).map((d) => new Date(d));
    const runArb = fc.record({
      status: pick(RUN_STATUSES),
      tier: pick(TIERS),
      name: pick(NAMES),
      created: date,
      started: fc.option(date),
      ended: fc.option(date),
      params: subset(PARAM_KEYS, pick(PARAM_VALUES)),
      metrics: subset(METRIC_KEYS, metricValues),
      tags: subset(TAG_KEYS, pick(TAG_VALUES)),
      gates: subset(GATE_TIERS, pick(['passed', 'failed'] as const)),
    });
    for (const r of fc.sample(runArb, { numRuns: 80, seed: 42 })) {
      const row = { ...r, id: randomUUID(), experimentId };
      rows.push(row);
      await pg.query(
        'INSERT INTO runs (id, experiment_id, name, status, tier, created_at, started_at, ended_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)',
        [row.id, experimentId, row.name, row.status, row.tier, row.created.toISOString(), row.started?.toISOString() ?? null, row.ended?.toISOString() ?? null],
      );
      for (const [key, value] of Object.entries(row.params)) {
        await pg.query('INSERT INTO params (run_id, key, value, value_num) VALUES ($1, $2, $3, $4)', [row.id, key, value, paramValueNum(value)]);
      }
      for (const [key, m] of Object.entries(row.metrics)) {
        // float8 input accepts 'NaN' and '±Infinity' as text.
        const f = (n: number | null) => (n === null ? null : String(n));
        await pg.query(
          'INSERT INTO metric_summaries (run_id, key, last, last_step, last_wall_ms, min, max, count) VALUES ($1, $2, $3, 0, 0, $4, $5, $6)',
          [row.id, key, f(m.last), f(m.min), f(m.max), m.count],
        );
      }
      for (const [key, value] of Object.entries(row.tags)) {
        await pg.query('INSERT INTO run_tags (run_id, key, value) VALUES ($1, $2, $3)', [row.id, key, value]);
      }
      for (const [tier, verdict] of Object.entries(row.gates)) {
        await pg.query('INSERT INTO gate_results (run_id, tier, passed, expression) VALUES ($1, $2, $3, $4)', [row.id, tier, verdict === 'passed', "status = 'finished'"]);
      }
    }
  }, 60_000);

  afterAll(async () => {
    await pg?.close();
  });

  async function selectIds(where: SQL): Promise<string[]> {
    const q = render(sql`SELECT "runs"."id" AS id FROM runs WHERE ${where} ORDER BY "runs"."id"`);
    const result = await pg.query<{ id: string }>(q.sql, q.params);
    return result.rows.map((r) => r.id);
  }

  const expected = (ast: FilterExpr) => rows.filter((r) => evaluateFilter(ast, r)).map((r) => r.id).sort();

  it('on hand-picked filters', async () => {
    const cases: [string, number?][] = [
      ['params.lr = 1'],
      ["params.lr = '1'"],
      ['params.lr != 1'],
      ["params.opt IN (1, 'adam')"],
      ["params.opt NOT IN (1, 'adam')"],
      ["params.opt < 'b'"],
      ['NOT params.lr > 0'],
      ['params.lr IS NULL'],
      ['metrics.acc > 0.5'],
      ['metrics.acc != 1'],
      ['NOT metrics.acc = 1'],
      ['metrics.acc.min IS NULL'],
      ['metrics.`val acc`.max >= 1 OR metrics.loss.count > 3'],
      ["tags.team ILIKE 'vision'"],
      ["tags.team NOT LIKE '%i%'"],
      ["tags.team LIKE 'a\\_b'"],
      ["name LIKE 'bert%' OR name ILIKE 'gpt%'"],
      ["tier != 'small'"],
      ["NOT tier = 'small'"],
      ["status IN ('finished', 'failed') AND created >= '2026-01-01'"],
      ["started > '2026-01-01T12:00:00Z'"],
      ["NOT ended <= '2026-01-01'"],
      ["gate.ci = 'passed'"],
      ["gate.ci != 'passed'"],
      ["NOT gate.ci = 'passed'"],
      ["gate.extended IN ('failed') AND gate.ci IS NOT NULL"],
      ['gate.nightly IS NULL'],
    ];
    for (const [text] of cases) {
      const ast = parseFilter(text)!;
      expect(await selectIds(compileFilter(ast)), text).toEqual(expected(ast));
    }
    // The cases are not vacuous.
    expect(expected(parseFilter('params.lr = 1')!).length).toBeGreaterThan(0);
    for (const text of ["gate.ci = 'passed'", "gate.ci = 'failed'", 'gate.ci IS NULL']) expect(expected(parseFilter(text)!).length, text).toBeGreaterThan(0);
  });

  it('on random filters', async () => {
    const arb = filterArbitrary({
      paramKey: fc.constantFrom(...PARAM_KEYS, 'missing'),
      metricKey: fc.constantFrom(...METRIC_KEYS),
      tagKey: fc.constantFrom(...TAG_KEYS, 'missing'),
      gateTier: fc.constantFrom(...GATE_TIERS, 'weekly'),
      number: fc.constantFrom(0, 0.1, 0.5, 0.9, 1, -1, -3, 0.001, 3, 9, 10),
      string: fc.constantFrom(...PARAM_VALUES, ...TAG_VALUES, ...NAMES, 'small', 'XL', 'zzz', 'A'),
      pattern: fc.constantFrom('%', '', 'a%', '%a%', 'bert%', '_ert%', '%\\_%', 'A%', '%1%', 'gpt%', '%i%', 'a\\%b', '_'),
      timestamp: fc.constantFrom(...DATES, '2026-01-01T12:30:00.249Z', '2026-01-01T12:30:00.251Z'),
      maxDepth: 3,
    });
    const asts = fc.sample(arb, { numRuns: 400, seed: 7 });
    let nonTrivial = 0;
    for (const ast of asts) {
      const want = expected(ast);
      if (want.length > 0 && want.length < rows.length) nonTrivial++;
      expect(await selectIds(compileFilter(ast)), JSON.stringify(ast)).toEqual(want);
    }
    expect(nonTrivial).toBeGreaterThan(100);
  }, 60_000);

  it('sorts by compileSortKey as documented', async () => {
    const order = async (field: FieldRef, dir: 'ASC' | 'DESC') => {
      const keys = compileSortKey(field).map((k) => sql`${k.expr} ${sql.raw(dir)} NULLS LAST`);
      const q = render(sql`SELECT "runs"."id" AS id FROM runs ORDER BY ${sql.join(keys, sql`, `)}, "runs"."id"`);
      return (await pg.query<{ id: string }>(q.sql, q.params)).rows.map((r) => r.id);
    };
    // Documented order for a param: numeric values numerically, then the rest by code point; missing last.
    const byParam = (key: string, dir: 1 | -1) => (a: FilterRow & { id: string }, b: FilterRow & { id: string }) => {
      const va = Object.hasOwn(a.params, key) ? a.params[key]! : null;
      const vb = Object.hasOwn(b.params, key) ? b.params[key]! : null;
      const na = va === null ? null : paramValueNum(va);
      const nb = vb === null ? null : paramValueNum(vb);
      const nulls = (x: unknown, y: unknown) => (x === null ? (y === null ? 0 : 1) : y === null ? -1 : null);
      const c1 = nulls(na, nb) ?? dir * (na! - nb!);
      if (c1 !== 0) return c1;
      const c2 = nulls(va, vb) ?? dir * compareCodePoints(va!, vb!);
      return c2 !== 0 ? c2 : a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
    };
    for (const key of ['lr', 'opt']) {
      expect(await order({ kind: 'param', key }, 'ASC')).toEqual([...rows].sort(byParam(key, 1)).map((r) => r.id));
      expect(await order({ kind: 'param', key }, 'DESC')).toEqual([...rows].sort(byParam(key, -1)).map((r) => r.id));
    }
    // Metrics: NaN sorts with the missing values, after every number in both directions.
    const byMetric = (dir: 1 | -1) => (a: FilterRow & { id: string }, b: FilterRow & { id: string }) => {
      const v = (r: FilterRow) => {
        const x = Object.hasOwn(r.metrics, 'acc') ? r.metrics.acc!.last : null;
        return x === null || Number.isNaN(x) ? null : x;
      };
      const [x, y] = [v(a), v(b)];
      const c = x === null ? (y === null ? 0 : 1) : y === null ? -1 : x === y ? 0 : dir * (x < y ? -1 : 1);
      return c !== 0 ? c : a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
    };
    expect(await order({ kind: 'metric', key: 'acc', agg: 'last' }, 'DESC')).toEqual([...rows].sort(byMetric(-1)).map((r) => r.id));
    expect(await order({ kind: 'metric', key: 'acc', agg: 'last' }, 'ASC')).toEqual([...rows].sort(byMetric(1)).map((r) => r.id));
    // Gate verdicts: 'failed' before 'passed' ascending, runs without one last.
    const rank = (r: FilterRow) => (r.gates?.ci === 'failed' ? 0 : r.gates?.ci === 'passed' ? 1 : 2);
    const byGate = (a: FilterRow & { id: string }, b: FilterRow & { id: string }) => rank(a) - rank(b) || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
    expect(await order({ kind: 'gate', tier: 'ci' }, 'ASC')).toEqual([...rows].sort(byGate).map((r) => r.id));
  });
});
