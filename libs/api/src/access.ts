import { NotFoundError } from '@cairn/schema';
import type { Dataset, Experiment, ModelDetail, OwnedKind, Project, Store } from '@cairn/store';

/**
 * Every authorization decision of the API is made here. A procedure that reads or
 * changes a project-scoped object resolves the object's project and asks for a role:
 * reading needs `viewer`, writing (notes, tags, cancelling) `editor`. A refusal is the
 * very NotFoundError the store throws for an object that does not exist, so nobody can
 * learn what exists in a project they cannot see. Local mode (one user on their own
 * machine) allows everything and skips the lookups.
 */

export type Role = 'viewer' | 'editor' | 'admin';

export type Viewer =
  | { mode: 'local' }
  | {
      mode: 'team';
      userId: string;
      /** projectId → role; projects not in the map are invisible. */
      roles: ReadonlyMap<string, Role>;
    };

export type Need = 'read' | 'write' | 'admin';

export const LOCAL_VIEWER: Viewer = { mode: 'local' };

const RANK: Record<Role, number> = { viewer: 1, editor: 2, admin: 3 };
const NEEDS: Record<Need, number> = { read: 1, write: 2, admin: 3 };

interface AccessContext {
  store: Store;
  viewer: Viewer;
}

export function isLocal(viewer: Viewer): viewer is { mode: 'local' } {
  return viewer.mode === 'local';
}

export function canAccess(viewer: Viewer, projectId: string, need: Need): boolean {
  if (isLocal(viewer)) return true;
  const role = viewer.roles.get(projectId);
  return role !== undefined && RANK[role] >= NEEDS[need];
}

/** The projects a viewer may read; null means all of them (local mode). */
export function readableProjectIds(viewer: Viewer): Set<string> | null {
  if (isLocal(viewer)) return null;
  return new Set([...viewer.roles].filter(([, role]) => RANK[role] >= NEEDS.read).map(([id]) => id));
}

/** Who notes are by: the signed-in user in team mode, nobody in particular locally. */
export function authorOf(viewer: Viewer): string | undefined {
  return isLocal(viewer) ? undefined : viewer.userId;
}

/** Keeps the items whose project the viewer may read. */
export function visible<T>(ctx: AccessContext, items: readonly T[], projectOf: (item: T) => string): T[] {
  const readable = readableProjectIds(ctx.viewer);
  return readable ? items.filter((i) => readable.has(projectOf(i))) : [...items];
}

function denied(kind: string, id: string): NotFoundError {
  return new NotFoundError(kind, id);
}

/**
 * Checks an object the store already resolved (its id is known to exist): allowed when
 * any of its owning projects grants `need`, else the not-found error for `shownAs`.
 */
async function check(ctx: AccessContext, kind: OwnedKind, id: string, need: Need, shownAs: { kind: string; id: string }): Promise<void> {
  if (isLocal(ctx.viewer)) return;
  const owners = (await ctx.store.projectsOf(kind, [id]))[id] ?? [];
  if (!owners.some((p) => canAccess(ctx.viewer, p, need))) throw denied(shownAs.kind, shownAs.id);
}

/** The projects in which the viewer has `need`. */
function projectIdsWith(viewer: Exclude<Viewer, { mode: 'local' }>, need: Need): string[] {
  return [...viewer.roles].filter(([, role]) => RANK[role] >= NEEDS[need]).map(([id]) => id);
}

/**
 * A run by id or unique prefix, as its full id, when the viewer may `need` it. In team
 * mode the prefix is resolved among the runs they may `need` only, so another project's
 * run neither answers nor makes a prefix ambiguous.
 */
export async function authorizeRun(ctx: AccessContext, ref: string, need: Need): Promise<string> {
  if (isLocal(ctx.viewer)) return ctx.store.resolveRunId(ref);
  return ctx.store.resolveRunIdIn(ref, projectIdsWith(ctx.viewer, need));
}

/** Several runs by id or prefix, resolved and checked (full ids in one query); a refused one is not found under the caller's ref. */
export async function authorizeRunRefs(ctx: AccessContext, refs: readonly string[], need: Need): Promise<{ ref: string; id: string }[]> {
  const full = refs.filter((r) => r.length === 36).map((r) => r.toLowerCase());
  const owners = isLocal(ctx.viewer) || full.length === 0 ? {} : await ctx.store.projectsOf('run', full);
  return Promise.all(
    refs.map(async (ref) => {
      if (ref.length !== 36) return { ref, id: await authorizeRun(ctx, ref, need) };
      const id = ref.toLowerCase();
      if (!isLocal(ctx.viewer) && !(owners[id] ?? []).some((p) => canAccess(ctx.viewer, p, need))) throw denied('run', ref);
      return { ref, id };
    }),
  );
}

/** Filters run ids to those the viewer may read (queue listings mix every project's jobs). */
export async function readableRunIds(ctx: AccessContext, ids: readonly string[]): Promise<Set<string>> {
  if (isLocal(ctx.viewer)) return new Set(ids);
  const owners = await ctx.store.projectsOf('run', ids);
  return new Set(ids.filter((id) => (owners[id.toLowerCase()] ?? []).some((p) => canAccess(ctx.viewer, p, 'read'))));
}

export async function authorizeExperiment(ctx: AccessContext, ref: string, need: Need, project?: string): Promise<Experiment> {
  const experiment = await ctx.store.getExperiment(ref, project);
  if (!canAccess(ctx.viewer, experiment.projectId, need)) throw denied('experiment', ref);
  return experiment;
}

export async function authorizeDataset(ctx: AccessContext, ref: string, need: Need, project?: string): Promise<Dataset> {
  const dataset = await ctx.store.getDataset(ref, project);
  if (!canAccess(ctx.viewer, dataset.projectId, need)) throw denied('dataset', ref);
  return dataset;
}

/** A snapshot by id or unique prefix, as its full id, when one of the datasets recording it is readable. */
export async function authorizeSnapshot(ctx: AccessContext, ref: string): Promise<string> {
  const id = await ctx.store.resolveSnapshotId(ref);
  await check(ctx, 'snapshot', id, 'read', { kind: 'snapshot', id: ref });
  return id;
}

export async function authorizeModel(ctx: AccessContext, name: string, need: Need, project?: string): Promise<ModelDetail> {
  const model = await ctx.store.getModel(name, project);
  if (!canAccess(ctx.viewer, model.projectId, need)) throw denied('model', name);
  return model;
}

/** A project by name, when readable; for listings scoped to one project. */
export async function authorizeProject(ctx: AccessContext, name: string, need: Need): Promise<Project> {
  const project = (await ctx.store.listProjects()).find((p) => p.name === name);
  if (!project || !canAccess(ctx.viewer, project.id, need)) throw denied('project', name);
  return project;
}

/** Readable experiment ids, to scope a search; null when every experiment is readable (no restriction to plan around). */
export async function readableExperimentIds(ctx: AccessContext): Promise<string[] | null> {
  const readable = readableProjectIds(ctx.viewer);
  if (!readable) return null;
  const all = await ctx.store.listExperimentOwners();
  const mine = all.filter((e) => readable.has(e.projectId)).map((e) => e.id);
  return mine.length === all.length && mine.length > 0 ? null : mine;
}

/** The experiments a listing covers: the ones named (each checked for `read`), else every readable one (null: all). */
export async function experimentScope(ctx: AccessContext, refs: readonly string[] | undefined): Promise<string[] | null> {
  if (refs?.length) return Promise.all(refs.map(async (e) => (await authorizeExperiment(ctx, e, 'read')).id));
  return readableExperimentIds(ctx);
}

/** Whether a lineage node may be shown, given the projects that own it (in team mode, one no readable project owns is hidden). */
export function nodeVisible(viewer: Viewer, projectIds: readonly string[]): boolean {
  return isLocal(viewer) || projectIds.some((p) => canAccess(viewer, p, 'read'));
}
