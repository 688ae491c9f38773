import { z } from 'zod';
import { and, asc, eq, inArray, isNull, or, sql } from 'drizzle-orm';
import { NotFoundError, ConflictError, ValidationError, experiments, experimentTags, isUuid, nameSchema, newId, projects, tagsSchema, teams } from '@cairn/schema';
import type { RunStatus } from '@cairn/schema';
import { rows, type Db } from './db.ts';
import { validate, validateId } from './validate.ts';
import type { CreateProjectInput, Experiment, ExperimentSummary, Project } from './types.ts';

export const DEFAULT_PROJECT = 'default';

export async function ensureProject(db: Db, name: string, description = ''): Promise<Project> {
  validate(nameSchema, name, 'project name');
  await db.insert(projects).values({ id: newId(), name, description }).onConflictDoNothing({ target: projects.name });
  const [p] = await db.select().from(projects).where(eq(projects.name, name));
  if (!p) throw new NotFoundError('project', name);
  return p;
}

const createProjectSchema = z
  .object({
    name: nameSchema,
    description: z.string().max(10_000).optional(),
    teamId: z.string().min(1).max(100).nullable().optional(),
  })
  .strict();

/**
 * A new project, or CONFLICT when one has the name already (names are unique across
 * the store). A team, when given, must exist: its admin is who may create one for it.
 */
export async function createProject(db: Db, input: CreateProjectInput): Promise<Project> {
  const p = validate(createProjectSchema, input, 'project');
  if (p.teamId) {
    const [team] = await db.select({ id: teams.id }).from(teams).where(eq(teams.id, p.teamId));
    if (!team) throw new NotFoundError('team', p.teamId);
  }
  const [row] = await db
    .insert(projects)
    .values({ id: newId(), name: p.name, description: p.description ?? '', teamId: p.teamId ?? null })
    .onConflictDoNothing({ target: projects.name })
    .returning();
  if (!row) throw new ConflictError(`project '${p.name}' exists already`);
  return row;
}

export async function listProjects(db: Db): Promise<Project[]> {
  return db.select().from(projects).orderBy(asc(projects.name));
}

/**
 * Gives a project (by name) to a team (by id or slug), or takes it from its team with
 * null: how a project made before team mode was switched on gets an owner. In team mode
 * a project without a team is visible to nobody, so this is the operator's way in.
 */
export async function setProjectTeam(db: Db, name: string, team: string | null): Promise<Project & { team: { id: string; slug: string; name: string } | null }> {
  validate(nameSchema, name, 'project name');
  let owner: { id: string; slug: string; name: string } | null = null;
  if (team !== null) {
    if (typeof team !== 'string' || !team.trim() || team.length > 100) throw new ValidationError('a team is its id or slug');
    [owner = null] = await db.select({ id: teams.id, slug: teams.slug, name: teams.name }).from(teams).where(or(eq(teams.id, team), eq(teams.slug, team)));
    if (!owner) throw new NotFoundError('team', team);
  }
  const [p] = await db.update(projects).set({ teamId: owner?.id ?? null }).where(eq(projects.name, name)).returning();
  if (!p) throw new NotFoundError('project', name);
  return { ...p, team: owner };
}

async function projectByName(db: Db, name: string | undefined, create: boolean): Promise<Project> {
  const projectName = name ?? DEFAULT_PROJECT;
  if (create) return ensureProject(db, projectName);
  const [p] = await db.select().from(projects).where(eq(projects.name, projectName));
  if (!p) throw new NotFoundError('project', projectName);
  return p;
}

export async function createExperiment(db: Db, input: { project?: string; name: string; description?: string }): Promise<Experiment> {
  validate(nameSchema, input.name, 'experiment name');
  const project = await projectByName(db, input.project, true);
  const inserted = await db
    .insert(experiments)
    .values({ id: newId(), projectId: project.id, name: input.name, description: input.description ?? '' })
    .onConflictDoNothing()
    .returning();
  if (!inserted[0]) throw new ConflictError(`experiment '${input.name}' already exists in project '${project.name}'`);
  return { ...inserted[0], tags: {} };
}

export async function ensureExperiment(db: Db, input: { project?: string; name: string; description?: string }): Promise<Experiment> {
  validate(nameSchema, input.name, 'experiment name');
  const project = await projectByName(db, input.project, true);
  await db
    .insert(experiments)
    .values({ id: newId(), projectId: project.id, name: input.name, description: input.description ?? '' })
    .onConflictDoNothing();
  // By (project, name) only: a name may look like a UUID, and must not resolve to another project's experiment by id.
  const [row] = await db.select().from(experiments).where(and(eq(experiments.projectId, project.id), eq(experiments.name, input.name)));
  if (!row) throw new NotFoundError('experiment', input.name);
  return { ...row, tags: await experimentTagMap(db, row.id) };
}

export async function getExperiment(db: Db, idOrName: string, project?: string): Promise<Experiment> {
  let row;
  if (isUuid(idOrName)) {
    [row] = await db.select().from(experiments).where(eq(experiments.id, idOrName.toLowerCase()));
  }
  if (!row) {
    const p = await projectByName(db, project, false).catch(() => null);
    if (p) [row] = await db.select().from(experiments).where(and(eq(experiments.projectId, p.id), eq(experiments.name, idOrName)));
  }
  if (!row) throw new NotFoundError('experiment', idOrName);
  return { ...row, tags: await experimentTagMap(db, row.id) };
}

async function experimentTagMap(db: Db, id: string): Promise<Record<string, string>> {
  const tags = await db.select().from(experimentTags).where(eq(experimentTags.experimentId, id));
  return Object.fromEntries(tags.map((t) => [t.key, t.value]));
}

export async function listExperiments(db: Db, input: { project?: string; includeArchived?: boolean } = {}): Promise<ExperimentSummary[]> {
  const conds = [];
  if (input.project) {
    const p = await projectByName(db, input.project, false);
    conds.push(eq(experiments.projectId, p.id));
  }
  if (!input.includeArchived) conds.push(isNull(experiments.archivedAt));
  const list = await db.select().from(experiments).where(and(...conds)).orderBy(asc(experiments.name));
  if (list.length === 0) return [];
  const ids = list.map((e) => e.id);
  const counts = await rows<{ experiment_id: string; status: RunStatus; n: number; last: Date | string | null }>(
    db,
    sql`SELECT experiment_id, status, count(*)::int AS n, max(greatest(created_at, ended_at, heartbeat_at)) AS last
        FROM runs WHERE experiment_id IN ${ids} GROUP BY experiment_id, status`,
  );
  const tags = await db.select().from(experimentTags).where(inArray(experimentTags.experimentId, ids));
  return list.map((e) => {
    const mine = counts.filter((c) => c.experiment_id === e.id);
    const runCounts: Partial<Record<RunStatus, number>> = {};
    let last: Date | null = null;
    for (const c of mine) {
      runCounts[c.status] = c.n;
      const d = c.last ? new Date(c.last) : null;
      if (d && (!last || d > last)) last = d;
    }
    return {
      ...e,
      tags: Object.fromEntries(tags.filter((t) => t.experimentId === e.id).map((t) => [t.key, t.value])),
      runCount: mine.reduce((s, c) => s + c.n, 0),
      runCounts,
      lastActivityAt: last,
    };
  });
}

export async function updateExperiment(db: Db, id: string, patch: { description?: string; archived?: boolean }): Promise<Experiment> {
  validateId(id, 'experiment id');
  const set: Partial<typeof experiments.$inferInsert> = {};
  if (patch.description !== undefined) set.description = patch.description;
  if (patch.archived !== undefined) set.archivedAt = patch.archived ? new Date() : null;
  if (Object.keys(set).length > 0) {
    const r = await db.update(experiments).set(set).where(eq(experiments.id, id)).returning({ id: experiments.id });
    if (!r[0]) throw new NotFoundError('experiment', id);
  }
  return getExperiment(db, id);
}

export async function setExperimentTags(db: Db, id: string, tags: Record<string, string>): Promise<void> {
  validateId(id, 'experiment id');
  const parsed = validate(tagsSchema, tags, 'tags');
  await getExperiment(db, id);
  const values = Object.entries(parsed).map(([key, value]) => ({ experimentId: id, key, value }));
  if (values.length === 0) return;
  await db
    .insert(experimentTags)
    .values(values)
    .onConflictDoUpdate({ target: [experimentTags.experimentId, experimentTags.key], set: { value: sql`excluded.value` } });
}
