import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import { openStore } from '@cairn/store';
import { testRedis } from '../../../libs/pipeline/src/testing/redis.ts';
import { cli } from './test-support.ts';
import type { DemoSummary } from './demo.ts';

/**
 * `cairn demo --no-ui` for real on a fresh embedded store: the store is hosted so the
 * in-process worker reaches it over the wire, the ci tier of both examples and an 8-trial
 * sweep go through Redis, the quick-start script runs in its own process, and the best
 * Iris model is registered. Everything is then read back from the store itself.
 */
describe('cairn demo', () => {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'cairn-demo-'));
  const home = path.join(tmp, 'home');
  afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

  it('records datasets, ci runs, a sweep with its trials, failed and abandoned runs and a registered model', async () => {
    const redis = await testRedis();
    const prefix = `cairn-demo-${randomBytes(4).toString('hex')}`;
    try {
      const r = await cli(['--home', home, 'demo', '--json'], { env: { REDIS_URL: redis.url, CAIRN_QUEUE_PREFIX: prefix, CAIRN_BLOBS: '', CAIRN_BACKEND: '' }, timeoutMs: 420_000 });
      expect(r.code, r.stderr).toBe(0);
      const summary = JSON.parse(r.stdout) as DemoSummary;
      expect(summary.mode).toBe('queue');
      expect(summary.datasets.map((d) => d.name)).toEqual(['iris', 'digits']);
      expect(summary.ci.map((c) => [c.example, c.status])).toEqual([
        ['iris-mlp', 'finished'],
        ['digits-cnn', 'finished'],
      ]);
      expect(summary.quickstart.exitCode).toBe(0);
      expect(r.stderr).not.toMatch(/postgres:\/\/[^:]+:(?!\*\*\*)[^@]+@/); // the host's password is never printed

      // Read back from the store, not from the summary.
      const store = await openStore({ home });
      try {
        const all = (await store.searchRuns({ limit: 500 })).runs;
        const byStatus = (s: string) => all.filter((x) => x.status === s);
        expect(byStatus('failed').some((x) => /diverged/.test(x.statusReason ?? ''))).toBe(true);
        expect(byStatus('abandoned').length).toBeGreaterThanOrEqual(1);
        // A passed ci gate promotes: the promoted runs wait on the extended queue (no worker takes it).
        expect(all.filter((x) => x.tier === 'extended' && x.status === 'queued')).toHaveLength(2);

        if (!('parentId' in summary.sweep)) throw new Error(`no sweep: ${JSON.stringify(summary.sweep)}`);
        const parent = await store.getRun(summary.sweep.parentId);
        expect(parent.status).toBe('finished');
        const trialIds = new Set((await store.listSweepTrials(parent.id)).map((t) => t.runId));
        const trials = all.filter((x) => trialIds.has(x.id));
        expect(trials).toHaveLength(8);
        expect(trials.every((t) => ['finished', 'abandoned'].includes(t.status))).toBe(true);

        if (!('version' in summary.model)) throw new Error(`no model: ${JSON.stringify(summary.model)}`);
        const v = await store.resolveModelVersion('iris-mlp', 'production');
        expect(v.runId).toBe(summary.model.runId);
        const best = await store.getRun(v.runId!);
        expect(best.status).toBe('finished');
        const others = all.filter((x) => x.experimentId === best.experimentId || trialIds.has(x.id)).filter((x) => x.status === 'finished' && x.tier === 'ci');
        // The registered run is the best Iris run by val_acc among those the demo weighed.
        for (const o of others) if (o.id === summary.sweep.bestRunId || summary.ci.some((c) => c.runId === o.id)) expect(best.metrics.val_acc!.last).toBeGreaterThanOrEqual(o.metrics.val_acc!.last);

        // Lineage: from the deployed-to-be version back to the data and code in one query.
        const up = await store.lineage({ kind: 'model_version', id: v.id }, { direction: 'upstream' });
        expect(up.nodes.map((n) => n.kind)).toEqual(expect.arrayContaining(['run', 'snapshot', 'dataset', 'code']));
        // Experiments know their objective, so the portal can rank runs.
        expect((await store.getExperiment('iris-quickstart')).tags.objective).toBe('val_accuracy max');
        expect((await store.getExperiment('iris-mlp')).tags.objective).toBe('val_acc max');
      } finally {
        await store.close();
      }
      // The host is gone with the demo: the embedded store opens directly again (checked above) and no host file is left.
      expect(fs.existsSync(path.join(home, 'host.json'))).toBe(false);
    } finally {
      await redis.close();
    }
  }, 480_000);
});
