import { createRequire } from 'node:module';
import { PgDialect } from 'drizzle-orm/pg-core';
import { describe, expect, it } from 'vitest';
import { MAX_KEY_LENGTH } from '@cairn/schema';
import { METRIC_CHUNK, appendStatement, summarise, toColumns } from './metrics.ts';
import { MAX_MESSAGE_BYTES } from './pglite-server.ts';

// What pg does to each bound value before it writes a Bind message.
const { prepareValue } = createRequire(import.meta.url)('pg/lib/utils.js') as { prepareValue(v: unknown): string | Buffer | null };

/** The Bind message pg sends for `query`: its parameters as pg encodes them, plus the message's own fields. */
function bindBytes(query: { params: unknown[] }): number {
  let bytes = 1 + 4 + 1 + 1 + 2 + 2 + 2; // type, length, portal, statement, format counts
  for (const p of query.params) {
    const v = prepareValue(p);
    bytes += 4 + (v === null ? 0 : Buffer.isBuffer(v) ? v.length : Buffer.byteLength(v));
  }
  return bytes;
}

describe("the host's message limit", () => {
  it("fits the largest message the store sends: a whole metric chunk at its worst", () => {
    // Every point its own key of MAX_KEY_LENGTH three-byte characters (so each point also
    // gets its own summary and its own block at all seven rollup levels), and the longest
    // numbers: 16-digit steps and times, 24-character values.
    const points = Array.from({ length: METRIC_CHUNK }, (_, i) => ({
      key: String.fromCharCode(0x4e00 + i) + '€'.repeat(MAX_KEY_LENGTH - 1),
      step: Number.MAX_SAFE_INTEGER - i * 65_536,
      wallMs: Number.MAX_SAFE_INTEGER - i,
      value: -1.2345678901234567e-300 * (1 + i / METRIC_CHUNK),
    }));
    const columns = toColumns(points);
    const query = new PgDialect().sqlToQuery(appendStatement('0190c7e4-0000-7000-8000-000000000001', columns, summarise(columns)));
    const worst = bindBytes(query);
    // A few MB for a real batch; this one is about 166 MB.
    expect(worst).toBeGreaterThan(100 * 1024 * 1024);
    expect(worst).toBeLessThan(MAX_MESSAGE_BYTES);
  }, 120_000);
});
