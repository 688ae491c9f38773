import { randomInt } from 'node:crypto';
import path from 'node:path';
import { ValidationError, type Objective } from '@cairn/schema';
import { TIERS, loadDefinition, resolveParams, type Tier } from '@cairn/engine';
import type { LocalBlobStore } from '@cairn/snapshot';
import type { Store } from '@cairn/store';
import { recordObjective } from '../objective-tag.ts';
import type { TierQueues } from '../queues.ts';
import { storedParams, type JobSettings } from '../queued-run.ts';
import { pinSnapshot, storeCodeBundle } from '../submit.ts';
import { MAX_TRIALS, parseSearchSpace, planSweep } from '../sweep/index.ts';
import { advanceSweep } from './advance.ts';
import { parseSweepPolicies } from './policies.ts';
import { MAX_PARALLEL, SWEEP_SPEC_VERSION, parseSweepStrategy, type SweepSpec } from './spec.ts';

export interface StartSweepOptions {
  store: Store;
  blobs: LocalBlobStore;
  queues: TierQueues;
  /** The training module (loaded here to check it, then bundled once for every trial). */
  file: string;
  tier: Tier;
  /** The search space as JSON (parseSearchSpace validates it). */
  space: unknown;
  /** A spec or a name: grid, random, tpe (or bayes). Default random. */
  strategy?: unknown;
  /** Trials in all (1..MAX_TRIALS); a grid defaults to (and is capped at) its size. */
  maxTrials?: number;
  /** Trials in flight at most. */
  parallel: number;
  /** Default: a random one, recorded on the parent. */
  seed?: number;
  /** Params every trial shares (checked against the definition with the trials' own). */
  params?: Record<string, unknown>;
  dataset?: string;
  snapshot?: string;
  experiment?: string;
  /** Default: the definition's objective. */
  objective?: Partial<Objective>;
  /** Early termination for every trial (see parseSweepPolicies). */
  policies?: unknown[];
  tags?: Record<string, string>;
  /** The tier's job options (priority, attempts, backoff) for every trial's job. */
  job?: JobSettings;
  lockWaitMs?: number;
}

export interface StartedSweep {
  parentId: string;
  parentName: string;
  experimentId: string;
  codeHash: string;
  snapshotId: string;
  spec: SweepSpec;
  /** The fixed params (resolved, defaults filled, swept ones left out). */
  params: Record<string, unknown>;
  /** Trials created and enqueued now (the first `parallel`). */
  trials: string[];
  /** Grid size for grid sweeps. */
  gridSize: number | null;
}

/**
 * Starts a sweep: validates the space, strategy, policies and objective, plans the trials
 * (every planned trial's params are checked against the definition's schema, so a bad
 * space fails here, before anything is created), bundles the code once, creates the parent
 * run and the first `parallel` trials, and enqueues them.
 */
export async function startSweep(o: StartSweepOptions): Promise<StartedSweep> {
  if (!(TIERS as readonly string[]).includes(o.tier)) throw new ValidationError(`unknown tier '${o.tier}': the tiers are ${TIERS.join(', ')}`);
  const space = parseSearchSpace(o.space);
  const strategy = parseSweepStrategy(o.strategy ?? 'random');
  if (!Number.isSafeInteger(o.parallel) || o.parallel < 1 || o.parallel > MAX_PARALLEL) throw new ValidationError(`parallel must be a whole number from 1 to ${MAX_PARALLEL}, got ${String(o.parallel)}`);
  if (o.maxTrials === undefined && strategy.kind !== 'grid') throw new ValidationError(`a ${strategy.kind} sweep needs its number of trials (maxTrials)`);
  const seed = o.seed ?? randomInt(0, 2 ** 31);
  const policies = parseSweepPolicies(o.policies ?? []);

  const loaded = await loadDefinition(o.file);
  const def = loaded.definition;
  const objective: Objective = { metric: o.objective?.metric ?? def.objective.metric, direction: o.objective?.direction ?? def.objective.direction };
  if (objective.direction !== 'minimize' && objective.direction !== 'maximize') throw new ValidationError(`the objective's direction must be minimize or maximize, got ${String(objective.direction)}`);
  const plan = planSweep({ space, strategy, maxTrials: o.maxTrials ?? MAX_TRIALS, seed, direction: objective.direction });

  // Params: fixed ones may not be swept too; every swept name must be one the definition takes.
  const fixed = o.params ?? {};
  const both = Object.keys(space).filter((k) => k in fixed);
  if (both.length) throw new ValidationError(`param${both.length > 1 ? 's' : ''} ${both.join(', ')} ${both.length > 1 ? 'are' : 'is'} both fixed and swept: leave ${both.length > 1 ? 'them' : 'it'} out of the params or the space`);
  const resolvedFixed = resolveParams(def, fixed);
  for (const params of plan.initial) {
    const resolved = resolveParams(def, { ...fixed, ...params });
    const unknown = Object.keys(params).filter((k) => !(k in resolved));
    if (unknown.length) throw new ValidationError(`the space sweeps ${unknown.map((k) => `'${k}'`).join(', ')}, which ${def.name} does not take as a param`);
  }
  if (plan.initial.length === 0) {
    const unknown = Object.keys(space).filter((k) => !(k in resolvedFixed));
    if (unknown.length) throw new ValidationError(`the space sweeps ${unknown.map((k) => `'${k}'`).join(', ')}, which ${def.name} does not take as a param`);
  }
  const parentParams = Object.fromEntries(Object.entries(resolvedFixed).filter(([k]) => !(k in space)));

  const spec: SweepSpec = { version: SWEEP_SPEC_VERSION, space: plan.space, strategy: plan.spec, seed, maxTrials: plan.maxTrials, parallel: o.parallel, objective, policies, prefix: o.queues.prefix, job: o.job ?? {} };
  const specText = JSON.stringify(spec);
  if (Buffer.byteLength(specText) > 64 * 1024) throw new ValidationError('the sweep spec is over 64 KiB as JSON: use a smaller space');

  const snapshotId = await pinSnapshot(o.store, o);
  const code = await storeCodeBundle(o.blobs, o.file, path.dirname(loaded.path));
  const experiment = await o.store.ensureExperiment({ name: o.experiment ?? def.name });
  await recordObjective(o.store, experiment, objective);
  const { run: parent } = await o.store.createSweep({
    run: {
      experimentId: experiment.id,
      status: 'running',
      tier: o.tier,
      code,
      snapshotIds: [snapshotId],
      params: storedParams(parentParams),
      tags: { definition: def.name, module: path.relative(process.cwd(), loaded.path), ...(o.tags ?? {}) },
    },
    sweep: { strategy: spec.strategy.kind, spec: JSON.parse(specText) as Record<string, unknown>, objective, prefix: spec.prefix, maxTrials: spec.maxTrials, parallel: spec.parallel },
  });
  const progress = await advanceSweep(parent.id, { store: o.store, queues: o.queues, ...(o.lockWaitMs !== undefined ? { lockWaitMs: o.lockWaitMs } : {}) });
  return {
    parentId: parent.id,
    parentName: parent.name,
    experimentId: experiment.id,
    codeHash: code.codeHash,
    snapshotId,
    spec,
    params: parentParams,
    trials: progress.created,
    gridSize: plan.gridSize,
  };
}
