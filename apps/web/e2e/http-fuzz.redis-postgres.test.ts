/**
 * The built portal itself (`next start`, team mode) under random HTTP requests: the same
 * generator as the API handler's fuzz test (@cairn/api/testing), fewer requests, sent
 * raw. Next.js routes, decodes and answers some requests before Cairn's handler sees
 * them, so a 5xx can come from there too. No browser: this file needs only the build.
 *
 * Checks: no 5xx, and the portal's resident memory (its process and any it started,
 * from /proc) not growing beyond a stated bound; and the issue's own attack, one 300 MB
 * chunked body posted to a tRPC mutation before signing in.
 */
import fs from 'node:fs';
import { randomBytes } from 'node:crypto';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { describeRequest, fuzzRequest, pushBody, runAll, send } from '@cairn/api/testing';
import { startPortal, type RunningPortal } from './support/portal.ts';
import { createWorld, type World } from './support/world.ts';

const MiB = 1024 * 1024;
const SEED = 20_133;
const REQUESTS = 800;
const WARM_UP = 100;
/** Generous: Next.js compiles and caches routes lazily, and this machine is shared; one unbounded body was +880 MB. */
const RSS_BOUND = 128 * MiB;

/** Resident memory of a process and its descendants (Linux /proc), in bytes. */
function treeRss(pid: number): number {
  const read = (file: string) => {
    try {
      return fs.readFileSync(file, 'utf8');
    } catch {
      return ''; // the process ended meanwhile
    }
  };
  let total = 0;
  for (const stack = [pid]; stack.length; ) {
    const p = stack.pop()!;
    total += Number(/VmRSS:\s+(\d+) kB/.exec(read(`/proc/${p}/status`))?.[1] ?? 0) * 1024;
    stack.push(...read(`/proc/${p}/task/${p}/children`).split(/\s+/).filter(Boolean).map(Number));
  }
  return total;
}

describe('the portal (next start) under random requests', () => {
  let world: World;
  let portal: RunningPortal;

  beforeAll(async () => {
    world = await createWorld();
    portal = await startPortal({ ...world.portalEnv(), CAIRN_AUTH: 'team', CAIRN_AUTH_SECRET: randomBytes(32).toString('hex') });
  });
  afterAll(async () => {
    await portal?.stop();
    await world?.close();
  });

  it(`answers ${REQUESTS} random requests without a 5xx, and its memory stays bounded`, async () => {
    const port = Number(new URL(portal.url).port);
    const requests = fc.sample(fuzzRequest, { seed: SEED, numRuns: REQUESTS });
    const check = async (r: (typeof requests)[number]) => {
      const res = await send(port, r);
      if (res.status === -1) return null;
      // Answered early, then closed under a body it would not read.
      if (res.status === 0 && r.size && /EPIPE|ECONNRESET/.test(res.error ?? '')) return null;
      if (res.status === 0) return `no answer (${res.error}): ${describeRequest(r)}`;
      return res.status >= 500 ? `${res.status}: ${describeRequest(r)}` : null;
    };
    const warm = await runAll(requests.slice(0, WARM_UP), 4, check);
    const before = treeRss(portal.process.pid!);
    const problems = [...warm, ...(await runAll(requests.slice(WARM_UP), 4, check))];
    const grew = treeRss(portal.process.pid!) - before;
    console.log(`[portal fuzz] RSS ${(before / MiB).toFixed(0)} MiB after warm-up, grew ${(grew / MiB).toFixed(1)} MiB over ${REQUESTS - WARM_UP} requests`);
    expect(problems.slice(0, 20), portal.output().slice(-3000)).toEqual([]);
    expect(grew, `RSS grew by ${(grew / MiB).toFixed(1)} MiB`).toBeLessThan(RSS_BOUND);
  });

  it('answers a 300 MB chunked tRPC body before sign-in with 413, and its memory stays put', async () => {
    const port = Number(new URL(portal.url).port);
    await pushBody(port, '/api/trpc/runs.addNote', MiB); // the route compiled and warm
    const before = treeRss(portal.process.pid!);
    const { status, sent } = await pushBody(port, '/api/trpc/runs.addNote', 300 * MiB);
    const grew = treeRss(portal.process.pid!) - before;
    console.log(`[portal body limit] 413 after ${(sent / MiB).toFixed(0)} MiB sent; RSS grew ${(grew / MiB).toFixed(1)} MiB`);
    // 413, or the reset that follows it when the client is still writing (see pushBody).
    expect([413, 'reset']).toContain(status);
    expect(sent).toBeLessThan(300 * MiB);
    expect(grew, `RSS grew by ${(grew / MiB).toFixed(1)} MiB`).toBeLessThan(RSS_BOUND);
  });
});
