import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TierQueues, resolvePipelineConfig } from '@cairn/pipeline';
import { openStore } from '@cairn/store';
import { testDrivers } from '@cairn/store/testing';
import { testRedis, type TestRedis } from '../../../libs/pipeline/src/testing/redis.ts';
import { junitXml, xmlEscape } from './junit.ts';
import { verdictFor } from './pipeline.ts';
import { cli, spawnCli, storeArgs } from './test-support.ts';

const IRIS = ['examples/iris-mlp/train.ts', '--data', 'examples/iris-mlp/data'];
const PASS_GATE = "status = 'finished' and metrics.val_acc >= 0.5";

/** A pipeline config in a temp folder (plain object: no import needed from there). */
function writeConfig(dir: string, name: string, tiers: Record<string, unknown>): string {
  const file = path.join(dir, name);
  fs.writeFileSync(file, `export default ${JSON.stringify({ tiers })};\n`);
  return file;
}

/** The testcase elements of a JUnit report, with their inner XML. */
function testcases(xml: string): { name: string; inner: string }[] {
  return [...xml.matchAll(/<testcase name="([^"]*)" classname="cairn\.ci" time="[\d.]+"(?:\/>|>([\s\S]*?)<\/testcase>)/g)].map((m) => ({ name: m[1]!, inner: m[2] ?? '' }));
}

/**
 * `cairn ci` without a worker: nothing hosts the embedded store for one, so it trains
 * inline (never touching Redis: REDIS_URL points at nothing), evaluates and records the ci
 * gate, prints the verdict, writes JUnit and exits by the verdict.
 */
describe('cairn ci (inline)', () => {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'cairn-ci-'));
  const home = path.join(tmp, 'home');
  const env = { CAIRN_BLOBS: '', CAIRN_BACKEND: '', REDIS_URL: 'redis://127.0.0.1:1' };
  const pass = writeConfig(tmp, 'pass.config.ts', { ci: { gate: PASS_GATE } });
  const fail = writeConfig(tmp, 'fail.config.ts', { ci: { gate: 'metrics.val_acc >= 1.01 and metrics.val_loss < 5' } });

  beforeAll(async () => {
    expect((await cli(['--home', home, 'init'], { env })).code).toBe(0);
  });
  afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

  it('passes: exit 0, the verdict with its values, a JUnit report, the verdict recorded on the run', async () => {
    const junit = path.join(tmp, 'reports', 'pass.xml');
    const r = await cli(['--home', home, 'ci', ...IRIS, '--config', pass, '--junit', junit], { env });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/^Training inline \(no worker shares the embedded store \(start one with cairn worker\)\)$/m);
    const runId = /^Run ([0-9a-f-]{36}) \(\S+\) finished$/m.exec(r.stdout)?.[1];
    expect(runId).toBeDefined();
    expect(r.stdout).toContain(`Gate ci passed: ${PASS_GATE}\n  status           finished\n  metrics.val_acc  0.`);
    expect(r.stdout).toMatch(/^ci passed$/m);

    const xml = fs.readFileSync(junit, 'utf8');
    expect(xml).toMatch(/^<\?xml version="1\.0" encoding="UTF-8"\?>\n<testsuites name="cairn ci" tests="2" failures="0" errors="0" time="[\d.]+">\n  <testsuite name="cairn ci" tests="2" failures="0" errors="0" skipped="0" time="[\d.]+" timestamp="\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ">/);
    expect(xml).toContain(`<property name="run" value="${runId}"/>`);
    expect(xml).toContain('<property name="mode" value="inline"/>');
    expect(testcases(xml).map((c) => c.name)).toEqual(['run status', 'ci gate: status = &apos;finished&apos; and metrics.val_acc &gt;= 0.5']);
    expect(xml).not.toContain('<failure');
    expect(xml.trimEnd().endsWith('</testsuites>')).toBe(true);

    const store = await openStore({ home });
    try {
      const run = await store.getRun(runId!);
      expect(run).toMatchObject({ status: 'finished', tier: 'ci' });
      expect(await store.listGateResults({ runIds: [runId!] })).toMatchObject([{ tier: 'ci', passed: true, expression: PASS_GATE }]);
      expect((await store.listNotes({ kind: 'run', id: runId! })).at(-1)?.body).toMatch(/^\*\*ci gate passed\*\*/);
    } finally {
      await store.close();
    }
  }, 120_000);

  it('fails: exit 1, the failing values printed and named in the JUnit <failure>', async () => {
    const junit = path.join(tmp, 'fail.xml');
    const r = await cli(['--home', home, 'ci', ...IRIS, '--config', fail, '--junit', junit], { env });
    expect(r.code, r.stderr).toBe(1);
    expect(r.stdout).toMatch(/^Gate ci failed: metrics\.val_acc >= 1\.01 and metrics\.val_loss < 5\n {2}metrics\.val_acc {3}0\.\d+\n {2}metrics\.val_loss {2}0\.\d+$/m);
    expect(r.stdout).toMatch(/^ci failed$/m);
    const xml = fs.readFileSync(junit, 'utf8');
    expect(xml).toMatch(/<testsuites name="cairn ci" tests="2" failures="1" errors="0"/);
    const [status, gate] = testcases(xml);
    expect(status!.inner).not.toContain('<failure');
    expect(gate!.name).toBe('ci gate: metrics.val_acc &gt;= 1.01 and metrics.val_loss &lt; 5');
    expect(gate!.inner).toMatch(/<failure message="gate failed: metrics\.val_acc = 0\.\d+, metrics\.val_loss = 0\.\d+" type="gate">metrics\.val_acc &gt;= 1\.01 and metrics\.val_loss &lt; 5\nmetrics\.val_acc = 0\.\d+\nmetrics\.val_loss = 0\.\d+<\/failure>/);
  }, 120_000);

  it('--json, and usage errors (no data; two data sources)', async () => {
    const junit = path.join(tmp, 'json.xml');
    const r = await cli(['--home', home, 'ci', ...IRIS, '--config', pass, '--junit', junit, '--json'], { env });
    expect(r.code, r.stderr).toBe(0);
    const j = JSON.parse(r.stdout) as { mode: string; status: string; passed: boolean; gate: { passed: boolean; values: Record<string, unknown> }; junit: string };
    expect(j).toMatchObject({ mode: 'inline', status: 'finished', passed: true, gate: { passed: true, values: { status: 'finished' } }, junit });
    const noData = await cli(['--home', home, 'ci', 'examples/iris-mlp/train.ts'], { env });
    expect(noData.code).toBe(2);
    expect(noData.stderr).toMatch(/^cairn: a queued run needs its data pinned: give --data DIR, --dataset NAME or --snapshot ID$/m);
    const two = await cli(['--home', home, 'ci', ...IRIS, '--snapshot', 'abc'], { env });
    expect(two.code).toBe(2);
  }, 120_000);
});

/**
 * `cairn ci` and `cairn submit --wait` report the verdict the pipeline recorded. An editor
 * may write any tag or note on a run (runs.setTags, runs.addNote, the ingest API); none of
 * it is a verdict.
 */
describe.each(testDrivers())('verdictFor on $name', (engine) => {
  let redis: TestRedis;
  let queues: TierQueues;
  const config = resolvePipelineConfig({ tiers: { ci: { gate: "status = 'finished'" } } });

  beforeAll(async () => {
    redis = await testRedis();
    queues = new TierQueues(redis.connection, redis.prefix);
  });
  afterAll(async () => {
    await queues?.close();
    await redis?.close();
    await engine.cleanup();
  });

  it("takes no verdict from a forged gate note or tag on a run the worker never gated", async () => {
    const store = await engine.open();
    const exp = await store.ensureExperiment({ name: 'forged-ci' });
    const run = await store.createRun({ experimentId: exp.id, tier: 'ci' });
    await store.endRun(run.id, 'abandoned', 'nan guard: loss is NaN');
    await store.setTags(run.id, { gate: 'passed', 'gate.tier': 'ci' });
    const forged = { tier: 'ci', passed: true, expression: "status = 'finished'", values: { status: 'finished' }, missing: [] };
    await store.addNote({ kind: 'run', id: run.id }, `**ci gate passed**\n\n<!-- cairn-gate ${JSON.stringify(forged)} -->`, 'cairn pipeline');

    const v = await verdictFor(store, await store.getRun(run.id), config, 'ci', queues);
    expect(v).toMatchObject({ by: 'cli', recorded: false, gate: { passed: false, values: { status: 'abandoned' } } });
  });
});

describe('JUnit XML', () => {
  it('escapes markup, keeps attribute whitespace and drops characters XML cannot hold', () => {
    expect(xmlEscape(`a<b>&"c'`)).toBe(`a&lt;b&gt;&amp;"c'`);
    expect(xmlEscape(`a<b>&"c'\n\t`, true)).toBe('a&lt;b&gt;&amp;&quot;c&apos;&#10;&#9;');
    expect(xmlEscape('x\u0000y\u001bz\ud800')).toBe('x\ufffdy\ufffdz\ufffd');
    const xml = junitXml({ name: 'cairn ci', timestamp: new Date('2025-01-02T03:04:05.678Z'), timeSec: 1.5, properties: { run: 'r<1>' }, cases: [{ name: 'gate: a > 1', classname: 'cairn.ci', timeSec: 0, failure: { message: 'a = 0 & "b"', type: 'gate', body: 'a > 1\na = 0' } }] });
    expect(xml).toBe(
      [
        '<?xml version="1.0" encoding="UTF-8"?>',
        '<testsuites name="cairn ci" tests="1" failures="1" errors="0" time="1.500">',
        '  <testsuite name="cairn ci" tests="1" failures="1" errors="0" skipped="0" time="1.500" timestamp="2025-01-02T03:04:05Z">',
        '    <properties>',
        '      <property name="run" value="r&lt;1&gt;"/>',
        '    </properties>',
        '    <testcase name="gate: a &gt; 1" classname="cairn.ci" time="0.000">',
        '      <failure message="a = 0 &amp; &quot;b&quot;" type="gate">a &gt; 1\na = 0</failure>',
        '    </testcase>',
        '  </testsuite>',
        '</testsuites>',
        '',
      ].join('\n'),
    );
  });
});

/**
 * The queue commands against real Redis (a private key prefix per test file) and an
 * embedded store, with no worker: submit, queue counts, cancel, schedules; and every one
 * of them failing fast when nothing answers at REDIS_URL.
 */
describe('queue commands', () => {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'cairn-queue-'));
  const home = path.join(tmp, 'home');
  let redis: TestRedis;
  let env: NodeJS.ProcessEnv;
  const run = (...args: string[]) => cli(['--home', home, ...args], { env });

  beforeAll(async () => {
    redis = await testRedis();
    env = { CAIRN_BLOBS: '', CAIRN_BACKEND: '', REDIS_URL: redis.url, CAIRN_QUEUE_PREFIX: redis.prefix };
    expect((await run('init')).code).toBe(0);
  });
  afterAll(async () => {
    await redis?.close();
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  it('submits, counts per tier and state, and cancels a queued run', async () => {
    const nightly = await run('submit', ...IRIS, '--tier', 'nightly', '-p', 'hiddenUnits=8');
    expect(nightly.code, nightly.stderr).toBe(0);
    expect(nightly.stdout).toMatch(new RegExp(`^Queued run [0-9a-f-]{36} on tier nightly \\(queue ${redis.prefix}-nightly\\)\\n  code      bundle [0-9a-f]{12}\\n  data      snapshot [0-9a-f]{12}\\n  params    hiddenUnits=8 `));
    expect(nightly.stderr).toContain(`No worker is consuming ${redis.prefix}-nightly: start one with 'cairn worker --tiers nightly'.`);

    const ci = await run('submit', 'examples/iris-mlp/train.ts', '--dataset', 'iris-mlp-data', '--json');
    expect(ci.code, ci.stderr).toBe(0);
    const submitted = JSON.parse(ci.stdout) as { runId: string; tier: string; queue: string; snapshotId: string; params: Record<string, unknown> };
    expect(submitted).toMatchObject({ tier: 'ci', queue: `${redis.prefix}-ci`, params: { hiddenUnits: 16, epochs: 100 } });
    const queues = new TierQueues(redis.connection, redis.prefix);
    const job = await queues.get('ci').getJob(submitted.runId);
    await queues.close();
    // The tier's job options from the config: ci retries twice with exponential backoff, priority 1.
    expect(job?.opts).toMatchObject({ attempts: 2, priority: 1, backoff: { type: 'exponential', delay: 5000 } });

    const q = await run('queue', '--json');
    expect(q.code, q.stderr).toBe(0);
    const counts = JSON.parse(q.stdout) as { prefix: string; tiers: Record<string, Record<string, number | string>>; workers: unknown[] };
    expect(counts.prefix).toBe(redis.prefix);
    expect(counts.tiers.ci).toEqual({ queue: `${redis.prefix}-ci`, waiting: 0, active: 0, delayed: 0, prioritized: 1, completed: 0, failed: 0, workers: 0 });
    expect(counts.tiers.nightly).toMatchObject({ prioritized: 1, workers: 0 });
    expect(counts.tiers.extended).toMatchObject({ prioritized: 0, waiting: 0 });
    expect(counts.workers).toEqual([]);
    const table = await run('queue');
    expect(table.stdout).toMatch(/^TIER +WAITING +ACTIVE +DELAYED +PRIORITIZED +COMPLETED +FAILED +WORKERS\nci +0 +0 +0 +1 +0 +0 +0$/m);

    // A unique prefix is enough (both runs were created in other milliseconds).
    const cancel = await run('cancel', submitted.runId.slice(0, 13));
    expect(cancel.code, cancel.stderr).toBe(0);
    expect(cancel.stdout).toBe(`Cancelled run ${submitted.runId}: removed from the ci queue before it started\n`);
    const after = JSON.parse((await run('queue', '--json')).stdout) as typeof counts;
    expect(after.tiers.ci).toMatchObject({ prioritized: 0 });
    expect(after.tiers.nightly).toMatchObject({ prioritized: 1 });
    const again = await run('cancel', submitted.runId);
    expect(again.code).toBe(1);
    expect(again.stderr).toBe(`cairn: run ${submitted.runId} already ended (cancelled): nothing to cancel\n`);

    const store = await openStore({ home });
    try {
      expect(await store.getRun(submitted.runId)).toMatchObject({ status: 'cancelled', statusReason: 'cancelled before it started' });
    } finally {
      await store.close();
    }
  }, 120_000);

  it('lists the configured schedules, and what Redis has registered', async () => {
    const r = await run('schedules', '--json');
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({
      configured: [
        { tier: 'nightly', cron: '0 2 * * *', timezone: 'UTC', candidatesFrom: 'extended', snapshot: 'pinned' },
        { tier: 'weekly', cron: '0 3 * * 0', timezone: 'UTC', candidatesFrom: 'extended', snapshot: 'latest' },
      ],
      registered: [],
    });
    const table = await run('schedules');
    expect(table.stdout).toMatch(/^nightly +0 2 \* \* \* +UTC +extended +pinned +no *$/m);
    const down = await cli(['--home', home, 'schedules'], { env: { ...env, REDIS_URL: 'redis://127.0.0.1:1' } });
    expect(down.code).toBe(0);
    expect(down.stdout).toMatch(/^weekly +0 3 \* \* 0 +UTC +extended +latest +\? *$/m);
    expect(down.stderr).toMatch(/^Registered schedulers not shown: Redis at redis:\/\/127\.0\.0\.1:1 is not answering/m);
  }, 120_000);

  it('refuses --wait on the embedded store (a worker would hold it)', async () => {
    const r = await run('submit', ...IRIS, '--wait');
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^cairn: --wait needs a shared store: start 'cairn worker'/);
  }, 120_000);

  it('fails fast, with how to get Redis, when nothing answers', async () => {
    const down = { ...env, REDIS_URL: 'redis://127.0.0.1:1' };
    for (const args of [['queue'], ['queue', '--watch'], ['cancel', '0000'], ['submit', ...IRIS], ['worker']]) {
      const t = Date.now();
      const r = await cli(['--home', home, ...args], { env: down });
      expect(r.code, `${args.join(' ')}: ${r.stderr}`).toBe(1);
      expect(r.stderr).toMatch(/^cairn: Redis at redis:\/\/127\.0\.0\.1:1 is not answering \(.+\): start one \(`redis-server`, or `docker run -p 6379:6379 redis:7`\) or point REDIS_URL at yours\n$/);
      expect(Date.now() - t, args.join(' ')).toBeLessThan(15_000);
    }
  }, 120_000);
});

const postgres = testDrivers().find((e) => e.name === 'postgres');
if (!postgres) console.log('skipping the CLI + worker process tests on a shared store: set DATABASE_URL to a PostgreSQL server to run them');

/**
 * A `cairn worker` process and the CLI sharing a PostgreSQL store (the embedded one allows
 * one process): `cairn ci` goes through the queue when a worker consumes it, `cairn submit
 * --wait` reports the worker's verdict, `cairn queue` counts the jobs and lists the worker,
 * the worker's /metrics counts them, and SIGTERM stops it with exit 0.
 */
describe.skipIf(!postgres)('the CLI with a worker process on PostgreSQL', () => {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'cairn-workerq-'));
  const home = path.join(tmp, 'home');
  const config = writeConfig(tmp, 'cairn.config.ts', { ci: { gate: PASS_GATE, promotesTo: null } });
  let redis: TestRedis;
  let env: NodeJS.ProcessEnv;
  let args: string[];
  let worker: ReturnType<typeof spawnCli> | undefined;
  let metricsUrl = '';

  beforeAll(async () => {
    redis = await testRedis();
    const loc = await postgres!.fresh();
    args = storeArgs(loc);
    // With PostgreSQL, CAIRN_HOME holds the blobs the CLI writes and the worker reads.
    env = { CAIRN_BLOBS: '', CAIRN_BACKEND: '', CAIRN_HOME: home, REDIS_URL: redis.url, CAIRN_QUEUE_PREFIX: redis.prefix };
    expect((await cli([...args, 'init'], { env })).code).toBe(0);
    worker = spawnCli([...args, 'worker', '--tiers', 'ci', '--metrics-port', '0', '--config', config], { env });
    metricsUrl = (await worker.waitFor(/metrics (http:\/\/\S+)/))[1]!;
  });
  afterAll(async () => {
    worker?.proc.kill('SIGKILL');
    await postgres?.cleanup();
    await redis?.close();
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  it('cairn ci goes through the queue: the worker trains and gates, the CLI reports and writes JUnit', async () => {
    const junit = path.join(tmp, 'ci.xml');
    const r = await cli([...args, 'ci', ...IRIS, '--config', config, '--junit', junit], { env });
    expect(r.code, r.stderr + r.stdout).toBe(0);
    expect(r.stderr).toMatch(new RegExp(`^Queueing on ${redis.prefix}-ci: a worker trains it$`, 'm'));
    const runId = /^Run ([0-9a-f-]{36}) \(\S+\) finished$/m.exec(r.stdout)?.[1];
    expect(r.stdout).toContain(`Gate ci passed: ${PASS_GATE}\n  status           finished\n  metrics.val_acc  0.`);
    const xml = fs.readFileSync(junit, 'utf8');
    expect(xml).toContain('<property name="mode" value="queue"/>');
    expect(xml).toContain(`<property name="run" value="${runId}"/>`);
    expect(xml).toMatch(/failures="0" errors="0"/);
    await worker!.waitFor(new RegExp(`\\[ci\\] run ${runId} finished in [\\d.]+ s; gate passed`));
  }, 120_000);

  it('cairn submit --wait prints the run and the verdict the worker recorded', async () => {
    const r = await cli([...args, 'submit', 'examples/iris-mlp/train.ts', '--tier', 'ci', '--dataset', 'iris-mlp-data', '--wait', '--timeout', '100', '--json'], { env });
    expect(r.code, r.stderr).toBe(0);
    const j = JSON.parse(r.stdout) as { runId: string; status: string; timedOut: boolean; gate: { passed: boolean; expression: string; values: Record<string, unknown> } };
    expect(j).toMatchObject({ status: 'finished', timedOut: false, gate: { passed: true, expression: PASS_GATE, values: { status: 'finished' } } });
    expect(r.stderr).toMatch(new RegExp(`^run ${j.runId} (queued|running)`, 'm'));
  }, 120_000);

  it('cairn queue counts the jobs and lists the worker; /metrics counts them; SIGTERM stops it with exit 0', async () => {
    const q = await cli(['queue', '--json'], { env });
    expect(q.code, q.stderr).toBe(0);
    const s = JSON.parse(q.stdout) as { tiers: Record<string, Record<string, number>>; workers: { tiers: string[]; pid: number; metricsUrl: string }[] };
    expect(s.tiers.ci).toMatchObject({ completed: 2, failed: 0, active: 0, prioritized: 0, workers: 1 });
    expect(s.workers).toEqual([expect.objectContaining({ tiers: ['ci'], metricsUrl })]);

    const body = await (await fetch(metricsUrl)).text();
    expect(body).toMatch(/^cairn_worker_jobs_total\{tier="ci",status="finished"\} 2$/m);
    expect(body).toMatch(/^cairn_worker_gates_total\{tier="ci",verdict="passed"\} 2$/m);

    worker!.proc.kill('SIGTERM');
    expect(await worker!.exited).toEqual({ code: 0, signal: null });
    expect(worker!.stderr()).toMatch(/SIGTERM: taking no more jobs; running ones checkpoint and go back to the queue\n.*stopped\n$/);
    worker = undefined;
  }, 60_000);
});
