import { describe, expect, it } from 'vitest';
import { artifactSchema, keySchema, metricPointSchema, paramValueSchema, paramsSchema } from './validation.ts';
import { FilterSyntaxError, ParamConflictError } from './errors.ts';
import { isUuid, newId } from './ids.ts';

describe('keys', () => {
  it.each(['loss', 'val/accuracy', 'lr:group-0', 'a'.repeat(250), 'ключ', 'with space'])('accepts %j', (k) => {
    expect(keySchema.safeParse(k).success).toBe(true);
  });
  it.each([
    ['empty', ''],
    ['251 characters', 'a'.repeat(251)],
    ['a NUL', 'a\u0000b'],
    ['a newline', 'a\nb'],
    ['DEL', 'a\u007f'],
    ['a C1 control', 'a\u0085'],
    ['leading space', ' loss'],
  ])('rejects %s', (_label, k) => {
    expect(keySchema.safeParse(k).success).toBe(false);
  });
});

describe('params', () => {
  it('turns numbers and booleans into their text', () => {
    expect(paramsSchema.parse({ lr: 0.01, deep: true, name: 'mlp' })).toEqual({ lr: '0.01', deep: 'true', name: 'mlp' });
  });
  it('accepts values up to 64 KiB in UTF-8 and no more', () => {
    expect(paramValueSchema.safeParse('x'.repeat(64 * 1024)).success).toBe(true);
    expect(paramValueSchema.safeParse('x'.repeat(64 * 1024 + 1)).success).toBe(false);
    // 2 bytes per character: the limit is in bytes, not characters.
    expect(paramValueSchema.safeParse('é'.repeat(32 * 1024 + 1)).success).toBe(false);
  });
  it('rejects objects and null', () => {
    expect(paramsSchema.safeParse({ a: { b: 1 } }).success).toBe(false);
    expect(paramsSchema.safeParse({ a: null }).success).toBe(false);
  });
});

describe('metric points', () => {
  it('accepts NaN and infinities, rejects strings and bad steps', () => {
    expect(metricPointSchema.safeParse({ key: 'loss', value: Number.NaN, step: 0 }).success).toBe(true);
    expect(metricPointSchema.safeParse({ key: 'loss', value: -Infinity, step: 3 }).success).toBe(true);
    expect(metricPointSchema.safeParse({ key: 'loss', value: '1', step: 0 }).success).toBe(false);
    expect(metricPointSchema.safeParse({ key: 'loss', value: 1, step: -1 }).success).toBe(false);
    expect(metricPointSchema.safeParse({ key: 'loss', value: 1, step: 0.5 }).success).toBe(false);
  });
});

describe('artifact paths', () => {
  it.each(['../x', 'a/../../x', '/etc/passwd', 'a\\..\\b'])('rejects traversal %j', (p) => {
    expect(artifactSchema.safeParse({ path: p, hash: 'ab'.repeat(16), size: 1 }).success).toBe(false);
  });
  it('accepts a nested relative path', () => {
    expect(artifactSchema.parse({ path: 'model/weights.bin', hash: 'ab'.repeat(32), size: 10 }).mediaType).toBe('application/octet-stream');
  });
});

describe('errors and ids', () => {
  it('carry stable codes and actionable messages', () => {
    const e = new ParamConflictError('r1', 'lr', '0.1', '0.2');
    expect(e.code).toBe('PARAM_CONFLICT');
    expect(e.message).toMatch(/immutable/);
    const f = new FilterSyntaxError("expected a value after '>'", 17, 'metrics.acc > ');
    expect(f.message).toBe("filter syntax error at column 17: expected a value after '>'");
  });
  it('makes time-ordered UUIDv7 ids', async () => {
    const a = newId();
    await new Promise((r) => setTimeout(r, 2));
    const b = newId();
    expect(isUuid(a) && isUuid(b)).toBe(true);
    expect(a[14]).toBe('7');
    expect(a < b).toBe(true);
  });
});
