import { z } from 'zod';
import type { AliasMove, Deployment, ModelSummary, ModelVersion } from '@cairn/store';
import { authorizeModel, authorizeProject, visible } from '../access.ts';
import { projectName, ref } from '../inputs.ts';
import { procedure, router } from '../trpc.ts';

export interface ModelRow extends ModelSummary {
  project: string;
  projectId: string;
}

export interface ModelVersionView extends ModelVersion {
  /** Aliases pointing at this version now. */
  aliases: string[];
  deployments: Deployment[];
}

export interface ModelView {
  id: string;
  name: string;
  project: string;
  projectId: string;
  description: string;
  createdAt: Date;
  /** Newest first. */
  versions: ModelVersionView[];
  /** alias → version number */
  aliases: Record<string, number>;
  /** Every alias move, oldest first. */
  aliasHistory: AliasMove[];
  /** Every deployment of any version, newest first. */
  deployments: (Deployment & { version: number })[];
}

export const modelsRouter = router({
  list: procedure.input(z.object({ project: projectName }).optional()).query(async ({ ctx, input }): Promise<ModelRow[]> => {
    // Models are named per project: one listing per readable project (a handful, not one per model).
    const projects = input?.project ? [await authorizeProject(ctx, input.project, 'read')] : visible(ctx, await ctx.store.listProjects(), (p) => p.id);
    const lists = await Promise.all(projects.map(async (p) => (await ctx.store.listModels(p.name)).map((m) => ({ ...m, project: p.name, projectId: p.id }))));
    return lists.flat();
  }),

  get: procedure.input(z.object({ name: ref, project: projectName })).query(async ({ ctx, input }): Promise<ModelView> => {
    const model = await authorizeModel(ctx, input.name, 'read', input.project);
    const project = (await ctx.store.listProjects()).find((p) => p.id === model.projectId)!;
    const [history, deployments] = await Promise.all([
      ctx.store.aliasHistory(model.name, undefined, project.name),
      ctx.store.listDeploymentsOf(model.versions.map((v) => v.id)),
    ]);
    const versionOf = new Map(model.versions.map((v) => [v.id, v.version]));
    return {
      id: model.id,
      name: model.name,
      project: project.name,
      projectId: project.id,
      description: model.description,
      createdAt: model.createdAt,
      versions: model.versions.map((v) => ({
        ...v,
        aliases: Object.entries(model.aliases).filter(([, n]) => n === v.version).map(([a]) => a),
        deployments: deployments.filter((d) => d.modelVersionId === v.id),
      })),
      aliases: model.aliases,
      aliasHistory: history,
      deployments: deployments.map((d) => ({ ...d, version: versionOf.get(d.modelVersionId) ?? 0 })),
    };
  }),
});
