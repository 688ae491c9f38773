import { z } from 'zod';
import { CairnError } from '@cairn/schema';
import { BlobNotFoundError, diffProfiles, diffTrees, type ProfileDiff, type SnapshotProfile, type TreeDiff } from '@cairn/snapshot';
import type { SnapshotRecord } from '@cairn/store';
import { authorizeDataset, authorizeProject, authorizeSnapshot, visible } from '../access.ts';
import { projectName, ref } from '../inputs.ts';
import { procedure, router } from '../trpc.ts';

export const DEFAULT_DIFF_ITEMS = 1_000;
export const MAX_DIFF_ITEMS = 10_000;

export interface DatasetRow {
  id: string;
  name: string;
  project: string;
  projectId: string;
  description: string;
  createdAt: Date;
  snapshotCount: number;
  latest: { id: string; createdAt: Date; fileCount: number; bytes: number; message: string } | null;
}

export interface SnapshotDiff {
  /** Full ids of the two snapshots, from → to. */
  a: string;
  b: string;
  added: TreeDiff['added'];
  removed: TreeDiff['removed'];
  modified: TreeDiff['modified'];
  /** Whole counts; the lists stop at `limit` items each. */
  counts: { added: number; removed: number; modified: number };
  truncated: boolean;
}

export interface SnapshotDrift {
  a: string;
  b: string;
  /** Null when either snapshot was recorded without a profile (see `missing`). */
  drift: ProfileDiff | null;
  /** Ids of the snapshots that have no recorded profile. */
  missing: string[];
}

function isProfile(p: unknown): p is SnapshotProfile {
  return typeof p === 'object' && p !== null && typeof (p as SnapshotProfile).files === 'number' && typeof (p as SnapshotProfile).tables === 'object';
}

export const datasetsRouter = router({
  list: procedure.input(z.object({ project: projectName }).optional()).query(async ({ ctx, input }): Promise<DatasetRow[]> => {
    const project = input?.project ? await authorizeProject(ctx, input.project, 'read') : null;
    const all = visible(ctx, await ctx.store.listDatasets(), (d) => d.projectId).filter((d) => !project || d.projectId === project.id);
    if (all.length === 0) return [];
    const [latest, projects] = await Promise.all([ctx.store.latestSnapshots(all.map((d) => d.id)), ctx.store.listProjects()]);
    const latestBy = new Map(latest.map((s) => [s.datasetId, s]));
    const names = new Map(projects.map((p) => [p.id, p.name]));
    return all.map((d) => {
      const s = latestBy.get(d.id);
      return {
        id: d.id,
        name: d.name,
        project: names.get(d.projectId) ?? '',
        projectId: d.projectId,
        description: d.description,
        createdAt: d.createdAt,
        snapshotCount: d.snapshotCount,
        latest: s ? { id: s.id, createdAt: s.createdAt, fileCount: s.fileCount, bytes: s.bytes, message: s.message } : null,
      };
    });
  }),

  snapshots: procedure
    .input(z.object({ dataset: ref, project: projectName, limit: z.number().int().min(1).max(1_000).default(100) }))
    .query(async ({ ctx, input }): Promise<SnapshotRecord[]> => {
      const dataset = await authorizeDataset(ctx, input.dataset, 'read', input.project);
      return ctx.store.listSnapshots(dataset.id, input.limit);
    }),

  diff: procedure
    .input(
      z.object({
        a: ref,
        b: ref,
        /** Report a folder on one side only as one item with its totals. */
        dirs: z.boolean().optional(),
        limit: z.number().int().min(1).max(MAX_DIFF_ITEMS).default(DEFAULT_DIFF_ITEMS),
      }),
    )
    .query(async ({ ctx, input }): Promise<SnapshotDiff> => {
      const [a, b] = await Promise.all([authorizeSnapshot(ctx, input.a), authorizeSnapshot(ctx, input.b)]);
      const blobs = ctx.blobs();
      let diff: TreeDiff;
      try {
        diff = await diffTrees(a, b, (id) => blobs.get(id), { collapseDirs: Boolean(input.dirs) });
      } catch (e) {
        // The record is in the store but its manifest is not in this server's blob store; the path stays private.
        if (e instanceof BlobNotFoundError) throw new CairnError('NOT_FOUND', `a manifest of snapshot ${a.slice(0, 12)} or ${b.slice(0, 12)} (blob ${e.id.slice(0, 12)}) is not in this server's blob store`);
        throw e;
      }
      const counts = { added: diff.added.length, removed: diff.removed.length, modified: diff.modified.length };
      return {
        a,
        b,
        added: diff.added.slice(0, input.limit),
        removed: diff.removed.slice(0, input.limit),
        modified: diff.modified.slice(0, input.limit),
        counts,
        truncated: counts.added > input.limit || counts.removed > input.limit || counts.modified > input.limit,
      };
    }),

  drift: procedure.input(z.object({ a: ref, b: ref })).query(async ({ ctx, input }): Promise<SnapshotDrift> => {
    const [a, b] = await Promise.all([authorizeSnapshot(ctx, input.a), authorizeSnapshot(ctx, input.b)]);
    const records = await ctx.store.getSnapshots([a, b]);
    // A snapshot recorded in several datasets may carry a profile in any of them.
    const profileOf = (id: string) => records.find((r) => r.id === id && isProfile(r.profile))?.profile as SnapshotProfile | undefined;
    const pa = profileOf(a);
    const pb = profileOf(b);
    const missing = [...new Set([pa ? null : a, pb ? null : b].filter((x): x is string => x !== null))];
    return { a, b, drift: pa && pb ? diffProfiles(pa, pb) : null, missing };
  }),
});
