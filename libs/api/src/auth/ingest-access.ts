import { NotFoundError, uuidSchema } from '@cairn/schema';
import { DEFAULT_PROJECT, type Store } from '@cairn/store';
import { canAccess, type Viewer } from '../access.ts';

/**
 * Team mode's check on a tracking (ingest) request, before the tracking lib's handler
 * runs it: every ingest route writes, so the signed-in user needs `editor` on the
 * project it writes into. A refusal is the NOT_FOUND the store gives for a missing
 * object, as in the tRPC API. A run is created only in an existing project (the
 * store would otherwise create a team-less project nobody in team mode could see).
 */
export async function checkIngest(store: Store, viewer: Viewer, path: string, body: unknown): Promise<void> {
  if (viewer.mode === 'local') return;
  const parts = path.split('?')[0]!.split('/').filter(Boolean);
  if (parts[0] !== 'runs') return; // health, or a route the tracking handler will answer 404
  if (parts.length === 1) {
    const req = (body ?? {}) as { experimentId?: unknown; project?: unknown; parentRunId?: unknown };
    if (typeof req.experimentId === 'string') {
      const exp = await store.getExperiment(req.experimentId).catch(() => null);
      if (!exp || !canAccess(viewer, exp.projectId, 'write')) throw new NotFoundError('experiment', req.experimentId);
    } else {
      const name = typeof req.project === 'string' ? req.project : DEFAULT_PROJECT;
      const project = (await store.listProjects()).find((p) => p.name === name);
      if (!project || !canAccess(viewer, project.id, 'write')) throw new NotFoundError('project', name);
    }
    if (typeof req.parentRunId === 'string') await checkRun(store, viewer, req.parentRunId);
    return;
  }
  await checkRun(store, viewer, decodeURIComponent(parts[1]!));
}

async function checkRun(store: Store, viewer: Viewer, id: string): Promise<void> {
  // A malformed id is left to the tracking handler, which says why it is invalid.
  if (!uuidSchema.safeParse(id).success) return;
  const owners = (await store.projectsOf('run', [id.toLowerCase()]))[id.toLowerCase()] ?? [];
  if (!owners.some((p) => canAccess(viewer, p, 'write'))) throw new NotFoundError('run', id);
}
