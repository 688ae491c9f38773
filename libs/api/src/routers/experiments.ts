import { z } from 'zod';
import type { ExperimentSummary, Note, RunStatus, Store } from '@cairn/store';
import { authorOf, authorizeExperiment, authorizeProject, visible } from '../access.ts';
import { markdown, projectName, ref } from '../inputs.ts';
import { objectiveOf, type Objective } from '../objective.ts';
import { procedure, router } from '../trpc.ts';

export interface ExperimentRow {
  id: string;
  name: string;
  /** The project's name. */
  project: string;
  projectId: string;
  description: string;
  archived: boolean;
  archivedAt: Date | null;
  createdAt: Date;
  tags: Record<string, string>;
  runCount: number;
  statusCounts: Partial<Record<RunStatus, number>>;
  lastActivity: Date | null;
  /** From the `objective` tag (see objectiveOf); null when the experiment names none. */
  objective: Objective | null;
  best: { metric: string; value: number; runId: string } | null;
}

export interface ExperimentDetail extends ExperimentRow {
  notes: Note[];
}

async function toRows(store: Store, list: readonly ExperimentSummary[]): Promise<ExperimentRow[]> {
  if (list.length === 0) return [];
  const projects = new Map((await store.listProjects()).map((p) => [p.id, p.name]));
  const objectives = new Map(list.flatMap((e) => {
    const o = objectiveOf(e.tags);
    return o ? [[e.id, o] as const] : [];
  }));
  const best = await store.bestRuns([...objectives].map(([experimentId, o]) => ({ experimentId, ...o })));
  const bestBy = new Map(best.map((b) => [b.experimentId, b]));
  return list.map((e) => {
    const b = bestBy.get(e.id);
    return {
      id: e.id,
      name: e.name,
      project: projects.get(e.projectId) ?? '',
      projectId: e.projectId,
      description: e.description,
      archived: e.archivedAt !== null,
      archivedAt: e.archivedAt,
      createdAt: e.createdAt,
      tags: e.tags,
      runCount: e.runCount,
      statusCounts: e.runCounts,
      lastActivity: e.lastActivityAt,
      objective: objectives.get(e.id) ?? null,
      best: b ? { metric: b.metric, value: b.value, runId: b.runId } : null,
    };
  });
}

export const experimentsRouter = router({
  list: procedure
    .input(z.object({ project: projectName, includeArchived: z.boolean().optional() }).optional())
    .query(async ({ ctx, input }): Promise<ExperimentRow[]> => {
      if (input?.project) await authorizeProject(ctx, input.project, 'read');
      const list = await ctx.store.listExperiments({ project: input?.project, includeArchived: input?.includeArchived });
      return toRows(ctx.store, visible(ctx, list, (e) => e.projectId));
    }),

  get: procedure.input(z.object({ id: ref, project: projectName })).query(async ({ ctx, input }): Promise<ExperimentDetail> => {
    const experiment = await authorizeExperiment(ctx, input.id, 'read', input.project);
    const project = (await ctx.store.listProjects()).find((p) => p.id === experiment.projectId);
    const [summaries, notes] = await Promise.all([
      ctx.store.listExperiments({ project: project?.name, includeArchived: true }),
      ctx.store.listNotes({ kind: 'experiment', id: experiment.id }),
    ]);
    const summary = summaries.find((s) => s.id === experiment.id) ?? { ...experiment, runCount: 0, runCounts: {}, lastActivityAt: null };
    const [row] = await toRows(ctx.store, [summary]);
    return { ...row!, notes };
  }),

  addNote: procedure.input(z.object({ experimentId: ref, body: markdown })).mutation(async ({ ctx, input }): Promise<Note> => {
    const experiment = await authorizeExperiment(ctx, input.experimentId, 'write');
    return ctx.store.addNote({ kind: 'experiment', id: experiment.id }, input.body, authorOf(ctx.viewer));
  }),
});
