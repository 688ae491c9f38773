import type { RunDetail, SearchRunsInput, Store } from '@cairn/store';
import { progress, type BenchContext, type BenchResult } from './context.ts';
import { Handles, type BenchEngine, type Raw } from './engines.ts';
import type { ResultRow } from './report.ts';
import { formatCount, formatInt, formatMs, median, p95, summarize } from './stats.ts';
import { traceQueries } from './trace.ts';

/**
 * search: Store.searchRuns latency over 100,000 runs with 20 params and 10 metric
 * summaries each, against an unfiltered listing (newest first) timed the same way.
 */

export const SEARCH_TARGET_P95_MS = 100;

const RUNS = { postgres: 100_000, pglite: 100_000 } as const;
const QUICK_RUNS = 10_000;
const EXPERIMENTS = 20;
const WARMUP = 3;
const REPS = 30;

/** The filter of the headline query. */
export const FILTER_OR_RANGE =
  "(params.optimizer = 'adam' OR params.optimizer = 'sgd') AND metrics.val_accuracy >= 0.8 AND metrics.val_accuracy < 0.9";
export const FILTER_NOT_IN_TAG = "NOT status = 'failed' AND params.layers IN (2,4) OR tags.team = 'vision'";

/**
 * Set-based seeding, run inside the store's own database after its migrations.
 * $1: experiment ids as a uuid[] literal, $2: number of runs, $3: the newest run's
 * creation time. Ids are UUIDv7 built from created_at, as the store's newId() would
 * make them, so id order is creation order. Runs are 5 minutes apart (100k ≈ a year).
 */
const SEED_RUNS = `
INSERT INTO runs (id, experiment_id, name, status, created_at, started_at, ended_at, heartbeat_at, attempts)
SELECT
  (lpad(to_hex((extract(epoch FROM c) * 1000)::int8), 12, '0') || '7' || substr(h, 1, 3) || '8' || substr(h, 4, 15))::uuid,
  e[1 + i % cardinality(e)],
  'run-' || lpad(i::text, 6, '0'),
  s, c, c + interval '10 seconds',
  CASE WHEN s = 'running' THEN NULL ELSE c + interval '1 hour' END,
  c + interval '1 hour', 1
FROM (
  SELECT i, md5('cairn-bench-' || i) AS h, $3::timestamptz - ($2::int - i) * interval '5 minutes' AS c, $1::uuid[] AS e,
    CASE WHEN r < 0.70 THEN 'finished' WHEN r < 0.85 THEN 'failed' WHEN r < 0.93 THEN 'abandoned' ELSE 'running' END AS s
  FROM (SELECT i, random() AS r FROM generate_series(1, $2::int) AS i) g
) x`;

/**
 * 20 params per run. value_num follows paramValueNum (libs/store/src/filter/numeric.ts):
 * a number exactly when the text is a plain decimal; every value here that looks
 * like a number is one (no hex, no Infinity), so the same regex decides it.
 */
const SEED_PARAMS = String.raw`
INSERT INTO params (run_id, key, value, value_num)
SELECT id, key, value, CASE WHEN value ~ '^[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][+-]?[0-9]+)?$' THEN value::float8 END
FROM (
  SELECT r.id, v.key, v.value
  FROM (
    SELECT id, random() r0, random() r1, random() r2, random() r3, random() r4, random() r5, random() r6, random() r7, random() r8, random() r9,
      random() r10, random() r11, random() r12, random() r13, random() r14, random() r15, random() r16, random() r17, random() r18, random() r19
    FROM runs
  ) r
  CROSS JOIN LATERAL (VALUES
    ('optimizer', (ARRAY['adam', 'sgd', 'rmsprop'])[1 + floor(r.r0 * 3)::int]),
    ('lr', round((10 ^ (-5 + r.r1 * 4))::numeric, 7)::text),
    ('layers', (1 + floor(r.r2 * 8))::int::text),
    ('batch_size', (ARRAY['32', '64', '128', '256'])[1 + floor(r.r3 * 4)::int]),
    ('dropout', round((floor(r.r4 * 6) / 10)::numeric, 1)::text),
    ('weight_decay', round((10 ^ (-6 + r.r5 * 3))::numeric, 8)::text),
    ('epochs', (10 + floor(r.r6 * 91))::int::text),
    ('warmup_steps', (floor(r.r7 * 20) * 100)::int::text),
    ('hidden_size', (ARRAY['128', '256', '512', '1024'])[1 + floor(r.r8 * 4)::int]),
    ('activation', (ARRAY['relu', 'gelu', 'tanh', 'silu'])[1 + floor(r.r9 * 4)::int]),
    ('scheduler', (ARRAY['cosine', 'linear', 'constant', 'step'])[1 + floor(r.r10 * 4)::int]),
    ('seed', floor(r.r11 * 100000)::int::text),
    ('momentum', (ARRAY['0.9', '0.95', '0.99'])[1 + floor(r.r12 * 3)::int]),
    ('grad_clip', (ARRAY['0.5', '1.0', '5.0'])[1 + floor(r.r13 * 3)::int]),
    ('dataset', (ARRAY['cifar10', 'cifar100', 'imagenet-64', 'tiny-imagenet'])[1 + floor(r.r14 * 4)::int]),
    ('augment', (ARRAY['true', 'false'])[1 + floor(r.r15 * 2)::int]),
    ('precision', (ARRAY['fp32', 'fp16', 'bf16'])[1 + floor(r.r16 * 3)::int]),
    ('label_smoothing', (ARRAY['0', '0.05', '0.1'])[1 + floor(r.r17 * 3)::int]),
    ('num_heads', (ARRAY['1', '2', '4', '8'])[1 + floor(r.r18 * 4)::int]),
    ('model', (ARRAY['resnet18', 'resnet50', 'vit-tiny', 'mlp'])[1 + floor(r.r19 * 4)::int])
  ) AS v(key, value)
) p`;

/**
 * 10 metric summaries per run (3% of runs logged none). q is the run's quality, so
 * accuracy, val_accuracy and the losses agree; val_accuracy.last is uniform on
 * [0.48, 0.98), so [0.8, 0.9) holds about a fifth of the runs.
 */
const SEED_METRICS = `
INSERT INTO metric_summaries (run_id, key, last, last_step, last_wall_ms, min, max, count)
SELECT r.id, v.key, v.last, r.steps - 1, r.wall, least(v.lo, v.last), greatest(v.hi, v.last), r.steps
FROM (
  SELECT id, q, a, b, c, steps, (extract(epoch FROM created_at) * 1000)::int8 + 3600000 AS wall
  FROM (
    SELECT id, created_at, random() q, random() a, random() b, random() c, random() d, (100 + floor(random() * 9900))::int8 AS steps FROM runs
  ) x
  WHERE d >= 0.03
) r
CROSS JOIN LATERAL (VALUES
  ('val_accuracy', 0.48 + 0.5 * r.q, 0.1 + 0.1 * r.a, 0.48 + 0.5 * r.q + 0.01 * r.b),
  ('accuracy', least(0.999, 0.5 + 0.49 * r.q + 0.01 * r.a), 0.1 + 0.1 * r.b, least(1.0, 0.5 + 0.49 * r.q + 0.01 * r.a + 0.005 * r.c)),
  ('loss', 0.05 + 2.0 * (1 - r.q) + 0.1 * r.a, (0.05 + 2.0 * (1 - r.q) + 0.1 * r.a) * (0.9 + 0.1 * r.b), 2.3 + r.c),
  ('val_loss', 0.08 + 2.2 * (1 - r.q) + 0.2 * r.a, (0.08 + 2.2 * (1 - r.q) + 0.2 * r.a) * (0.85 + 0.15 * r.b), 2.4 + r.c),
  ('precision', 0.45 + 0.5 * r.q * (0.95 + 0.05 * r.a), 0.05 * r.b, 0.46 + 0.5 * r.q + 0.01 * r.c),
  ('recall', 0.45 + 0.5 * r.q * (0.9 + 0.1 * r.b), 0.05 * r.a, 0.46 + 0.5 * r.q + 0.01 * r.c),
  ('f1', 0.45 + 0.5 * r.q * (0.92 + 0.08 * r.c), 0.05 * r.a, 0.46 + 0.5 * r.q + 0.01 * r.b),
  ('auc', 0.6 + 0.39 * r.q, 0.5 + 0.05 * r.a, 0.6 + 0.39 * r.q + 0.005 * r.b),
  ('grad_norm', 0.1 + 4 * r.a, 0.01 + 0.05 * r.b, 5 + 20 * r.c),
  ('throughput', 500 + 3500 * r.b, (500 + 3500 * r.b) * 0.8, (500 + 3500 * r.b) * 1.2)
) AS v(key, last, lo, hi)`;

/** A team tag on 80% of runs (a quarter of them 'vision'), an owner on half. */
const SEED_TAGS = `
INSERT INTO run_tags (run_id, key, value)
SELECT id, 'team', (ARRAY['vision', 'nlp', 'speech', 'rl'])[1 + floor(random() * 4)::int] FROM runs WHERE random() < 0.8
UNION ALL
SELECT id, 'owner', (ARRAY['ana', 'ben', 'chen', 'dara', 'eli', 'fay'])[1 + floor(random() * 6)::int] FROM runs WHERE random() < 0.5`;

/** Hand-written counts of what each filter matches in the seeded data (untimed, for context). */
const COUNT_Q1 = `
SELECT count(*)::int AS n FROM runs r
WHERE EXISTS (SELECT 1 FROM params p WHERE p.run_id = r.id AND p.key = 'optimizer' AND p.value IN ('adam', 'sgd'))
  AND EXISTS (SELECT 1 FROM metric_summaries m WHERE m.run_id = r.id AND m.key = 'val_accuracy' AND m.last >= 0.8 AND m.last < 0.9)`;
const COUNT_Q3 = `
SELECT count(*)::int AS n FROM runs r
WHERE (r.status <> 'failed' AND EXISTS (SELECT 1 FROM params p WHERE p.run_id = r.id AND p.key = 'layers' AND p.value_num IN (2, 4)))
   OR EXISTS (SELECT 1 FROM run_tags t WHERE t.run_id = r.id AND t.key = 'team' AND t.value = 'vision')`;

async function seed(raw: Raw, experimentIds: string[], runs: number): Promise<Record<string, number>> {
  const took: Record<string, number> = {};
  const step = async (name: string, text: string, params: unknown[] = []) => {
    const t = performance.now();
    await raw.query(text, params);
    took[name] = performance.now() - t;
    progress(`  seeded ${name} in ${formatMs(took[name]!)}`);
  };
  await raw.query('SELECT setseed(0.42)');
  await step('runs', SEED_RUNS, [`{${experimentIds.join(',')}}`, runs, '2026-01-01T00:00:00Z']);
  // Bulk-load speed-ups that leave the schema as the migrations made it: the
  // secondary indexes are dropped and rebuilt from their own definitions, and
  // foreign-key triggers are skipped for this session (every row is generated
  // from the runs table, so the keys hold by construction).
  const indexes = await raw.query<{ name: string; def: string }>(
    `SELECT indexname AS name, indexdef AS def FROM pg_indexes
     WHERE schemaname = current_schema() AND tablename IN ('params', 'metric_summaries', 'run_tags')
       AND indexname NOT IN (SELECT conname FROM pg_constraint)`,
  );
  // Skipping the triggers needs superuser; without it the foreign keys are checked.
  const replica = await raw.query('SET session_replication_role = replica').then(
    () => true,
    (e: Error) => (progress(`  foreign-key triggers stay on (${e.message})`), false),
  );
  for (const i of indexes) await raw.query(`DROP INDEX "${i.name}"`);
  await step('params', SEED_PARAMS);
  await step('metric_summaries', SEED_METRICS);
  await step('run_tags', SEED_TAGS);
  if (replica) await raw.query('SET session_replication_role = DEFAULT');
  const t = performance.now();
  for (const i of indexes) await raw.query(i.def);
  took.indexes = performance.now() - t;
  progress(`  rebuilt ${indexes.length} indexes (${indexes.map((i) => i.name).join(', ')}) in ${formatMs(took.indexes)}`);
  await step('ANALYZE', 'ANALYZE');
  return took;
}

interface Case {
  name: string;
  input: SearchRunsInput;
  /** Checks a page (untimed, once): throws when the store returned something wrong. */
  check?: (runs: RunDetail[]) => void;
  baseline?: boolean;
}

const num = (r: RunDetail, key: string) => r.metrics[key]?.last ?? NaN;

function checkQ1(runs: RunDetail[], sorted: 'val_accuracy' | 'created'): void {
  if (runs.length !== 100) throw new Error(`expected a full page of 100 runs, got ${runs.length}`);
  runs.forEach((r, i) => {
    const va = num(r, 'val_accuracy');
    if (!['adam', 'sgd'].includes(r.params.optimizer ?? '') || !(va >= 0.8 && va < 0.9)) throw new Error(`run ${r.id} does not match the filter`);
    const prev = runs[i - 1];
    if (prev && (sorted === 'val_accuracy' ? num(prev, 'val_accuracy') < va : prev.createdAt < r.createdAt)) throw new Error(`runs out of ${sorted} order at ${i}`);
  });
}

export async function searchBench(engine: BenchEngine, ctx: BenchContext): Promise<BenchResult> {
  const runCount = ctx.quick ? QUICK_RUNS : RUNS[engine.name];
  const rows: ResultRow[] = [];
  const notes: string[] = [];
  const { place, store: first } = await engine.create();
  const h = new Handles(engine, place, first);
  try {
    // The store's migrations have run; experiments through the store, everything else set-based.
    const exps = [];
    for (let i = 0; i < EXPERIMENTS; i++) exps.push(await first.ensureExperiment({ name: `exp-${String(i).padStart(2, '0')}` }));
    progress(`${engine.name}: seeding ${formatInt(runCount)} runs × 20 params × 10 metrics`);
    const raw = await h.raw();
    const t0 = performance.now();
    const took = await seed(raw, exps.map((e) => e.id), runCount);
    const seedMs = performance.now() - t0;
    const [q1Count] = await raw.query<{ n: number }>(COUNT_Q1);
    const [q3Count] = await raw.query<{ n: number }>(COUNT_Q3);
    const [sizes] = await raw.query<{ runs: number; params: number; ms: number; tags: number }>(
      `SELECT (SELECT count(*) FROM runs)::int AS runs, (SELECT count(*) FROM params)::int AS params,
              (SELECT count(*) FROM metric_summaries)::int AS ms, (SELECT count(*) FROM run_tags)::int AS tags`,
    );
    notes.push(
      `search: seeded ${formatInt(sizes!.runs)} runs, ${formatInt(sizes!.params)} params, ${formatInt(sizes!.ms)} metric summaries, ` +
        `${formatInt(sizes!.tags)} tags in ${formatMs(seedMs)} (params ${formatMs(took.params!)}); the OR + range filter matches ` +
        `${formatInt(q1Count!.n)} runs, the NOT/IN/OR filter ${formatInt(q3Count!.n)}`,
    );

    const store: Store = await h.store();
    const q1: SearchRunsInput = { filter: FILTER_OR_RANGE, orderBy: ['metrics.val_accuracy desc'], limit: 100 };
    const page1 = await store.searchRuns(q1);
    if (!page1.nextCursor) throw new Error('the OR + range query returned no next page');
    checkQ1(page1.runs, 'val_accuracy');
    const cases: Case[] = [
      { name: 'unfiltered, newest first (baseline)', input: { limit: 100 }, baseline: true },
      { name: 'OR + metric range, by val_accuracy desc', input: q1, check: (r) => checkQ1(r, 'val_accuracy') },
      { name: 'OR + metric range, by created desc', input: { ...q1, orderBy: ['created desc'] }, check: (r) => checkQ1(r, 'created') },
      {
        name: 'NOT status, IN, OR tag',
        input: { filter: FILTER_NOT_IN_TAG, limit: 100 },
        check: (runs) =>
          runs.forEach((r, i) => {
            const ok = (r.status !== 'failed' && ['2', '4'].includes(r.params.layers ?? '')) || r.tags.team === 'vision';
            if (!ok) throw new Error(`run ${r.id} does not match the NOT/IN/OR filter`);
            if (i > 0 && runs[i - 1]!.createdAt < r.createdAt) throw new Error(`runs out of created order at ${i}`);
          }),
      },
      {
        name: 'OR + metric range, page 2 via cursor',
        input: { ...q1, cursor: page1.nextCursor },
        check: (r) => {
          checkQ1(r, 'val_accuracy');
          if (num(r[0]!, 'val_accuracy') > num(page1.runs[99]!, 'val_accuracy') || r.some((x) => page1.runs.some((y) => y.id === x.id)))
            throw new Error('page 2 overlaps or precedes page 1');
        },
      },
    ];
    for (const c of cases) {
      const res = await store.searchRuns(c.input);
      if (res.runs.length !== 100) throw new Error(`${c.name}: expected 100 runs, got ${res.runs.length}`);
      c.check?.(res.runs);
    }

    // Round-robin over the cases, so background noise falls on all of them alike.
    const samples = new Map<Case, number[]>(cases.map((c) => [c, []]));
    for (let rep = 0; rep < WARMUP + REPS; rep++) {
      for (const c of cases) {
        const t = performance.now();
        await store.searchRuns(c.input);
        const ms = performance.now() - t;
        if (rep >= WARMUP) samples.get(c)!.push(ms);
      }
      if ((rep + 1) % 11 === 0) progress(`${engine.name}: ${rep + 1}/${WARMUP + REPS} rounds`);
    }
    const base = samples.get(cases[0]!)!;
    const baseP50 = median(base);
    const baseP95 = p95(base);
    const runsLabel = `${formatCount(runCount)} runs`;
    for (const c of cases) {
      const s = summarize(samples.get(c)!);
      rows.push({
        bench: 'search',
        engine: engine.name,
        case: `${c.name}, ${runsLabel}`,
        value: s.p95,
        unit: 'ms',
        stat: `p95 of ${s.n}`,
        extra: `p50 ${formatMs(s.median)}`,
        // The target is PostgreSQL's; PGlite is reported beside it, without one.
        ...(c.baseline ? { baseline: true } : engine.name === 'postgres' ? { target: { op: '<=' as const, value: SEARCH_TARGET_P95_MS } } : {}),
        ...(c.baseline ? {} : { ratios: [{ vs: 'unfiltered p95', value: s.p95 / baseP95 }, { vs: 'unfiltered p50', value: s.median / baseP50 }] }),
      });
    }
    notes.push(`search: filters: OR + range = ${FILTER_OR_RANGE}; NOT/IN/OR = ${FILTER_NOT_IN_TAG}`);
    if (engine.name === 'pglite') notes.push(`search: the ${SEARCH_TARGET_P95_MS} ms p95 target is PostgreSQL's; PGlite rows are reported without a verdict`);

    // Where the time goes: every statement of one traced call per case, and the
    // server's own account of the page query (EXPLAIN ANALYZE: execution and JIT time).
    const breakdown: string[] = [];
    for (const c of cases) {
      const { queries } = await traceQueries(() => store.searchRuns(c.input));
      const page = queries.find((q) => isPageQuery(q.text));
      let server = '';
      if (page) {
        const plan = (await page.rerun(`EXPLAIN (ANALYZE, BUFFERS) ${page.text}`, page.params)).map((r) => String(Object.values(r)[0]));
        const exec = /Execution Time: ([\d.]+) ms/.exec(plan.join('\n'))?.[1];
        const jit = /JIT:[\s\S]*?Timing:.*Total ([\d.]+) ms/.exec(plan.join('\n'))?.[1];
        server = exec ? ` [EXPLAIN ANALYZE: execution ${formatMs(Number(exec))}${jit ? `, of which JIT compilation ${formatMs(Number(jit))}` : ''}]` : '';
        if (ctx.explain) {
          notes.push(
            `search: EXPLAIN (ANALYZE, BUFFERS), ${c.name}:\n      SQL: ${page.text}\n      params: ${JSON.stringify(page.params)}\n` +
              plan.map((l) => `      ${l}`).join('\n'),
          );
        }
      }
      breakdown.push(`${c.name}: ${queries.map((q) => `${shortName(q.text)} ${formatMs(q.ms)}${q === page ? server : ''}`).join(', ')}`);
    }
    notes.push(
      `search: statements of one traced call per case (the page query, then the runs, then params/tags/summaries in parallel)${ctx.explain ? '' : '; --explain prints the plans'}:\n` +
        breakdown.map((b) => `      ${b}`).join('\n'),
    );
    return { rows, notes };
  } finally {
    await h.close().catch(() => {});
    await engine.cleanup();
  }
}

/** The statement that filters, sorts and pages (the rest fetch the page's details). */
function isPageQuery(text: string): boolean {
  return /^select "runs"\."id" as id/i.test(text.trim());
}

function shortName(text: string): string {
  const t = text.trim().replace(/\s+/g, ' ');
  if (isPageQuery(t)) return 'page query';
  const from = /from "?(\w+)"?/i.exec(t)?.[1];
  return from ? `select ${from}` : t.slice(0, 30);
}
