import { FencedError, ValidationError, type AttemptOutcome, type LineageNode, type RunEnvironment } from '@cairn/schema';
import * as attempts from './attempts.ts';
import { blobRoots } from './blob-roots.ts';
import type { Db } from './db.ts';
import type { OpenedDriver } from './driver.ts';
import { checkFence } from './fence.ts';
import { validate, validateId } from './validate.ts';
import { z } from 'zod';
import * as datasets from './datasets.ts';
import * as experiments from './experiments.ts';
import * as lineage from './lineage.ts';
import * as metrics from './metrics.ts';
import * as registry from './models.ts';
import * as runData from './run-data.ts';
import * as runs from './runs.ts';
import { searchRuns } from './search.ts';
import { getMetricSeries, getMetricSeriesMany } from './series.ts';
import { bestRuns } from './best-runs.ts';
import { getExperiments, listExperimentOwners } from './experiments-by-id.ts';
import { describeLineageNodes } from './lineage-nodes.ts';
import { listDeploymentsOf } from './model-deployments.ts';
import { projectsOf } from './owners.ts';
import { runColumns } from './run-columns.ts';
import { childRunCounts, countRuns } from './run-counts.ts';
import { getRunDetails } from './run-details.ts';
import { compareRuns } from './run-comparison.ts';
import { resolveRunIdIn } from './run-prefix.ts';
import { getSnapshots, latestSnapshots } from './snapshot-records.ts';
import * as decisions from './pipeline-decisions.ts';
import { listQueuedRuns, type QueuedRunsInput } from './queued-runs.ts';
import type {
  CreateSweepInput,
  RecordChampionInput,
  RecordGateInput,
  SweepPatch,
  SweepStatus,
  CodeRef,
  CompareRunsOptions,
  CreateProjectInput,
  CreateRunInput,
  EndStatus,
  Fence,
  ExperimentObjective,
  MetricPoint,
  OwnedKind,
  RecordSnapshotInput,
  RegisterModelVersionInput,
  SearchRunsInput,
  SeriesOptions,
  SeriesRequest,
  Store,
} from './types.ts';

const fenceSchema = z.object({ runId: z.string(), attempt: z.number().int().min(1).max(2 ** 31 - 1) }).strict();

/**
 * The Store over either driver: the SQL is the same, only the driver differs. A fenced
 * view (see `fenced`) runs each write in a transaction that first checks its fence.
 */
export class SqlStore implements Store {
  readonly driver;
  readonly location;
  readonly #opened: OpenedDriver;
  readonly #db;
  readonly #fence: Fence | null;
  readonly #onFenced: ((e: FencedError) => void) | undefined;

  constructor(opened: OpenedDriver, fence: Fence | null = null, onFenced?: (e: FencedError) => void) {
    this.#opened = opened;
    this.#db = opened.db;
    this.driver = opened.driver;
    this.location = opened.location;
    this.#fence = fence;
    this.#onFenced = onFenced;
  }

  close() {
    // A fenced view shares its store's driver: closing is the store's business.
    return this.#fence ? Promise.resolve() : this.#opened.close();
  }
  drizzle() {
    return this.#db;
  }
  fenced(fence: Fence, options: { onFenced?: (e: FencedError) => void } = {}) {
    const f = validate(fenceSchema, fence, 'fence');
    return new SqlStore(this.#opened, { runId: validateId(f.runId), attempt: f.attempt }, options.onFenced);
  }

  /** A write: as is, or in a transaction behind the fence's check. */
  #write<T>(fn: (db: Db) => Promise<T>): Promise<T> {
    const fence = this.#fence;
    if (!fence) return fn(this.#db);
    return this.#db
      .transaction(async (tx) => {
        await checkFence(tx as unknown as Db, fence);
        return fn(tx as unknown as Db);
      })
      .catch((e: unknown) => {
        if (e instanceof FencedError) this.#onFenced?.(e);
        throw e;
      });
  }

  ensureProject(name: string, description?: string) {
    return this.#write((db) => experiments.ensureProject(db, name, description));
  }
  createProject(input: CreateProjectInput) {
    return this.#write((db) => experiments.createProject(db, input));
  }
  listProjects() {
    return experiments.listProjects(this.#db);
  }
  setProjectTeam(project: string, team: string | null) {
    return this.#write((db) => experiments.setProjectTeam(db, project, team));
  }
  createExperiment(input: { project?: string; name: string; description?: string }) {
    return this.#write((db) => experiments.createExperiment(db, input));
  }
  ensureExperiment(input: { project?: string; name: string; description?: string }) {
    return this.#write((db) => experiments.ensureExperiment(db, input));
  }
  getExperiment(idOrName: string, project?: string) {
    return experiments.getExperiment(this.#db, idOrName, project);
  }
  listExperiments(input?: { project?: string; includeArchived?: boolean }) {
    return experiments.listExperiments(this.#db, input);
  }
  updateExperiment(id: string, patch: { description?: string; archived?: boolean }) {
    return this.#write((db) => experiments.updateExperiment(db, id, patch));
  }
  setExperimentTags(id: string, tags: Record<string, string>) {
    return this.#write((db) => experiments.setExperimentTags(db, id, tags));
  }

  createRun(input: CreateRunInput) {
    return this.#write((db) => runs.createRun(db, input));
  }
  getRun(id: string) {
    return runs.getRun(this.#db, id);
  }
  getRunHead(id: string) {
    return runs.getRunHead(this.#db, id);
  }
  getRunHeads(ids: readonly string[]) {
    return runs.getRunHeads(this.#db, ids);
  }
  resolveRunId(idOrPrefix: string) {
    return runs.resolveRunId(this.#db, idOrPrefix);
  }
  startRun(id: string, patch?: { environment?: RunEnvironment; code?: CodeRef }) {
    const fence = this.#fence;
    if (!fence) return runs.startRun(this.#db, id, patch);
    // Under a fence the run was claimed already: started under that attempt, not a new one.
    if (validateId(id) !== fence.runId) return Promise.reject(new ValidationError(`a store fenced for run ${fence.runId} starts no other run`));
    return this.#write((db) => runs.startRun(db, id, patch, { newAttempt: false }));
  }
  claimRun(id: string, input?: { workerId?: string | null }) {
    return this.#write((db) => attempts.claimRun(db, id, input));
  }
  updateAttempt(runId: string, attempt: number, patch: { resumedFromStep?: number | null; outcome?: AttemptOutcome; detail?: string | null }) {
    return this.#write((db) => attempts.updateAttempt(db, runId, attempt, patch));
  }
  listAttempts(runId: string) {
    return attempts.listAttempts(this.#db, runId);
  }
  listQueuedRuns(input: QueuedRunsInput) {
    return listQueuedRuns(this.#db, input);
  }
  mergeEnvironment(id: string, patch: RunEnvironment) {
    return this.#write((db) => runs.mergeEnvironment(db, id, patch));
  }
  endRun(id: string, status: EndStatus, reason?: string | null) {
    return this.#write((db) => runs.endRun(db, id, status, reason));
  }
  heartbeat(id: string) {
    return this.#write((db) => runs.heartbeat(db, id));
  }
  markLostRuns(timeoutMs: number) {
    return this.#write((db) => runs.markLostRuns(db, timeoutMs));
  }
  deleteRun(id: string) {
    return this.#write((db) => runs.deleteRun(db, id));
  }

  logParams(runId: string, params: Record<string, string | number | boolean>) {
    return this.#write((db) => runData.logParams(db, runId, params));
  }
  setTags(runId: string, tags: Record<string, string>) {
    return this.#write((db) => runData.setTags(db, runId, tags));
  }
  deleteTag(runId: string, key: string) {
    return this.#write((db) => runData.deleteTag(db, runId, key));
  }
  addNote(target: { kind: 'run' | 'experiment'; id: string }, body: string, author?: string) {
    return this.#write((db) => runData.addNote(db, target, body, author));
  }
  listNotes(target: { kind: 'run' | 'experiment'; id: string }) {
    return runData.listNotes(this.#db, target);
  }
  logArtifact(runId: string, artifact: { path: string; hash: string; size: number; mediaType?: string }) {
    return this.#write((db) => runData.logArtifact(db, runId, artifact));
  }
  listArtifacts(runId: string) {
    return runData.listArtifacts(this.#db, runId);
  }

  logMetrics(runId: string, points: MetricPoint[]) {
    return this.#write((db) => metrics.logMetrics(db, runId, points));
  }
  getMetricSummaries(runId: string) {
    return metrics.getMetricSummaries(this.#db, runId);
  }
  getMetricSeries(runId: string, key: string, options?: SeriesOptions) {
    return getMetricSeries(this.#db, runId, key, options);
  }
  getMetricSeriesMany(requests: readonly SeriesRequest[], options?: SeriesOptions) {
    return getMetricSeriesMany(this.#db, requests, options);
  }
  compareRuns(runIds: readonly string[], options?: CompareRunsOptions) {
    return compareRuns(this.#db, runIds, options);
  }

  searchRuns(input?: SearchRunsInput) {
    return searchRuns(this.#db, input);
  }

  ensureDataset(input: { project?: string; name: string; description?: string }) {
    return this.#write((db) => datasets.ensureDataset(db, input));
  }
  getDataset(idOrName: string, project?: string) {
    return datasets.getDataset(this.#db, idOrName, project);
  }
  listDatasets() {
    return datasets.listDatasets(this.#db);
  }
  recordSnapshot(input: RecordSnapshotInput) {
    return this.#write((db) => datasets.recordSnapshot(db, input));
  }
  latestSnapshot(dataset: string) {
    return datasets.latestSnapshot(this.#db, dataset);
  }
  listSnapshots(dataset: string, limit?: number) {
    return datasets.listSnapshots(this.#db, dataset, limit);
  }
  resolveSnapshotId(idOrPrefix: string) {
    return datasets.resolveSnapshotId(this.#db, idOrPrefix);
  }
  allSnapshotIds() {
    return datasets.allSnapshotIds(this.#db);
  }
  blobRoots() {
    return blobRoots(this.#db);
  }

  addLineageEdge(from: LineageNode, to: LineageNode, relation: string) {
    return this.#write((db) => lineage.addLineageEdge(db, from, to, relation));
  }
  lineage(node: LineageNode, options?: { direction?: 'upstream' | 'downstream' | 'both'; depth?: number }) {
    return lineage.lineage(this.#db, node, options);
  }

  registerModelVersion(input: RegisterModelVersionInput) {
    return this.#write((db) => registry.registerModelVersion(db, input));
  }
  listModels(project?: string) {
    return registry.listModels(this.#db, project);
  }
  getModel(name: string, project?: string) {
    return registry.getModel(this.#db, name, project);
  }
  resolveModelVersion(name: string, ref?: string | number, project?: string) {
    return registry.resolveModelVersion(this.#db, name, ref, project);
  }
  setModelAlias(name: string, alias: string, version: number | null, project?: string) {
    return this.#write((db) => registry.setModelAlias(db, name, alias, version, project));
  }
  aliasHistory(name: string, alias?: string, project?: string) {
    return registry.aliasHistory(this.#db, name, alias, project);
  }
  updateModelVersion(name: string, version: number, patch: { description?: string; tags?: Record<string, string> }, project?: string) {
    return this.#write((db) => registry.updateModelVersion(db, name, version, patch, project));
  }
  recordDeployment(input: { modelVersionId: string; environment: string; host: string }) {
    return this.#write((db) => registry.recordDeployment(db, input));
  }
  endDeployment(id: string) {
    return this.#write((db) => registry.endDeployment(db, id));
  }
  listDeployments(filter?: { modelVersionId?: string; active?: boolean }) {
    return registry.listDeployments(this.#db, filter);
  }

  getRuns(ids: readonly string[]) {
    return getRunDetails(this.#db, ids);
  }
  resolveRunIdIn(idOrPrefix: string, projectIds: readonly string[]) {
    return resolveRunIdIn(this.#db, idOrPrefix, projectIds);
  }
  getExperiments(ids: readonly string[]) {
    return getExperiments(this.#db, ids);
  }
  listExperimentOwners() {
    return listExperimentOwners(this.#db);
  }
  runColumns(input?: { experimentIds?: string[] }) {
    return runColumns(this.#db, input);
  }
  countRuns(input?: Pick<SearchRunsInput, 'experimentIds' | 'filter' | 'includeArchived'>) {
    return countRuns(this.#db, input);
  }
  childRunCounts(parentIds: readonly string[]) {
    return childRunCounts(this.#db, parentIds);
  }
  bestRuns(objectives: readonly ExperimentObjective[]) {
    return bestRuns(this.#db, objectives);
  }
  projectsOf(kind: OwnedKind, ids: readonly string[]) {
    return projectsOf(this.#db, kind, ids);
  }
  describeLineageNodes(nodes: readonly LineageNode[]) {
    return describeLineageNodes(this.#db, nodes);
  }
  getSnapshots(ids: readonly string[]) {
    return getSnapshots(this.#db, ids);
  }
  latestSnapshots(datasetIds?: readonly string[]) {
    return latestSnapshots(this.#db, datasetIds);
  }
  listDeploymentsOf(versionIds: readonly string[]) {
    return listDeploymentsOf(this.#db, versionIds);
  }

  recordGateResult(input: RecordGateInput) {
    return this.#write((db) => decisions.recordGateResult(db, input));
  }
  listGateResults(query?: { runIds?: readonly string[]; experimentIds?: readonly string[]; limit?: number }) {
    return decisions.listGateResults(this.#db, query);
  }
  createSweep(input: { run: CreateRunInput; sweep: CreateSweepInput }) {
    return this.#write((db) => decisions.createSweep(db, input));
  }
  getSweep(parentRunId: string) {
    return decisions.getSweep(this.#db, parentRunId);
  }
  listSweeps(query?: { status?: SweepStatus; prefix?: string; experimentIds?: readonly string[]; limit?: number }) {
    return decisions.listSweeps(this.#db, query);
  }
  updateSweep(parentRunId: string, patch: SweepPatch) {
    return this.#write((db) => decisions.updateSweep(db, parentRunId, patch));
  }
  createSweepTrial(sweepId: string, trial: { index: number; params: Record<string, unknown> }, run: Omit<CreateRunInput, 'parentRunId'>) {
    return this.#write((db) => decisions.createSweepTrial(db, sweepId, trial, run));
  }
  listSweepTrials(sweepId: string) {
    return decisions.listSweepTrials(this.#db, sweepId);
  }
  getSweepTrial(runId: string) {
    return decisions.getSweepTrial(this.#db, runId);
  }
  recordChampionDecision(input: RecordChampionInput) {
    return this.#write((db) => decisions.recordChampionDecision(db, input));
  }
  getPipelineDecisions(runId: string) {
    return decisions.getPipelineDecisions(this.#db, runId);
  }
}
