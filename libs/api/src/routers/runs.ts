import { z } from 'zod';
import { ValidationError } from '@cairn/schema';
import { MAX_COMPARE_RUNS, MAX_COMPARE_SERIES, type Artifact, type MetricSummary, type Note, type ParamDiff, type RunEnvironment } from '@cairn/store';
import { authorOf, authorizeRun, authorizeRunRefs, experimentScope } from '../access.ts';
import { gateView, pipelineView, type GateView, type PipelineView } from '../pipeline-view.ts';
import { key, markdown, ref, runRef } from '../inputs.ts';
import { experimentNames, toRunRow, toRunRows, type RunRow } from '../run-rows.ts';
import { chartOrder } from '../metric-keys.ts';
import { procedure, router } from '../trpc.ts';

export const MAX_PAGE = 500;
export const DEFAULT_PAGE = 200;
export const MAX_SERIES_KEYS = 50;
export const MAX_SERIES_POINTS = 20_000;
export { MAX_COMPARE_RUNS, MAX_COMPARE_SERIES };

export interface RunPage {
  runs: RunRow[];
  nextCursor: string | null;
  /** Runs over all pages, when asked for with `withTotal` (a count costs a pass over every match). */
  total?: number;
}

export interface SeriesOut {
  steps: number[];
  values: number[];
  /** Wall-clock ms since the epoch of each point. */
  times: number[];
  /** Points stored; `steps.length` is what was sent after downsampling. */
  total: number;
  method: 'none' | 'lttb' | 'minmax';
}

export interface RunView extends RunRow {
  projectId: string;
  environment: RunEnvironment;
  code: { gitSha: string | null; gitDirty: boolean | null; codeHash: string | null };
  snapshotIds: string[];
  attempts: number;
  heartbeatAt: Date | null;
  /** Full summaries (last step and wall time too). */
  summaries: Record<string, MetricSummary>;
  notes: Note[];
  artifacts: Artifact[];
  /** What the pipeline decided: gate verdicts per tier, champion decisions, sweep or trial (never read from tags). */
  pipeline: PipelineView;
}

export type { ParamDiff };

export interface RunComparison {
  runs: RunRow[];
  series: Record<string, Record<string, { steps: number[]; values: number[] }>>;
  /** The metrics whose series were read. */
  keys: string[];
  /** With `keys: 'all'`: the runs' other metrics, left for further requests (too many series for one). */
  moreKeys: string[];
  paramDiff: ParamDiff[];
}

const experimentIdsInput = z.array(ref).max(200, 'at most 200 experiments at once').optional();

/** A gate verdict with the run it was on. */
export interface GateVerdictRow {
  run: RunRow;
  gate: GateView;
}


export const runsRouter = router({
  search: procedure
    .input(
      z.object({
        experimentIds: experimentIdsInput,
        filter: z.string().max(10_000, 'a filter is at most 10,000 characters').optional(),
        orderBy: z.array(z.string().min(1).max(300)).max(5, 'sort by at most 5 fields').optional(),
        limit: z.number().int().min(1).max(MAX_PAGE).default(DEFAULT_PAGE),
        cursor: z.string().max(10_000).nullish(),
        /** Runs of archived experiments too (implied when experiments are named). */
        includeArchived: z.boolean().optional(),
        withTotal: z.boolean().optional(),
      }),
    )
    .query(async ({ ctx, input }): Promise<RunPage> => {
      const experimentIds = await experimentScope(ctx, input.experimentIds);
      if (experimentIds && experimentIds.length === 0) return { runs: [], nextCursor: null, ...(input.withTotal ? { total: 0 } : {}) };
      const query = {
        experimentIds: experimentIds ?? undefined,
        filter: input.filter?.trim() || undefined,
        includeArchived: input.includeArchived ?? Boolean(input.experimentIds?.length),
      };
      const [page, total] = await Promise.all([
        ctx.store.searchRuns({ ...query, orderBy: input.orderBy, limit: input.limit, cursor: input.cursor ?? null }),
        input.withTotal ? ctx.store.countRuns(query) : Promise.resolve(undefined),
      ]);
      return { runs: await toRunRows(ctx.store, page.runs), nextCursor: page.nextCursor, ...(total !== undefined ? { total } : {}) };
    }),

  /** The newest gate verdicts the pipeline recorded (of the runs the viewer may read), with their runs. */
  gates: procedure
    .input(z.object({ experimentIds: experimentIdsInput, limit: z.number().int().min(1).max(MAX_PAGE).default(20) }).optional())
    .query(async ({ ctx, input }): Promise<GateVerdictRow[]> => {
      const experimentIds = await experimentScope(ctx, input?.experimentIds);
      const gates = await ctx.store.listGateResults({ ...(experimentIds ? { experimentIds } : {}), limit: input?.limit ?? 20 });
      const runs = new Map((await toRunRows(ctx.store, await ctx.store.getRuns([...new Set(gates.map((g) => g.runId))]))).map((r) => [r.id, r]));
      return gates.flatMap((g) => {
        const run = runs.get(g.runId);
        return run ? [{ run, gate: gateView(g) }] : [];
      });
    }),

  columns: procedure.input(z.object({ experimentIds: experimentIdsInput }).optional()).query(async ({ ctx, input }) => {
    const experimentIds = await experimentScope(ctx, input?.experimentIds);
    if (experimentIds && experimentIds.length === 0) return { params: [], metrics: [], tags: [] };
    return ctx.store.runColumns({ experimentIds: experimentIds ?? undefined });
  }),

  get: procedure.input(z.object({ id: runRef })).query(async ({ ctx, input }): Promise<RunView> => {
    const id = await authorizeRun(ctx, input.id, 'read');
    const [run, notes, artifacts, decisions] = await Promise.all([ctx.store.getRun(id), ctx.store.listNotes({ kind: 'run', id }), ctx.store.listArtifacts(id), ctx.store.getPipelineDecisions(id)]);
    const [experiment] = await ctx.store.getExperiments([run.experimentId]);
    return {
      ...toRunRow(run, experiment?.name ?? ''),
      projectId: experiment?.projectId ?? '',
      environment: run.environment,
      code: { gitSha: run.gitSha, gitDirty: run.gitDirty, codeHash: run.codeHash },
      snapshotIds: run.snapshotIds,
      attempts: run.attempts,
      heartbeatAt: run.heartbeatAt,
      summaries: run.metrics,
      notes,
      artifacts,
      pipeline: pipelineView(decisions, run.queuePrefix),
    };
  }),

  series: procedure
    .input(
      z.object({
        runId: runRef,
        keys: z.array(key).min(1, 'name at least one metric').max(MAX_SERIES_KEYS, `at most ${MAX_SERIES_KEYS} metrics at once`),
        maxPoints: z.number().int().min(4).max(MAX_SERIES_POINTS).default(1_000),
        method: z.enum(['lttb', 'minmax']).optional(),
      }),
    )
    .query(async ({ ctx, input }): Promise<Record<string, SeriesOut>> => {
      const id = await authorizeRun(ctx, input.runId, 'read');
      const keys = [...new Set(input.keys)];
      const series = await ctx.store.getMetricSeriesMany(keys.map((k) => ({ runId: id, key: k })), { maxPoints: input.maxPoints, method: input.method });
      return Object.fromEntries(
        series.map((s) => [s.key, { steps: s.points.map((p) => p.step), values: s.points.map((p) => p.value), times: s.points.map((p) => p.wallMs), total: s.total, method: s.method }]),
      );
    }),

  compare: procedure
    .input(
      z.object({
        runIds: z.array(runRef).min(1, 'compare at least one run').max(MAX_COMPARE_RUNS, `compare at most ${MAX_COMPARE_RUNS} runs`),
        /**
         * The metrics whose series to read: a list, or 'all' for every metric the runs
         * have, the model's first, as many as fit in one request (runs × keys ≤ 1,000,
         * at most 50 keys); the rest are named in `moreKeys`. Absent: none.
         */
        keys: z.union([z.array(key).max(MAX_SERIES_KEYS, `at most ${MAX_SERIES_KEYS} metrics at once`), z.literal('all')]).optional(),
        maxPoints: z.number().int().min(4).max(MAX_SERIES_POINTS).default(500),
      }),
    )
    .query(async ({ ctx, input }): Promise<RunComparison> => {
      const refs = [...new Set(input.runIds.map((r) => r.toLowerCase()))];
      const asked = input.keys === 'all' ? null : [...new Set(input.keys ?? [])];
      if (asked && refs.length * asked.length > MAX_COMPARE_SERIES) {
        throw new ValidationError(`${refs.length} runs × ${asked.length} metrics is more than ${MAX_COMPARE_SERIES} series; compare fewer`);
      }
      const resolved = await authorizeRunRefs(ctx, refs, 'read');
      const compared = await ctx.store.compareRuns(
        resolved.map((r) => r.id),
        { keys: input.keys, maxPoints: input.maxPoints, maxSeries: MAX_COMPARE_SERIES, maxKeys: MAX_SERIES_KEYS, order: chartOrder },
      );
      const names = await experimentNames(ctx.store, compared.runs.map((d) => d.experimentId));
      return { ...compared, runs: compared.runs.map((d) => toRunRow(d, names.get(d.experimentId) ?? '')) };
    }),

  addNote: procedure.input(z.object({ runId: runRef, body: markdown })).mutation(async ({ ctx, input }): Promise<Note> => {
    const id = await authorizeRun(ctx, input.runId, 'write');
    return ctx.store.addNote({ kind: 'run', id }, input.body, authorOf(ctx.viewer));
  }),

  setTags: procedure
    .input(z.object({ runId: runRef, tags: z.record(key, z.string().max(64 * 1024, 'a tag value is at most 64 KiB')) }))
    .mutation(async ({ ctx, input }) => {
      const id = await authorizeRun(ctx, input.runId, 'write');
      await ctx.store.setTags(id, input.tags);
      return { runId: id, tags: (await ctx.store.getRun(id)).tags };
    }),

  deleteTag: procedure.input(z.object({ runId: runRef, key })).mutation(async ({ ctx, input }) => {
    const id = await authorizeRun(ctx, input.runId, 'write');
    await ctx.store.deleteTag(id, input.key);
    return { runId: id, tags: (await ctx.store.getRun(id)).tags };
  }),
});
