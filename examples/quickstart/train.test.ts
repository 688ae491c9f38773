import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, expect, it } from 'vitest';
import { openStore } from '@cairn/store';

const home = fs.mkdtempSync(path.join(os.tmpdir(), 'cairn-quickstart-'));
afterAll(() => fs.rmSync(home, { recursive: true, force: true }));

it('tracks the sweep with the reason each run ended', async () => {
  const script = fileURLToPath(new URL('./train.ts', import.meta.url));
  const env = { ...process.env, CAIRN_HOME: home, DATABASE_URL: '' };
  execFileSync(process.execPath, ['--import', 'tsx', script], { env, stdio: 'pipe' });
  const store = await openStore({ home });
  try {
    const { runs } = await store.searchRuns({ experimentIds: ['iris-quickstart'], orderBy: ['params.lr asc'] });
    expect(runs.map((r) => [r.params.lr, r.status])).toEqual([
      ['0.0005', 'abandoned'],
      ['0.5', 'finished'],
      ['2', 'finished'],
      ['50', 'failed'],
    ]);
    expect(runs[0]!.statusReason).toMatch(/^plateau/);
    expect(runs[3]!.statusReason).toMatch(/^diverged/);
    for (const r of runs.slice(1, 3)) expect(r.metrics.val_accuracy!.last).toBeGreaterThan(0.9);
    expect(runs[1]!.metrics.loss!.count).toBe(60);
    expect(runs[1]!.environment.node).toBe(process.version);
    expect(await store.listNotes({ kind: 'run', id: runs[0]!.id })).toHaveLength(1);
  } finally {
    await store.close();
  }
});
