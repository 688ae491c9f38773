import { and, asc, desc, eq, isNull, sql } from 'drizzle-orm';
import { ConflictError, NotFoundError, ValidationError, deployments, modelAliasHistory, modelAliases, modelVersions, models, newId } from '@cairn/schema';
import { rows, type Db } from './db.ts';
import { ensureProject } from './experiments.ts';
import { addLineageEdge } from './lineage.ts';
import { getRunRow } from './run-row.ts';
import { validate, validateId } from './validate.ts';
import type { AliasMove, Deployment, ModelDetail, ModelRecord, ModelSummary, ModelVersion, RegisterModelVersionInput } from './types.ts';

const HASH_RE = /^[0-9a-f]{64}$/;
// An alias is a word that cannot be mistaken for a version number or `latest`.
const ALIAS_RE = /^[a-z][a-z0-9_-]{0,62}$/;
const ENV_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/;
// Model names appear in `name@alias` references, URLs and folder names: no @, /, spaces or dots first.
const MODEL_NAME_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

function checkAlias(alias: string): string {
  if (!ALIAS_RE.test(alias) || alias === 'latest') {
    throw new ValidationError(`invalid alias '${alias.slice(0, 64)}': lowercase letters, digits, - and _, starting with a letter (and not 'latest', which always means the newest version)`);
  }
  return alias;
}

async function findModel(db: Db, name: string, project: string): Promise<ModelRecord> {
  const found = await rows<{ id: string }>(db, sql`SELECT m.id FROM models m JOIN projects p ON p.id = m.project_id WHERE p.name = ${project} AND m.name = ${name}`);
  if (!found[0]) throw new NotFoundError('model', name);
  const [m] = await db.select().from(models).where(eq(models.id, found[0].id));
  return m!;
}

/**
 * Registers an artifact as the next version of a named model (created on first use).
 * Version numbers are 1, 2, 3… per model; two registrations at once get different numbers
 * (the unique index decides, the loser takes the next). Lineage: run → version.
 */
export async function registerModelVersion(db: Db, input: RegisterModelVersionInput): Promise<ModelVersion> {
  if (!MODEL_NAME_RE.test(input.name)) throw new ValidationError(`invalid model name '${input.name.slice(0, 80)}': letters, digits, . _ - (starting with a letter or digit), at most 128`);
  if (!HASH_RE.test(input.artifactHash)) throw new ValidationError('artifactHash must be a 64-digit lowercase hex content id');
  const runId = input.runId ? (await getRunRow(db, validateId(input.runId, 'run id'))).id : null;
  const project = await ensureProject(db, input.project ?? 'default');
  await db.insert(models).values({ id: newId(), projectId: project.id, name: input.name, description: '' }).onConflictDoNothing();
  const model = await findModel(db, input.name, project.name);
  for (let attempt = 0; ; attempt++) {
    const [{ next }] = (await rows<{ next: number }>(db, sql`SELECT coalesce(max(version), 0) + 1 AS next FROM model_versions WHERE model_id = ${model.id}`)) as [{ next: number }];
    const [row] = await db
      .insert(modelVersions)
      .values({ id: newId(), modelId: model.id, version: Number(next), runId, artifactHash: input.artifactHash, description: input.description ?? '', tags: input.tags ?? {} })
      .onConflictDoNothing()
      .returning();
    if (row) {
      await addLineageEdge(db, { kind: 'model', id: model.id }, { kind: 'model_version', id: row.id }, 'has_version');
      if (runId) await addLineageEdge(db, { kind: 'run', id: runId }, { kind: 'model_version', id: row.id }, 'registered_as');
      return { ...row, modelName: model.name };
    }
    if (attempt >= 20) throw new ConflictError(`could not number a new version of ${input.name}: too many registrations at once`);
  }
}

export async function listModels(db: Db, project = 'default'): Promise<ModelSummary[]> {
  const list = await rows<{ id: string; name: string; description: string; created_at: Date | string; versions: number; latest: number | null; updated: Date | string | null }>(
    db,
    sql`SELECT m.id, m.name, m.description, m.created_at, count(v.id)::int AS versions, max(v.version) AS latest, max(v.created_at) AS updated
        FROM models m JOIN projects p ON p.id = m.project_id LEFT JOIN model_versions v ON v.model_id = m.id
        WHERE p.name = ${project} GROUP BY m.id ORDER BY m.name`,
  );
  const aliases = await rows<{ model_id: string; alias: string; version: number }>(
    db,
    sql`SELECT a.model_id, a.alias, v.version FROM model_aliases a JOIN model_versions v ON v.id = a.version_id ORDER BY a.alias`,
  );
  return list.map((m) => ({
    id: m.id,
    name: m.name,
    description: m.description,
    createdAt: new Date(m.created_at),
    versionCount: m.versions,
    latestVersion: m.latest === null ? null : Number(m.latest),
    updatedAt: m.updated ? new Date(m.updated) : null,
    aliases: Object.fromEntries(aliases.filter((a) => a.model_id === m.id).map((a) => [a.alias, Number(a.version)])),
  }));
}

export async function getModel(db: Db, name: string, project = 'default'): Promise<ModelDetail> {
  const model = await findModel(db, name, project);
  const versions = await db.select().from(modelVersions).where(eq(modelVersions.modelId, model.id)).orderBy(desc(modelVersions.version));
  const aliasRows = await db.select().from(modelAliases).where(eq(modelAliases.modelId, model.id)).orderBy(asc(modelAliases.alias));
  const byId = new Map(versions.map((v) => [v.id, v.version]));
  return {
    ...model,
    versions: versions.map((v) => ({ ...v, modelName: model.name })),
    aliases: Object.fromEntries(aliasRows.map((a) => [a.alias, byId.get(a.versionId)!])),
  };
}

/** `3`, `'3'`, `'latest'` (or nothing) or an alias → that version. */
export async function resolveModelVersion(db: Db, name: string, ref: string | number = 'latest', project = 'default'): Promise<ModelVersion> {
  const model = await findModel(db, name, project);
  const text = String(ref).trim();
  let row;
  if (/^\d+$/.test(text)) {
    [row] = await db.select().from(modelVersions).where(and(eq(modelVersions.modelId, model.id), eq(modelVersions.version, Number(text))));
    if (!row) throw new NotFoundError('model version', `${name}@${text}`);
  } else if (text === 'latest') {
    [row] = await db.select().from(modelVersions).where(eq(modelVersions.modelId, model.id)).orderBy(desc(modelVersions.version)).limit(1);
    if (!row) throw new NotFoundError('model version', `${name}@latest (the model has no versions)`);
  } else {
    const [a] = await db.select().from(modelAliases).where(and(eq(modelAliases.modelId, model.id), eq(modelAliases.alias, checkAlias(text))));
    if (!a) throw new NotFoundError('model alias', `${name}@${text}`);
    [row] = await db.select().from(modelVersions).where(eq(modelVersions.id, a.versionId));
  }
  return { ...row!, modelName: model.name };
}

/**
 * Points an alias at a version, in one transaction with its history row, so readers see
 * the old version or the new one and "what was production on May 3rd" has an answer.
 * `version: null` removes the alias (recorded too).
 */
export async function setModelAlias(db: Db, name: string, alias: string, version: number | null, project = 'default'): Promise<AliasMove> {
  checkAlias(alias);
  const model = await findModel(db, name, project);
  const target = version === null ? null : await resolveModelVersion(db, name, version, project);
  return db.transaction(async (tx) => {
    const t = tx as unknown as Db;
    const [before] = await t.select().from(modelAliases).where(and(eq(modelAliases.modelId, model.id), eq(modelAliases.alias, alias))).for('update');
    if (target) {
      await t
        .insert(modelAliases)
        .values({ modelId: model.id, alias, versionId: target.id, updatedAt: new Date() })
        .onConflictDoUpdate({ target: [modelAliases.modelId, modelAliases.alias], set: { versionId: target.id, updatedAt: new Date() } });
    } else {
      if (!before) throw new NotFoundError('model alias', `${name}@${alias}`);
      await t.delete(modelAliases).where(and(eq(modelAliases.modelId, model.id), eq(modelAliases.alias, alias)));
    }
    const [moved] = await t.insert(modelAliasHistory).values({ id: newId(), modelId: model.id, alias, versionId: target?.id ?? null }).returning();
    const previous = before ? (await t.select({ version: modelVersions.version }).from(modelVersions).where(eq(modelVersions.id, before.versionId)))[0]?.version ?? null : null;
    return { model: name, alias, version: target?.version ?? null, previous, movedAt: moved!.movedAt };
  });
}

/** Every move of a model's aliases (or one alias), oldest first. */
export async function aliasHistory(db: Db, name: string, alias?: string, project = 'default'): Promise<AliasMove[]> {
  const model = await findModel(db, name, project);
  const list = await rows<{ alias: string; version: number | null; moved_at: Date | string }>(
    db,
    sql`SELECT h.alias, v.version, h.moved_at FROM model_alias_history h LEFT JOIN model_versions v ON v.id = h.version_id
        WHERE h.model_id = ${model.id} ${alias ? sql`AND h.alias = ${checkAlias(alias)}` : sql``} ORDER BY h.moved_at, h.id`,
  );
  const out: AliasMove[] = [];
  const last = new Map<string, number | null>();
  for (const r of list) {
    const version = r.version === null ? null : Number(r.version);
    out.push({ model: name, alias: r.alias, version, previous: last.get(r.alias) ?? null, movedAt: new Date(r.moved_at) });
    last.set(r.alias, version);
  }
  return out;
}

export async function updateModelVersion(db: Db, name: string, version: number, patch: { description?: string; tags?: Record<string, string> }, project = 'default'): Promise<ModelVersion> {
  const v = await resolveModelVersion(db, name, version, project);
  if (patch.tags) for (const [k, val] of Object.entries(patch.tags)) if (!/^[A-Za-z0-9_.:/-]{1,250}$/.test(k) || typeof val !== 'string' || val.length > 5000) throw new ValidationError(`invalid version tag '${k.slice(0, 60)}'`);
  if (patch.description !== undefined && patch.description.length > 100_000) throw new ValidationError('a description is at most 100,000 characters');
  const [row] = await db
    .update(modelVersions)
    .set({ ...(patch.description !== undefined ? { description: patch.description } : {}), ...(patch.tags ? { tags: { ...v.tags, ...patch.tags } } : {}) })
    .where(eq(modelVersions.id, v.id))
    .returning();
  return { ...row!, modelName: name };
}

/** A model version serving somewhere; lineage: version → deployment. */
export async function recordDeployment(db: Db, input: { modelVersionId: string; environment: string; host: string }): Promise<Deployment> {
  validateId(input.modelVersionId, 'model version id');
  if (!ENV_RE.test(input.environment)) throw new ValidationError(`invalid environment name '${input.environment.slice(0, 64)}': letters, digits, . _ -`);
  if (!input.host || input.host.length > 255) throw new ValidationError('a deployment needs its host (at most 255 characters)');
  const [v] = await db.select({ id: modelVersions.id }).from(modelVersions).where(eq(modelVersions.id, input.modelVersionId.toLowerCase()));
  if (!v) throw new NotFoundError('model version', input.modelVersionId);
  const [row] = await db.insert(deployments).values({ id: newId(), modelVersionId: v.id, environment: input.environment, host: input.host }).returning();
  await addLineageEdge(db, { kind: 'model_version', id: v.id }, { kind: 'deployment', id: row!.id }, 'deployed_as');
  return row!;
}

/** Marks a deployment stopped (the first stop wins). */
export async function endDeployment(db: Db, id: string): Promise<Deployment> {
  validateId(id, 'deployment id');
  const [row] = await db.update(deployments).set({ stoppedAt: new Date() }).where(and(eq(deployments.id, id.toLowerCase()), isNull(deployments.stoppedAt))).returning();
  if (row) return row;
  const [existing] = await db.select().from(deployments).where(eq(deployments.id, id.toLowerCase()));
  if (!existing) throw new NotFoundError('deployment', id);
  return existing;
}

export async function listDeployments(db: Db, filter: { modelVersionId?: string; active?: boolean } = {}): Promise<Deployment[]> {
  const where = and(
    filter.modelVersionId ? eq(deployments.modelVersionId, validateId(filter.modelVersionId, 'model version id')) : undefined,
    filter.active === true ? isNull(deployments.stoppedAt) : filter.active === false ? sql`${deployments.stoppedAt} IS NOT NULL` : undefined,
  );
  return db.select().from(deployments).where(where).orderBy(desc(deployments.startedAt));
}
