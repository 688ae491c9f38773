import { describe, expect, it } from 'vitest';
import { ValidationError } from '@cairn/schema';
import { intCount, paramNames, paramsKey, parseSearchSpace, searchSpaceSchema } from './space.ts';

const example = {
  lr: { type: 'loguniform', min: 1e-4, max: 1e-1 },
  units: { type: 'int', min: 8, max: 128, step: 8 },
  opt: { type: 'choice', values: ['adam', 'sgd'] },
  dropout: { type: 'uniform', min: 0, max: 0.5 },
};

function messageOf(json: unknown): string {
  try {
    parseSearchSpace(json);
  } catch (e) {
    expect(e).toBeInstanceOf(ValidationError);
    expect((e as ValidationError).code).toBe('INVALID_INPUT');
    return (e as Error).message;
  }
  throw new Error(`expected ${JSON.stringify(json)} to be rejected`);
}

describe('parseSearchSpace', () => {
  it('accepts the documented example and sorts the names', () => {
    const space = parseSearchSpace(example);
    expect(Object.keys(space)).toEqual(['dropout', 'lr', 'opt', 'units']);
    expect(space.units).toEqual({ type: 'int', min: 8, max: 128, step: 8 });
    expect(space.opt).toEqual({ type: 'choice', values: ['adam', 'sgd'] });
    expect(paramNames({ b: example.dropout, a: example.dropout, B: example.dropout } as never)).toEqual(['B', 'a', 'b']);
  });

  it('accepts mixed choice values, names with dots and dashes, and int without step', () => {
    const space = parseSearchSpace({
      'optimizer.beta_1': { type: 'choice', values: [0.9, 0.99] },
      'use-bn': { type: 'choice', values: [true, false] },
      _k: { type: 'choice', values: ['a', 1, true] },
      layers: { type: 'int', min: -2, max: 3 },
    });
    expect(intCount(space.layers as never)).toBe(6);
  });

  it('rejects non-objects and empty spaces', () => {
    expect(messageOf(null)).toMatch(/search space must be an object of parameters.*got null/);
    expect(messageOf([])).toMatch(/got an array/);
    expect(messageOf('lr')).toMatch(/got "lr"/);
    expect(messageOf({})).toBe('invalid search space: a search space must define at least one parameter');
  });

  it('rejects bad parameter names', () => {
    for (const name of ['1x', '', 'a b', 'x/y', '-x', 'é']) {
      expect(messageOf({ [name]: example.dropout })).toContain('invalid parameter name: it must start with a letter or _');
    }
  });

  it('requires min < max', () => {
    expect(messageOf({ a: { type: 'uniform', min: 1, max: 0 } })).toBe('invalid search space: a: min must be less than max, got min 1 and max 0');
    expect(messageOf({ a: { type: 'uniform', min: 1, max: 1 } })).toContain('min must be less than max');
    expect(messageOf({ a: { type: 'loguniform', min: 0.1, max: 0.01 } })).toContain('a: min must be less than max');
    expect(messageOf({ a: { type: 'int', min: 3, max: 3 } })).toContain('a: min must be less than max');
  });

  it('requires loguniform min > 0', () => {
    expect(messageOf({ lr: { type: 'loguniform', min: 0, max: 1 } })).toBe('invalid search space: lr.min: loguniform min must be greater than 0 (its logarithm is sampled), got 0');
    expect(messageOf({ lr: { type: 'loguniform', min: -1, max: -0.5 } })).toContain('loguniform min must be greater than 0');
  });

  it('requires non-empty, distinct, scalar choices', () => {
    expect(messageOf({ opt: { type: 'choice', values: [] } })).toBe('invalid search space: opt.values: values must not be empty: list at least one choice');
    expect(messageOf({ opt: { type: 'choice', values: ['adam', 'adam'] } })).toContain('values must be distinct: "adam" appears more than once');
    expect(messageOf({ opt: { type: 'choice', values: [null] } })).toContain('opt.values.0: choice values must be strings, finite numbers or booleans, got null');
    expect(messageOf({ opt: { type: 'choice', values: [{}] } })).toContain('got object');
    expect(messageOf({ opt: { type: 'choice', values: 'adam' } })).toContain('values must be an array of choices');
    // 1 and "1" are different choices
    expect(() => parseSearchSpace({ opt: { type: 'choice', values: [1, '1'] } })).not.toThrow();
  });

  it('checks int fields', () => {
    expect(messageOf({ n: { type: 'int', min: 0.5, max: 3 } })).toContain('n.min: min must be an integer, got 0.5');
    expect(messageOf({ n: { type: 'int', min: 0, max: 3.5 } })).toContain('n.max: max must be an integer, got 3.5');
    expect(messageOf({ n: { type: 'int', min: 0, max: 3, step: 0 } })).toContain('n.step: step must be a whole number ≥ 1, got 0');
    expect(messageOf({ n: { type: 'int', min: 0, max: 3, step: 1.5 } })).toContain('step must be a whole number ≥ 1, got 1.5');
    expect(messageOf({ n: { type: 'int', min: 0, max: 3, step: 5 } })).toContain('n.step: step 5 is larger than max - min (3)');
  });

  it('names unknown types, missing and non-finite fields, and unknown fields', () => {
    expect(messageOf({ a: { type: 'normal', mu: 0 } })).toBe('invalid search space: a.type: type must be one of choice, uniform, loguniform, int (got "normal")');
    expect(messageOf({ a: { min: 0, max: 1 } })).toContain('(it is missing)');
    expect(messageOf({ a: 3 })).toContain('a: a parameter must be an object like');
    expect(messageOf({ a: { type: 'uniform', min: 0 } })).toContain('a.max: max is required');
    expect(messageOf({ a: { type: 'uniform', min: '0', max: 1 } })).toContain('a.min: min must be a finite number, got "0"');
    expect(messageOf({ a: { type: 'uniform', min: 0, max: Number.POSITIVE_INFINITY } })).toContain('a.max: max must be a finite number');
    expect(messageOf({ a: { type: 'uniform', min: Number.NaN, max: 1 } })).toContain('a.min: min must be a finite number');
    expect(messageOf({ a: { type: 'uniform', min: 0, max: 1, step: 0.1 } })).toBe(
      'invalid search space: a: unknown field "step" for a uniform parameter (allowed: type, min, max)',
    );
  });

  it('reports several problems in one message', () => {
    const msg = messageOf({ a: { type: 'uniform', min: 1, max: 0 }, b: { type: 'choice', values: [] } });
    expect(msg).toContain('a: min must be less than max');
    expect(msg).toContain('b.values: values must not be empty');
  });

  it('caps the number of parameters', () => {
    const big = Object.fromEntries(Array.from({ length: 101 }, (_, i) => [`p${i}`, example.dropout]));
    expect(messageOf(big)).toContain('at most 100 parameters, got 101');
  });

  it('exposes the schema for composition', () => {
    expect(searchSpaceSchema.safeParse(example).success).toBe(true);
  });
});

describe('paramsKey', () => {
  it('ignores key order', () => {
    expect(paramsKey({ a: 1, b: 'x' })).toBe(paramsKey({ b: 'x', a: 1 }));
    expect(paramsKey({ a: 1 })).not.toBe(paramsKey({ a: '1' }));
  });
});
