import { NotFoundError } from '@cairn/schema';
import { DEFAULT_PROJECT, type Store } from '@cairn/store';
import type { IngestCall } from '@cairn/tracking';
import { canAccess, type Viewer } from '../access.ts';

/**
 * Team mode's check on a tracking (ingest) call, on the very value the handler then
 * executes (a matched route with its validated body, never the path again). Every
 * ingest route but health writes, so the caller needs `editor` on each project the
 * write touches: the run's; for a new run, its experiment's or project's, and its
 * parent run's. A refusal is the NOT_FOUND the store gives for a missing object, as
 * in the tRPC API. A run is created only in an existing project (the store would
 * otherwise create a team-less project nobody in team mode could see).
 */
export async function checkIngest(store: Store, viewer: Viewer, call: IngestCall): Promise<void> {
  if (viewer.mode === 'local') return;
  switch (call.op) {
    case 'health':
      return;
    case 'runWrite':
      return checkRun(store, viewer, call.runId);
    case 'createRun': {
      const req = call.body;
      if (req.experimentId !== undefined) {
        const [exp] = await store.getExperiments([req.experimentId]);
        if (!exp || !canAccess(viewer, exp.projectId, 'write')) throw new NotFoundError('experiment', req.experimentId);
      } else {
        const name = req.project ?? DEFAULT_PROJECT;
        const project = (await store.listProjects()).find((p) => p.name === name);
        if (!project || !canAccess(viewer, project.id, 'write')) throw new NotFoundError('project', name);
      }
      if (req.parentRunId) await checkRun(store, viewer, req.parentRunId);
      return;
    }
  }
}

async function checkRun(store: Store, viewer: Viewer, id: string): Promise<void> {
  const key = id.toLowerCase();
  const owners = (await store.projectsOf('run', [key]))[key] ?? [];
  if (!owners.some((p) => canAccess(viewer, p, 'write'))) throw new NotFoundError('run', id);
}
