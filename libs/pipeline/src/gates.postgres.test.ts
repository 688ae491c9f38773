import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FilterSyntaxError, ValidationError } from '@cairn/schema';
import { parseFilter, type RunDetail, type Store } from '@cairn/store';
import { testDrivers } from '@cairn/store/testing';
import { DEFAULT_PIPELINE_CONFIG } from './config/index.ts';
import { GATE_NOTE_AUTHOR, applyGate, evaluateGate, gateFields, gateNote, recordGate, recordedGate } from './gates.ts';

describe.each(testDrivers())('gates on $name', (engine) => {
  let store: Store;
  let experimentId: string;
  /** A finished extended run: val_accuracy ends at 0.93, loss bottoms out at 0.41. */
  let good: RunDetail;
  /** A finished run without val_accuracy, whose loss went NaN at the end. */
  let partial: RunDetail;
  let abandoned: RunDetail;

  async function makeRun(input: {
    name: string;
    metrics: Record<string, number[]>;
    end: 'finished' | 'abandoned' | null;
    params?: Record<string, string | number>;
    tags?: Record<string, string>;
  }): Promise<RunDetail> {
    const run = await store.createRun({ experimentId, name: input.name, tier: 'extended', ...(input.params ? { params: input.params } : {}), ...(input.tags ? { tags: input.tags } : {}) });
    await store.startRun(run.id);
    const points = Object.entries(input.metrics).flatMap(([key, values]) => values.map((value, step) => ({ key, value, step })));
    if (points.length) await store.logMetrics(run.id, points);
    if (input.end) await store.endRun(run.id, input.end, input.end === 'abandoned' ? 'trend: val_loss rising' : null);
    return store.getRun(run.id);
  }

  beforeAll(async () => {
    store = await engine.open();
    experimentId = (await store.ensureExperiment({ name: 'gates' })).id;
    good = await makeRun({
      name: 'good',
      metrics: { val_accuracy: [0.71, 0.88, 0.93], loss: [0.9, 0.41, 0.45] },
      end: 'finished',
      params: { optimizer: 'adam', lr: 0.01 },
      tags: { team: 'vision' },
    });
    partial = await makeRun({ name: 'partial', metrics: { loss: [0.8, 0.3, Number.NaN] }, end: 'finished' });
    abandoned = await makeRun({ name: 'abandoned', metrics: { val_accuracy: [0.5, 0.4], loss: [1, 1.2] }, end: 'abandoned' });
  });
  afterAll(() => engine.cleanup());

  it('passes a run that meets every condition and shows exactly the values it read', () => {
    const expression = "status = 'finished' and metrics.val_accuracy >= 0.9 and metrics.loss.min < 0.5";
    expect(evaluateGate(expression, good)).toEqual({
      passed: true,
      expression,
      values: { status: 'finished', 'metrics.val_accuracy': 0.93, 'metrics.loss.min': 0.41 },
      missing: [],
    });
  });

  it('fails a run below a threshold, with the value that failed it', () => {
    const r = evaluateGate('metrics.val_accuracy >= 0.95 or metrics.loss < 0.3', good);
    expect(r.passed).toBe(false);
    expect(r.values).toEqual({ 'metrics.val_accuracy': 0.93, 'metrics.loss': 0.45 });
  });

  it("the default gate fails an abandoned run and passes a finished one", () => {
    const gate = DEFAULT_PIPELINE_CONFIG.tiers.extended.gate!;
    expect(evaluateGate(gate, abandoned)).toMatchObject({ passed: false, values: { status: 'abandoned' } });
    expect(evaluateGate(gate, good).passed).toBe(true);
  });

  it('fails a run missing a metric it names, even under NOT, and records it as null', () => {
    const r = evaluateGate('metrics.val_accuracy >= 0.9', partial);
    expect(r).toMatchObject({ passed: false, values: { 'metrics.val_accuracy': null }, missing: ['metrics.val_accuracy'] });
    // In the filter language alone NOT would select the run; a gate does not let it through.
    const negated = evaluateGate('not metrics.val_accuracy < 0.5', partial);
    expect(negated).toMatchObject({ passed: false, missing: ['metrics.val_accuracy'] });
    // The same expression on a run that has the metric is just the filter language.
    expect(evaluateGate('not metrics.val_accuracy < 0.5', good).passed).toBe(true);
  });

  it('treats a NaN metric as unusable, and shows it as the text NaN', () => {
    const r = evaluateGate('not metrics.loss > 1', partial);
    expect(r).toMatchObject({ passed: false, values: { 'metrics.loss': 'NaN' }, missing: ['metrics.loss'] });
    // min skips NaN, so the run's best loss is usable.
    expect(evaluateGate('metrics.loss.min < 0.5', partial)).toMatchObject({ passed: true, values: { 'metrics.loss.min': 0.3 } });
  });

  it('lets a gate that tests IS NULL decide about a missing metric itself', () => {
    const r = evaluateGate('metrics.val_accuracy is null or metrics.val_accuracy >= 0.9', partial);
    expect(r).toMatchObject({ passed: true, values: { 'metrics.val_accuracy': null }, missing: [] });
    expect(evaluateGate('metrics.val_accuracy is null or metrics.val_accuracy >= 0.9', abandoned).passed).toBe(false);
  });

  it('reads params, tags and attributes, and leaves missing tags to the filter language', () => {
    const r = evaluateGate("params.optimizer = 'adam' and params.lr <= 0.01 and tags.team = 'vision' and tier = 'extended' and ended >= '2020-01-01' and not tags.skip = 'true'", good);
    expect(r.passed).toBe(true);
    expect(r.values).toEqual({
      'params.optimizer': 'adam',
      'params.lr': '0.01',
      'tags.team': 'vision',
      tier: 'extended',
      ended: good.endedAt!.toISOString(),
      'tags.skip': null,
    });
    expect(r.missing).toEqual([]);
  });

  it('agrees with a search using the same expression whenever no metric is missing', async () => {
    const gates = [
      "status = 'finished' and metrics.val_accuracy >= 0.9",
      'metrics.loss.min < 0.5',
      'metrics.loss.max >= 1 or metrics.val_accuracy.count = 3',
      "not status = 'abandoned'",
      "name in ('good', 'partial') and metrics.loss.count >= 3",
    ];
    for (const gate of gates) {
      const found = new Set((await store.searchRuns({ experimentIds: [experimentId], filter: gate, limit: 100 })).runs.map((r) => r.id));
      for (const run of [good, partial, abandoned]) {
        const r = evaluateGate(gate, run);
        if (r.missing.length === 0) expect([gate, run.name, r.passed]).toEqual([gate, run.name, found.has(run.id)]);
        else expect(r.passed).toBe(false);
      }
    }
  });

  it('refuses expressions that do not parse, and empty ones', () => {
    expect(() => evaluateGate('metrics.acc >>= 1', good)).toThrow(FilterSyntaxError);
    expect(() => evaluateGate('   ', good)).toThrow(ValidationError);
  });

  it('records the verdict as a gate result a search can find, and as a note with the values; tags are left alone', async () => {
    const expression = 'metrics.val_accuracy >= 0.9 and metrics.loss.min < 0.5';
    const result = evaluateGate(expression, good);
    const tagsBefore = (await store.getRun(good.id)).tags;
    const { record, note } = await recordGate(store, good.id, result, 'extended');
    expect(record).toMatchObject({ runId: good.id, tier: 'extended', ...result, evaluatedAt: expect.any(Date) });
    expect(await store.listGateResults({ runIds: [good.id] })).toEqual([record]);
    expect((await store.getRun(good.id)).tags).toEqual(tagsBefore);

    const found = await store.searchRuns({ filter: "gate.extended = 'passed'" });
    expect(found.runs.map((r) => r.id)).toEqual([good.id]);

    expect(note.author).toBe(GATE_NOTE_AUTHOR);
    expect(note.body).toContain('**extended gate passed**');
    expect(note.body).toContain(`\`\`\`text\n${expression}\n\`\`\``);
    expect(note.body).toContain('| `metrics.val_accuracy` | 0.93 |');
    expect(note.body).toContain('| `metrics.loss.min` | 0.41 |');
    // The note is for people: the record is the verdict, and nothing reads the note back.
    expect(note.body).not.toContain('<!--');

    // A retried job records nothing twice.
    await recordGate(store, good.id, result, 'extended');
    expect(await store.listNotes({ kind: 'run', id: good.id })).toHaveLength(1);
  });

  it("records a failure with what was missing; each tier's verdict is its own, and a later gate may read an earlier one", async () => {
    const failed = await applyGate(store, partial.id, 'metrics.val_accuracy >= 0.9', 'extended');
    expect(failed.passed).toBe(false);
    expect(await recordedGate(store, partial.id, 'extended')).toMatchObject({ passed: false, missing: ['metrics.val_accuracy'] });
    const [note] = await store.listNotes({ kind: 'run', id: partial.id });
    expect(note!.body).toContain('**extended gate failed**');
    expect(note!.body).toContain('| `metrics.val_accuracy` | _missing_ |');
    expect(note!.body).toMatch(/no usable value for `metrics.val_accuracy`/);

    const passed = await applyGate(store, await store.getRun(partial.id), 'metrics.loss.min < 0.5', 'nightly');
    expect(passed.passed).toBe(true);
    expect((await store.listGateResults({ runIds: [partial.id] })).map((g) => [g.tier, g.passed]).sort()).toEqual([
      ['extended', false],
      ['nightly', true],
    ]);
    expect(await store.listNotes({ kind: 'run', id: partial.id })).toHaveLength(2);

    // gate.<tier> reads the recorded verdicts, not a tag of the same name.
    await store.setTags(partial.id, { gate: 'passed' });
    const chained = await applyGate(store, partial.id, "gate.nightly = 'passed' and gate.extended = 'passed'", 'weekly');
    expect(chained).toMatchObject({ passed: false, values: { 'gate.nightly': 'passed', 'gate.extended': 'failed' }, missing: [] });
    expect(evaluateGate("gate.nightly = 'passed'", partial).passed).toBe(false);
  });
});

describe('gate helpers', () => {
  it('collects each field once, in order, under its canonical name', () => {
    const expr = parseFilter("METRICS.acc > 1 and (metrics.acc.last < 2 or not tags.`a b` = 'x') and metrics.`val.loss`.min is not null and Status in ('finished')")!;
    expect(gateFields(expr).map((f) => f)).toEqual([
      { kind: 'metric', key: 'acc', agg: 'last' },
      { kind: 'tag', key: 'a b' },
      { kind: 'metric', key: 'val.loss', agg: 'min' },
      { kind: 'attribute', name: 'status' },
    ]);
  });

  it('writes notes whose markdown survives backticks and pipes in keys and values', () => {
    const body = gateNote(
      { passed: false, expression: "metrics.`a``b` > 1 and tags.t = 'x|y--z'", values: { 'metrics.`a``b`': null, 'tags.t': 'x|y--z' }, missing: ['metrics.`a``b`'] },
      'ci',
    );
    expect(body).toContain("```text\nmetrics.`a``b` > 1 and tags.t = 'x|y--z'\n```");
    expect(body).toContain('| ``` metrics.`a``b` ``` | _missing_ |');
    expect(body).toContain('| `x\\|y--z` |');
  });
});
