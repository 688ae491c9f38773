import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApiServer, type ApiServerProcess } from './api-server-process.ts';
import { describeRequest, fuzzRequest, runAll, send } from './testing.ts';

const MiB = 1024 * 1024;
/** Fixed, so a failure is the same failure on every run (change it to explore further). */
const SEED = 20_131;
const REQUESTS = 1_200;
const WARM_UP = 200;
/**
 * How much the server's RSS (after a full GC) may grow over the fuzz run, past the
 * warm-up: generous for a shared 2-core machine and PGlite's WASM heap, and an order
 * of magnitude under what one unbounded body did (+880 MB).
 */
const RSS_BOUND = 64 * MiB;

let server: ApiServerProcess;
// Most of this file's time is the server process opening its store (once, for both modes).
beforeAll(async () => {
  server = await startApiServer();
}, 180_000);
afterAll(() => server?.stop());

describe.each(['local', 'team'] as const)('the API handler under random requests (%s mode, its own process)', (mode) => {
  it(`answers ${REQUESTS} random requests without a 5xx, and its memory stays bounded`, async () => {
    const port = server[mode].port;
    const requests = fc.sample(fuzzRequest, { seed: SEED + (mode === 'team' ? 1 : 0), numRuns: REQUESTS });
    const check = async (r: (typeof requests)[number]) => {
      const res = await send(port, r);
      if (res.status === -1) return null;
      // A server may answer early and close under a body it will not read; what it did is in internalErrors.
      if (res.status === 0 && r.size && /EPIPE|ECONNRESET/.test(res.error ?? '')) return null;
      if (res.status === 0) return `no answer (${res.error}): ${describeRequest(r)}`;
      return res.status >= 500 ? `${res.status}: ${describeRequest(r)}` : null;
    };
    const warm = await runAll(requests.slice(0, WARM_UP), 8, check);
    const before = await server.rss();
    const problems = [...warm, ...(await runAll(requests.slice(WARM_UP), 8, check))];
    const grew = (await server.rss()) - before;
    console.log(`[fuzz ${mode}] RSS ${(before / MiB).toFixed(0)} MiB after warm-up, grew ${(grew / MiB).toFixed(1)} MiB over ${REQUESTS - WARM_UP} requests`);
    expect(problems.slice(0, 20)).toEqual([]);
    expect(server.internalErrors.slice(0, 5)).toEqual([]);
    expect(grew, `RSS grew by ${(grew / MiB).toFixed(1)} MiB over ${REQUESTS - WARM_UP} requests`).toBeLessThan(RSS_BOUND);
  });
});
