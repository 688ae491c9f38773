import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openStore } from '@cairn/store';
import { testDrivers } from '@cairn/store/testing';
import { cli, lines, seed, storeArgs, uniquePrefix, type Seeded } from './test-support.ts';

/**
 * The read commands and `runs note` against a seeded store: embedded PGlite
 * always, PostgreSQL too when DATABASE_URL is set. One store per engine, seeded
 * once; the tests run in order and only `note` writes (to a run no other test
 * reads notes of).
 */
describe.each(testDrivers())('cairn on $name', (engine) => {
  let args: string[];
  let seeded: Seeded;
  let allIds: string[];
  const run = (...rest: string[]) => cli([...args, ...rest]);

  beforeAll(async () => {
    const loc = await engine.fresh();
    const store = await openStore(loc);
    try {
      seeded = await seed(store);
      // What the pipeline decided about one run; a `gate` tag on another is only a tag.
      await store.recordGateResult({ runId: seeded.runs.adam, tier: 'ci', passed: true, expression: 'metrics.acc >= 0.9', values: { 'metrics.acc': 0.97 }, missing: [] });
      await store.recordChampionDecision({ runId: seeded.runs.adam, tier: 'ci', decision: 'first', model: 'mnist', alias: 'champion', metric: 'acc', challenger: 0.97, champion: null, version: 1, detail: 'no champion yet: mnist@champion → v1 (acc 0.97)' });
      await store.setTags(seeded.runs.sgd, { gate: 'passed' });
    } finally {
      // PGlite serves one process: the CLI can only open it once this one let go.
      await store.close();
    }
    args = storeArgs(loc);
    allIds = Object.values(seeded.runs);
  });
  afterAll(() => engine.cleanup());

  it('lists experiments with run counts by status', async () => {
    const text = await run('experiments', 'list');
    expect(text.code).toBe(0);
    const [header, ...rows] = lines(text.stdout);
    expect(header).toMatch(/^NAME\s+RUNS\s+BY STATUS\s+LAST ACTIVITY$/);
    expect(rows.map((r) => r.split(/\s+/)[0])).toEqual(['cifar', 'mnist']);
    expect(rows[1]).toMatch(/mnist\s+4\s+2 finished, 1 failed, 1 abandoned\s+(just now|\d+[smh] ago)$/);

    const json = await run('experiments', 'list', '--json');
    expect(json.code).toBe(0);
    const { experiments } = JSON.parse(json.stdout) as { experiments: Record<string, unknown>[] };
    const mnist = experiments.find((e) => e.name === 'mnist')!;
    expect(mnist).toMatchObject({
      project: 'default',
      description: 'digits',
      runCount: 4,
      runCounts: { finished: 2, failed: 1, abandoned: 1, running: 0, queued: 0, cancelled: 0 },
    });
    expect(new Date(mnist.lastActivityAt as string).toISOString()).toBe(mnist.lastActivityAt);
  });

  it('lists runs matching a filter with OR, sorted by a metric', async () => {
    const r = await run('runs', 'list', '--filter', "params.optimizer = 'sgd' OR metrics.acc > 0.96", '--sort', 'metrics.acc', 'desc');
    expect(r.code).toBe(0);
    const [header, ...rows] = lines(r.stdout);
    expect(header).toMatch(/^ID\s+NAME\s+EXPERIMENT\s+STATUS\s+TIER\s+CREATED\s+/);
    expect(header).toContain('params.lr');
    expect(header).toContain('metrics.acc');
    // acc: resnet Infinity, adam .97, sgd .91, diverged .1 (the plateau run matches neither side).
    expect(rows.map((row) => row.split(/\s+/)[1])).toEqual(['resnet-adam', 'adam-baseline', 'sgd-fast', 'sgd-diverged']);
    expect(r.stdout).toContain('failed: loss diverged: NaN at step 2');
    // The short ids shown are prefixes that `runs show` accepts.
    const shortId = rows[1]!.split(/\s+/)[0]!;
    expect(seeded.runs.adam.startsWith(shortId)).toBe(true);
    expect(shortId.length).toBeGreaterThanOrEqual(8);
    const shown = await run('runs', 'show', shortId);
    expect(shown.code).toBe(0);
    expect(shown.stdout).toContain(seeded.runs.adam);
  });

  it('prints runs as JSON, with NaN and Infinity as strings', async () => {
    const r = await run('runs', 'list', '--experiment', 'mnist', '--experiment', 'cifar', '--filter', "status IN ('failed', 'running')", '--json');
    expect(r.code).toBe(0);
    expect(r.stderr).toBe('');
    const page = JSON.parse(r.stdout) as { runs: Record<string, any>[]; nextCursor: string | null };
    expect(page.nextCursor).toBeNull();
    const byName = Object.fromEntries(page.runs.map((x) => [x.name, x]));
    expect(Object.keys(byName).sort()).toEqual(['resnet-adam', 'sgd-diverged']);
    expect(byName['sgd-diverged']).toMatchObject({
      id: seeded.runs.diverged,
      experiment: 'mnist',
      status: 'failed',
      statusReason: 'loss diverged: NaN at step 2',
      params: { lr: '5', optimizer: 'sgd' },
    });
    expect(byName['sgd-diverged']!.metrics.loss).toMatchObject({ last: 'NaN', min: 2, max: 40, count: 3 });
    expect(byName['resnet-adam']!.metrics.acc.last).toBe('Infinity');
    expect(new Date(byName['resnet-adam']!.createdAt).toISOString()).toBe(byName['resnet-adam']!.createdAt);
  });

  it('pages through runs with --cursor', async () => {
    const first = await run('runs', 'list', '--limit', '4', '--sort', 'name', '--json');
    expect(first.code).toBe(0);
    const p1 = JSON.parse(first.stdout) as { runs: { id: string; name: string }[]; nextCursor: string | null };
    expect(p1.runs.map((x) => x.name)).toEqual(['adam-baseline', 'adam-plateau', 'queued-one', 'resnet-adam']);
    expect(p1.nextCursor).toEqual(expect.any(String));

    const second = await run('runs', 'list', '--limit', '4', '--sort', 'name', '--cursor', p1.nextCursor!);
    expect(second.code).toBe(0);
    expect(lines(second.stdout).slice(1).map((row) => row.split(/\s+/)[1])).toEqual(['sgd-diverged', 'sgd-fast']);
    expect(second.stderr).not.toContain('--cursor');
  });

  it('prints the next cursor hint on a partial page', async () => {
    const r = await run('runs', 'list', '--limit', '1');
    expect(r.code).toBe(0);
    expect(lines(r.stdout)).toHaveLength(2);
    expect(r.stderr).toMatch(/more runs: add --cursor \S+/);
  });

  it('points at the column of a malformed filter', async () => {
    const r = await run('runs', 'list', '--filter', 'metrics.acc > and');
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    expect(lines(r.stderr)).toEqual([
      "cairn: filter syntax error at column 15: expected a value after '>' but found 'and'",
      '  metrics.acc > and',
      '                ^',
    ]);
  });

  it('shows one run by a unique id prefix', async () => {
    const prefix = uniquePrefix(seeded.runs.adam, allIds);
    const r = await run('runs', 'show', prefix);
    expect(r.code).toBe(0);
    const out = r.stdout;
    expect(out).toMatch(/^id\s+[0-9a-f-]{36}$/m);
    expect(out).toContain(seeded.runs.adam);
    expect(out).toMatch(/^experiment\s+mnist$/m);
    expect(out).toMatch(/^status\s+finished$/m);
    expect(out).toMatch(/git\s+abc1234 \(dirty/);
    expect(out).toMatch(/node\s+v20\.11\.0/);
    expect(out).toMatch(/memoryBytes\s+16 GiB/);
    expect(out).toMatch(/optimizer\s+adam/);
    expect(out).toMatch(/acc\s+0\.97\s+2\s+0\.8\s+0\.97\s+3/);
    expect(out).toMatch(/team\s+vision/);
    expect(out).toContain('# Baseline');
    expect(out).toContain('**use this**');
    expect(out).toMatch(/model\/weights\.bin\s+121 KiB/);
    expect(out).toMatch(/^pipeline\n {2}ci gate\s+passed: metrics\.acc >= 0\.9 \(metrics\.acc = 0\.97\), \d{4}-/m);
    expect(out).toMatch(/^ {2}champion \(ci\)\s+first: no champion yet: mnist@champion → v1 \(acc 0\.97\)$/m);

    const json = await run('runs', 'show', prefix, '--json');
    const detail = JSON.parse(json.stdout) as Record<string, any>;
    expect(detail).toMatchObject({ id: seeded.runs.adam, experiment: 'mnist', code: { gitSha: 'abc1234', gitDirty: true } });
    expect(detail.metrics.acc).toMatchObject({ last: 0.97, min: 0.8, max: 0.97, count: 3 });
    expect(detail.notes).toHaveLength(1);
    expect(detail.artifacts).toEqual([expect.objectContaining({ path: 'model/weights.bin', size: 123_456 })]);
    expect(detail.pipeline).toMatchObject({ gates: [{ tier: 'ci', passed: true, expression: 'metrics.acc >= 0.9' }], champion: [{ decision: 'first' }], sweep: null, trial: null });

    // Filters read the recorded verdict; the sgd run's `gate` tag is only a tag.
    const gated = await run('runs', 'list', '--filter', "gate.ci = 'passed'", '--json');
    expect((JSON.parse(gated.stdout) as { runs: { id: string }[] }).runs.map((x) => x.id)).toEqual([seeded.runs.adam]);
  });

  it('fails with one line for an unknown run id', async () => {
    const r = await run('runs', 'show', 'deadbeef');
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    expect(lines(r.stderr)).toEqual(["cairn: run 'deadbeef' not found: see 'cairn runs list' for run ids"]);
  });

  it('compares runs, marking the rows that differ', async () => {
    const r = await run('runs', 'compare', seeded.runs.adam, uniquePrefix(seeded.runs.sgd, allIds), seeded.runs.plateau);
    expect(r.code).toBe(0);
    const out = r.stdout;
    expect(out).toMatch(/^\*\s+params\.lr\s+0\.001\s+0\.1\s+0\.0001$/m);
    expect(out).toMatch(/^\s+params\.epochs\s+3\s+3\s+3$/m);
    expect(out).toMatch(/^\*\s+params\.optimizer\s+adam\s+sgd\s+adam$/m);
    expect(out).toMatch(/^\*\s+status\s+finished\s+finished\s+abandoned: plateau: no improvement in 5 evaluations$/m);
    expect(out).toMatch(/^\*\s+metrics\.acc\s+0\.97\s+0\.91\s+0\.51$/m);
    expect(out).toMatch(/^\*\s+metrics\.acc\.max\s+0\.97\s+0\.93\s+0\.51$/m);
    // plateau has no loss
    expect(out).toMatch(/^\*\s+metrics\.loss\s+0\.1\s+0\.45\s+-$/m);

    const json = await run('runs', 'compare', seeded.runs.sgd, seeded.runs.diverged, '--json');
    const c = JSON.parse(json.stdout) as { params: { key: string; differs: boolean }[]; metrics: { key: string; last: unknown[] }[] };
    expect(c.params.find((p) => p.key === 'epochs')!.differs).toBe(false);
    expect(c.params.find((p) => p.key === 'lr')!.differs).toBe(true);
    expect(c.metrics.find((m) => m.key === 'loss')!.last).toEqual([0.45, 'NaN']);
  });

  it('refuses to compare a single run (usage, exit 2)', async () => {
    const r = await run('runs', 'compare', seeded.runs.adam);
    expect(r.code).toBe(2);
    expect(lines(r.stderr)).toHaveLength(1);
  });

  it('adds notes from arguments and stdin, and lists them', async () => {
    const id = uniquePrefix(seeded.runs.sgd, allIds);
    const added = await run('runs', 'note', id, 'lr', '0.1', 'looks', 'too', 'high');
    expect(added.code).toBe(0);
    expect(added.stdout).toContain(seeded.runs.sgd);
    const piped = await cli([...args, 'runs', 'note', id, '-'], { input: '## Follow-up\n\n- try **0.03**\n' });
    expect(piped.code).toBe(0);

    const listed = await run('runs', 'note', id);
    expect(listed.code).toBe(0);
    expect(listed.stdout).toContain('lr 0.1 looks too high');
    expect(listed.stdout).toContain('## Follow-up');
    expect(listed.stdout).toContain('- try **0.03**');
    const json = await run('runs', 'note', id, '--json');
    const { notes } = JSON.parse(json.stdout) as { notes: { body: string }[] };
    expect(notes.map((n) => n.body)).toEqual(['lr 0.1 looks too high', '## Follow-up\n\n- try **0.03**']);
  });
});

/**
 * A run's attempts as the pipeline recorded them (run_attempts), in `runs show` and its
 * JSON: which worker took it, when, from which checkpoint, how each attempt ended. Its
 * own store, so the seeded one above keeps its counts.
 */
describe.each(testDrivers())('cairn runs show: attempts on $name', (engine) => {
  let args: string[];
  let id: string;
  let forged: string;

  beforeAll(async () => {
    const loc = await engine.fresh();
    const store = await openStore(loc);
    try {
      const exp = await store.ensureExperiment({ name: 'retried' });
      id = (await store.createRun({ experimentId: exp.id, name: 'taken-twice', status: 'queued', tier: 'ci', queuePrefix: 'team-a' })).id;
      await store.claimRun(id, { workerId: 'host-a:11:aa' });
      await store.updateAttempt(id, 1, { outcome: 'retried', detail: 'boom: NaN loss' });
      await store.claimRun(id, { workerId: 'host-b:12:bb' });
      await store.updateAttempt(id, 2, { resumedFromStep: 40 });
      await store.updateAttempt(id, 2, { outcome: 'finished' });
      await store.endRun(id, 'finished');
      // A script's run with tags in the pipeline's old attempt format: only tags.
      forged = (await store.createRun({ experimentId: exp.id, name: 'scripted', tags: { 'attempt.2': '2026-01-01T00:00:00.000Z on forged:1:ff' } })).id;
    } finally {
      await store.close();
    }
    args = storeArgs(loc);
  });
  afterAll(() => engine.cleanup());

  it('lists every attempt with its worker, times, checkpoint, outcome and detail', async () => {
    const r = await cli([...args, 'runs', 'show', id]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^ {2}queue prefix\s+team-a$/m);
    const table = r.stdout.slice(r.stdout.indexOf('attempts (2)'));
    const [header, one, two] = lines(table).slice(1);
    expect(header).toMatch(/^\s*#\s+WORKER\s+STARTED\s+ENDED\s+RESUMED FROM\s+OUTCOME\s+DETAIL$/);
    expect(one).toMatch(/^\s*1\s+host-a:11:aa\s+\d{4}-\d\d-\d\d \S+\s+\d{4}-\d\d-\d\d \S+\s+-\s+retried\s+boom: NaN loss$/);
    expect(two).toMatch(/^\s*2\s+host-b:12:bb\s+\d{4}-\d\d-\d\d \S+\s+\d{4}-\d\d-\d\d \S+\s+40\s+finished$/);

    const json = JSON.parse((await cli([...args, 'runs', 'show', id, '--json'])).stdout) as Record<string, any>;
    expect(json.queuePrefix).toBe('team-a');
    expect(json.pipeline.attempts).toEqual([
      { runId: id, attempt: 1, workerId: 'host-a:11:aa', startedAt: expect.any(String), endedAt: expect.any(String), resumedFromStep: null, outcome: 'retried', detail: 'boom: NaN loss' },
      { runId: id, attempt: 2, workerId: 'host-b:12:bb', startedAt: expect.any(String), endedAt: expect.any(String), resumedFromStep: 40, outcome: 'finished', detail: null },
    ]);
    expect(Date.parse(json.pipeline.attempts[1].startedAt)).toBeGreaterThanOrEqual(Date.parse(json.pipeline.attempts[0].endedAt));
  });

  it("shows no attempts table for a script's run, whatever its tags", async () => {
    const r = await cli([...args, 'runs', 'show', forged]);
    expect(r.code).toBe(0);
    expect(r.stdout).not.toMatch(/^attempts/m);
    expect(r.stdout).not.toMatch(/queue prefix/);
    const json = JSON.parse((await cli([...args, 'runs', 'show', forged, '--json'])).stdout) as Record<string, any>;
    expect(json.queuePrefix).toBeNull();
    expect(json.pipeline.attempts).toMatchObject([{ attempt: 1, workerId: null, outcome: null }]);
  });
});
