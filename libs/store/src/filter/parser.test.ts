import { FilterSyntaxError } from '@cairn/schema';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { FieldRef, FilterExpr } from './ast.ts';
import { parseOrderBy } from './order-by.ts';
import { MAX_DEPTH, parseFilter } from './parser.ts';

const metric = (key: string, agg: 'last' | 'min' | 'max' | 'count' = 'last'): FieldRef => ({ kind: 'metric', key, agg });
const param = (key: string): FieldRef => ({ kind: 'param', key });
const tag = (key: string): FieldRef => ({ kind: 'tag', key });
const attr = (name: Extract<FieldRef, { kind: 'attribute' }>['name']): FieldRef => ({ kind: 'attribute', name });

/** The error a filter raises, for asserting on detail and column. */
function errorOf(text: string): FilterSyntaxError {
  try {
    parseFilter(text);
  } catch (e) {
    if (e instanceof FilterSyntaxError) return e;
    throw e;
  }
  throw new Error(`expected '${text}' to fail`);
}

describe('parseFilter', () => {
  it('treats blank input as no filter', () => {
    expect(parseFilter('')).toBeNull();
    expect(parseFilter('  \n\t ')).toBeNull();
  });

  it('parses comparisons on every kind of field', () => {
    expect(parseFilter('metrics.acc > 0.9')).toEqual({ type: 'compare', field: metric('acc'), op: '>', value: 0.9 });
    expect(parseFilter("params.optimizer = 'adam'")).toEqual({ type: 'compare', field: param('optimizer'), op: '=', value: 'adam' });
    expect(parseFilter('tags.team != "vision"')).toEqual({ type: 'compare', field: tag('team'), op: '!=', value: 'vision' });
    expect(parseFilter("status <> 'failed'")).toEqual({ type: 'compare', field: attr('status'), op: '!=', value: 'failed' });
    expect(parseFilter('params.lr <= -1.5e-3')).toEqual({ type: 'compare', field: param('lr'), op: '<=', value: -0.0015 });
    expect(parseFilter('params.flag = TRUE')).toEqual({ type: 'compare', field: param('flag'), op: '=', value: 'true' });
  });

  it('reads metric aggregates and keys with punctuation', () => {
    expect(parseFilter('metrics.loss.min < 1')).toMatchObject({ field: metric('loss', 'min') });
    expect(parseFilter('metrics.loss.last < 1')).toMatchObject({ field: metric('loss', 'last') });
    expect(parseFilter('metrics.train/loss-avg:1.count >= 10')).toMatchObject({ field: metric('train/loss-avg:1', 'count') });
    // A trailing segment that is not an aggregate is part of the key.
    expect(parseFilter('metrics.val.acc > 0')).toMatchObject({ field: metric('val.acc') });
    expect(parseFilter('metrics.val.acc.max > 0')).toMatchObject({ field: metric('val.acc', 'max') });
    expect(parseFilter('metrics.max > 0')).toMatchObject({ field: metric('max') });
    // Params and tags keep every dot in the key.
    expect(parseFilter('params.model.depth = 3')).toMatchObject({ field: param('model.depth') });
    expect(parseFilter("tags.a.max = 'x'")).toMatchObject({ field: tag('a.max') });
  });

  it('reads backtick-quoted keys', () => {
    expect(parseFilter('metrics.`val acc`.max > 0.5')).toMatchObject({ field: metric('val acc', 'max') });
    expect(parseFilter('metrics.`a.min` > 0')).toMatchObject({ field: metric('a.min') });
    expect(parseFilter('params.`model.depth` = 3')).toMatchObject({ field: param('model.depth') });
    expect(parseFilter("tags.`it``s` = 'x'")).toMatchObject({ field: tag('it`s') });
    expect(parseFilter("tags.`ключ` = 'x'")).toMatchObject({ field: tag('ключ') });
  });

  it('reads gate verdicts per tier, apart from a tag named gate', () => {
    const gate = (tier: string): FieldRef => ({ kind: 'gate', tier });
    expect(parseFilter("gate.ci = 'passed'")).toEqual({ type: 'compare', field: gate('ci'), op: '=', value: 'passed' });
    expect(parseFilter("GATE.extended != 'FAILED'")).toEqual({ type: 'compare', field: gate('extended'), op: '!=', value: 'failed' });
    expect(parseFilter("gate.`my tier` in ('passed')")).toMatchObject({ type: 'in', field: gate('my tier'), values: ['passed'] });
    expect(parseFilter('gate.nightly is not null')).toEqual({ type: 'isNull', field: gate('nightly'), negated: true });
    expect(parseFilter("tags.gate = 'passed'")).toMatchObject({ field: tag('gate') });
    expect(errorOf("gate.ci = 'yes'").detail).toBe("gate.ci is a gate verdict: compare it with 'passed' or 'failed', not 'yes'");
    expect(errorOf("gate.ci > 'failed'").detail).toBe('gate.ci supports only =, !=, IN, NOT IN and IS [NOT] NULL');
    expect(errorOf("gate.ci like 'p%'").detail).toBe('gate.ci supports only =, !=, IN, NOT IN and IS [NOT] NULL');
    expect(errorOf('gate.ci = 1').detail).toMatch(/^gate\.ci is a gate verdict/);
    expect(parseOrderBy('gate.ci desc')).toEqual({ field: gate('ci'), direction: 'desc' });
  });

  it('accepts attributes with or without the attributes. prefix, in any case', () => {
    expect(parseFilter("attributes.status = 'running'")).toMatchObject({ field: attr('status') });
    expect(parseFilter("NAME like 'x%'")).toMatchObject({ field: attr('name') });
    expect(parseFilter("Status = 'FINISHED'")).toMatchObject({ field: attr('status'), value: 'finished' });
    expect(parseFilter("METRICS.acc > 1")).toMatchObject({ field: metric('acc') });
  });

  it('normalizes dates to ISO text in UTC', () => {
    expect(parseFilter("created >= '2026-01-01'")).toMatchObject({ value: '2026-01-01T00:00:00.000Z' });
    expect(parseFilter("started < '2026-01-01T10:00:00+02:00'")).toMatchObject({ value: '2026-01-01T08:00:00.000Z' });
    expect(parseFilter("ended > '2026-01-01 10:00'")).toMatchObject({ value: '2026-01-01T10:00:00.000Z' });
  });

  it('parses IN, LIKE and IS NULL forms', () => {
    expect(parseFilter("params.opt IN ('adam', 1)")).toEqual({ type: 'in', field: param('opt'), values: ['adam', 1], negated: false });
    expect(parseFilter("status not in ('failed','cancelled')")).toEqual({
      type: 'in',
      field: attr('status'),
      values: ['failed', 'cancelled'],
      negated: true,
    });
    expect(parseFilter("name LIKE 'bert-%'")).toEqual({ type: 'like', field: attr('name'), pattern: 'bert-%', caseInsensitive: false, negated: false });
    expect(parseFilter("tags.x NOT ILIKE '%a\\_b'")).toEqual({ type: 'like', field: tag('x'), pattern: '%a\\_b', caseInsensitive: true, negated: true });
    expect(parseFilter('metrics.acc IS NULL')).toEqual({ type: 'isNull', field: metric('acc'), negated: false });
    expect(parseFilter('tier is not null')).toEqual({ type: 'isNull', field: attr('tier'), negated: true });
  });

  it('reads string escapes: doubled quotes and backslash before a quote or backslash', () => {
    expect(parseFilter("params.a = 'it''s'")).toMatchObject({ value: "it's" });
    expect(parseFilter("params.a = 'it\\'s'")).toMatchObject({ value: "it's" });
    expect(parseFilter('params.a = "say ""hi"""')).toMatchObject({ value: 'say "hi"' });
    expect(parseFilter("params.a = 'c:\\\\dir'")).toMatchObject({ value: 'c:\\dir' });
    expect(parseFilter("params.a = 'a\\nb'")).toMatchObject({ value: 'a\\nb' });
  });

  it('gives NOT precedence over AND over OR and flattens runs of one operator', () => {
    const a = "params.a = 'a'";
    const A: FilterExpr = { type: 'compare', field: param('a'), op: '=', value: 'a' };
    const B: FilterExpr = { type: 'compare', field: param('b'), op: '=', value: 'b' };
    const C: FilterExpr = { type: 'compare', field: param('c'), op: '=', value: 'c' };
    const b = "params.b = 'b'";
    const c = "params.c = 'c'";
    expect(parseFilter(`${a} or ${b} and ${c}`)).toEqual({ type: 'or', items: [A, { type: 'and', items: [B, C] }] });
    expect(parseFilter(`not ${a} and ${b}`)).toEqual({ type: 'and', items: [{ type: 'not', item: A }, B] });
    expect(parseFilter(`${a} AND ${b} AND ${c}`)).toEqual({ type: 'and', items: [A, B, C] });
    expect(parseFilter(`(${a} AND ${b}) AND ${c}`)).toEqual({ type: 'and', items: [{ type: 'and', items: [A, B] }, C] });
    expect(parseFilter(`not (${a} or ${b})`)).toEqual({ type: 'not', item: { type: 'or', items: [A, B] } });
    expect(parseFilter(`((((${a}))))`)).toEqual(A);
  });

  it.each([
    ['metrics.acc >', 14, "expected a value after '>' but found the end of the filter"],
    ['metrics.acc > and', 15, "expected a value after '>'"],
    ["metrics.acc > 'high'", 15, 'metrics.acc is a number'],
    ["metrics.acc LIKE '1%'", 13, 'LIKE does not apply to metrics.acc'],
    ["status = 'done'", 10, "unknown status 'done'"],
    ['status > 1', 8, 'status supports only'],
    ['foo = 1', 1, "unknown field 'foo'"],
    ['attributes.color = 1', 1, "unknown field 'color'"],
    ["params.a = 'x", 12, 'unterminated string'],
    ['params.`a = 1', 8, 'unterminated backtick-quoted key'],
    ["params.a = 'x' params.b = 1", 16, 'expected AND, OR or the end'],
    ["params.a = 'x')", 15, "unmatched ')'"],
    ["(params.a = 'x'", 16, "expected ')' to close the '(' at column 1"],
    ['params.a = 1abc', 12, "invalid number '1a'"],
    ['params.a = 1e999', 12, 'out of range'],
    ['params.a = null', 12, 'use IS NULL'],
    ['params.a IS 1', 13, 'expected NULL or NOT NULL'],
    ['params.a NOT = 1', 14, 'expected IN, LIKE or ILIKE after NOT'],
    ['params.a IN ()', 14, "expected a value after '('"],
    ['params.a IN (1,)', 16, "expected a value after ','"],
    ['params.a IN 1', 13, "expected '(' after IN"],
    ['params.a LIKE 1', 15, 'expected a quoted pattern'],
    ["params.a LIKE 'x\\'", 15, 'unterminated string'],
    ["params.a LIKE 'x\\\\\\\\\\'", 15, 'unterminated string'],
    ['params. = 1', 1, "expected a key after 'params.'"],
    ['params.`` = 1', 1, "expected a key after 'params.'"],
    ['params.`a`.max = 1', 1, 'only metrics take an aggregate'],
    ['metrics.`a`.avg = 1', 1, "unknown aggregate 'avg'"],
    ['params.a`b` = 1', 1, 'quote the whole key'],
    ['tags.a = 1', 10, 'tags.a is text'],
    ['name = 1', 8, 'name is text'],
    ["created > 'yesterday'", 11, 'created compares with a date'],
    ["created > '2026-02-30'", 11, 'created compares with a date'],
    ['created > 5', 11, 'created compares with a date'],
    ["created IN ('2026-01-01')", 9, 'created supports only'],
    ['name IS NULL', 6, 'name is always set'],
    ['params.a = 1 &', 14, "unexpected character '&'"],
    ['params.a ! 1', 10, "unexpected '!'"],
    ['AND', 1, "expected a field, NOT or '('"],
    ["params.a = 'x\u0000'", 14, 'NUL'],
  ])('rejects %j at column %i', (text, column, detail) => {
    const e = errorOf(text);
    expect(e.column).toBe(column);
    expect(e.detail).toContain(detail);
    expect(e.input).toBe(text);
    expect(e.message).toBe(`filter syntax error at column ${column}: ${e.detail}`);
    expect(e.code).toBe('FILTER_SYNTAX');
  });

  it('rejects a LIKE pattern ending in a lone backslash (PostgreSQL would fail at run time)', () => {
    // The string 'x\\' is x and one backslash.
    expect(errorOf("params.a LIKE 'x\\\\'")).toMatchObject({ column: 15, detail: expect.stringContaining('lone backslash') });
    expect(parseFilter("params.a LIKE 'x\\\\\\\\'")).toMatchObject({ pattern: 'x\\\\' });
  });

  it('caps nesting depth with a clear error instead of overflowing the stack', () => {
    const ok = `${'('.repeat(MAX_DEPTH)}params.a = 1${')'.repeat(MAX_DEPTH)}`;
    expect(parseFilter(ok)).toMatchObject({ type: 'compare' });
    const deep = `${'('.repeat(100_000)}params.a = 1${')'.repeat(100_000)}`;
    const e = errorOf(deep);
    expect(e.detail).toContain('nests too deeply');
    expect(e.column).toBe(MAX_DEPTH + 1);
    expect(errorOf(`${'NOT '.repeat(100_000)}params.a = 1`).detail).toContain('nests too deeply');
  });

  it('handles long flat chains without recursion', () => {
    const text = Array.from({ length: 20_000 }, (_, i) => `params.p${i} = ${i}`).join(' OR ');
    expect((parseFilter(text) as { items: unknown[] }).items).toHaveLength(20_000);
  });

  it('never fails with anything but FilterSyntaxError (arbitrary text)', () => {
    const check = (text: string) => {
      try {
        parseFilter(text);
      } catch (e) {
        if (!(e instanceof FilterSyntaxError)) throw e;
        expect(e.column).toBeGreaterThanOrEqual(1);
        expect(e.column).toBeLessThanOrEqual(text.length + 1);
      }
    };
    fc.assert(fc.property(fc.string({ unit: 'binary', maxLength: 60 }), check), { numRuns: 2000 });
    // Token soup reaches far more of the grammar than random characters do.
    const token = fc.constantFrom(
      'params.a', 'metrics.m', 'metrics.m.min', 'metrics.`x y`.count', 'tags.t', 'status', 'tier', 'created', 'name', 'foo',
      'AND', 'OR', 'NOT', 'IN', 'LIKE', 'ILIKE', 'IS', 'NULL', 'TRUE', 'false', '(', ')', ',', '=', '!=', '<>', '<', '<=', '>',
      '>=', '1', '-2.5', '1e3', "'x'", "'finished'", "'2026-01-01'", '"q"', "'%\\'", '`', "'", '.', '!', '-', 'params.', 'metrics.`a`.foo',
    );
    fc.assert(
      fc.property(fc.array(token, { maxLength: 14 }), fc.boolean(), (tokens, spaced) => check(tokens.join(spaced ? ' ' : ''))),
      { numRuns: 5000 },
    );
  });
});

describe('parseOrderBy', () => {
  it('reads a field and an optional direction', () => {
    expect(parseOrderBy('metrics.acc desc')).toEqual({ field: metric('acc'), direction: 'desc' });
    expect(parseOrderBy('metrics.`val acc`.max ASC')).toEqual({ field: metric('val acc', 'max'), direction: 'asc' });
    expect(parseOrderBy('params.lr')).toEqual({ field: param('lr'), direction: 'asc' });
  });

  it('sorts timestamps newest first by default', () => {
    expect(parseOrderBy('created')).toEqual({ field: attr('created'), direction: 'desc' });
    expect(parseOrderBy('  ended ')).toEqual({ field: attr('ended'), direction: 'desc' });
    expect(parseOrderBy('created asc')).toEqual({ field: attr('created'), direction: 'asc' });
  });

  it.each([
    ['', 1, 'expected a field to sort by'],
    ['metrics.acc sideways', 13, 'expected ASC, DESC'],
    ['metrics.acc desc desc', 18, 'expected ASC, DESC'],
    ['desc', 1, 'expected a field'],
    ['bogus', 1, "unknown field 'bogus'"],
  ])('rejects %j at column %i', (spec, column, detail) => {
    try {
      parseOrderBy(spec);
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(FilterSyntaxError);
      expect((e as FilterSyntaxError).column).toBe(column);
      expect((e as FilterSyntaxError).detail).toContain(detail);
    }
  });
});
