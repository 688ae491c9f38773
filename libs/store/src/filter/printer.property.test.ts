import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { filterArbitrary } from './arbitrary.ts';
import type { FilterExpr } from './ast.ts';
import { parseFilter } from './parser.ts';
import { printFilter, printLiteral } from './printer.ts';

describe('printFilter', () => {
  it('round-trips: parseFilter(printFilter(ast)) equals ast', () => {
    fc.assert(
      fc.property(filterArbitrary(), (ast) => {
        const text = printFilter(ast);
        expect(parseFilter(text)).toEqual(ast);
      }),
      { numRuns: 3000 },
    );
  });

  it('is stable: printing a reparsed AST gives the same text', () => {
    fc.assert(
      fc.property(filterArbitrary(), (ast) => {
        const text = printFilter(ast);
        expect(printFilter(parseFilter(text)!)).toBe(text);
      }),
      { numRuns: 1000 },
    );
  });

  it('canonicalizes what people type', () => {
    const canon = (t: string) => printFilter(parseFilter(t)!);
    expect(canon("metrics.acc>0.90 and (params.opt='adam' or tags.team<>\"x\")")).toBe(
      "metrics.acc > 0.9 AND (params.opt = 'adam' OR tags.team != 'x')",
    );
    expect(canon('metrics.acc.last > 1')).toBe('metrics.acc > 1');
    expect(canon('metrics.val.acc.max > 1')).toBe('metrics.`val.acc`.max > 1');
    expect(canon('params.model.depth = 1')).toBe('params.model.depth = 1');
    expect(canon("not (status = 'Failed') or created < '2026-01-01'")).toBe(
      "NOT status = 'failed' OR created < '2026-01-01T00:00:00.000Z'",
    );
    expect(canon("(params.a = 1 or params.b = 1) and not (params.c = 1 and params.d = 1)")).toBe(
      '(params.a = 1 OR params.b = 1) AND NOT (params.c = 1 AND params.d = 1)',
    );
    expect(canon("name not ilike 'x\\_%' and tier is not null")).toBe("name NOT ILIKE 'x\\_%' AND tier IS NOT NULL");
    expect(canon('params.x in (1, 2.50, true)')).toBe("params.x IN (1, 2.5, 'true')");
  });

  it('keeps nested runs of one operator as written', () => {
    const a: FilterExpr = { type: 'isNull', field: { kind: 'param', key: 'a' }, negated: false };
    const nested: FilterExpr = { type: 'and', items: [{ type: 'and', items: [a, a] }, a] };
    expect(printFilter(nested)).toBe('(params.a IS NULL AND params.a IS NULL) AND params.a IS NULL');
    expect(parseFilter(printFilter(nested))).toEqual(nested);
  });

  it('quotes strings so the lexer reads them back', () => {
    expect(printLiteral("it's")).toBe("'it''s'");
    expect(printLiteral('a\\_b')).toBe("'a\\_b'");
    expect(printLiteral('ends\\')).toBe("'ends\\\\'");
    expect(printLiteral('\\"')).toBe("'\\\\\"'");
    expect(printLiteral(-1.5e-7)).toBe('-1.5e-7');
  });

  it('reprints any text that parses to the same AST', () => {
    const token = fc.constantFrom(
      'params.a', 'metrics.m.min', 'tags.t', 'status', 'tier', 'AND', 'OR', 'NOT', '(', ')', '=', '!=', '<', 'IN (1, \'x\')',
      'IS NULL', 'IS NOT NULL', "LIKE 'a%'", '1', "'x'", "'finished'", '-2',
    );
    fc.assert(
      fc.property(fc.array(token, { maxLength: 12 }), (tokens) => {
        let ast: FilterExpr | null;
        try {
          ast = parseFilter(tokens.join(' '));
        } catch {
          return;
        }
        if (ast) expect(parseFilter(printFilter(ast))).toEqual(ast);
      }),
      { numRuns: 5000 },
    );
  });
});
