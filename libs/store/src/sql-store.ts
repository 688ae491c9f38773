import type { LineageNode, RunEnvironment } from '@cairn/schema';
import { blobRoots } from './blob-roots.ts';
import type { OpenedEngine } from './engine.ts';
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
import { resolveRunIdIn } from './run-prefix.ts';
import { getSnapshots, latestSnapshots } from './snapshot-records.ts';
import * as decisions from './pipeline-decisions.ts';
import type {
  CreateSweepInput,
  RecordChampionInput,
  RecordGateInput,
  SweepPatch,
  SweepStatus,
  CodeRef,
  CreateRunInput,
  EndStatus,
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

/** The Store over either engine: the SQL is the same, only the driver differs. */
export class SqlStore implements Store {
  readonly engine;
  readonly location;
  readonly #opened: OpenedEngine;
  readonly #db;

  constructor(opened: OpenedEngine) {
    this.#opened = opened;
    this.#db = opened.db;
    this.engine = opened.engine;
    this.location = opened.location;
  }

  close() {
    return this.#opened.close();
  }
  drizzle() {
    return this.#db;
  }

  ensureProject(name: string, description?: string) {
    return experiments.ensureProject(this.#db, name, description);
  }
  listProjects() {
    return experiments.listProjects(this.#db);
  }
  setProjectTeam(project: string, team: string | null) {
    return experiments.setProjectTeam(this.#db, project, team);
  }
  createExperiment(input: { project?: string; name: string; description?: string }) {
    return experiments.createExperiment(this.#db, input);
  }
  ensureExperiment(input: { project?: string; name: string; description?: string }) {
    return experiments.ensureExperiment(this.#db, input);
  }
  getExperiment(idOrName: string, project?: string) {
    return experiments.getExperiment(this.#db, idOrName, project);
  }
  listExperiments(input?: { project?: string; includeArchived?: boolean }) {
    return experiments.listExperiments(this.#db, input);
  }
  updateExperiment(id: string, patch: { description?: string; archived?: boolean }) {
    return experiments.updateExperiment(this.#db, id, patch);
  }
  setExperimentTags(id: string, tags: Record<string, string>) {
    return experiments.setExperimentTags(this.#db, id, tags);
  }

  createRun(input: CreateRunInput) {
    return runs.createRun(this.#db, input);
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
    return runs.startRun(this.#db, id, patch);
  }
  mergeEnvironment(id: string, patch: RunEnvironment) {
    return runs.mergeEnvironment(this.#db, id, patch);
  }
  endRun(id: string, status: EndStatus, reason?: string | null) {
    return runs.endRun(this.#db, id, status, reason);
  }
  heartbeat(id: string) {
    return runs.heartbeat(this.#db, id);
  }
  markLostRuns(timeoutMs: number) {
    return runs.markLostRuns(this.#db, timeoutMs);
  }
  deleteRun(id: string) {
    return runs.deleteRun(this.#db, id);
  }

  logParams(runId: string, params: Record<string, string | number | boolean>) {
    return runData.logParams(this.#db, runId, params);
  }
  setTags(runId: string, tags: Record<string, string>) {
    return runData.setTags(this.#db, runId, tags);
  }
  deleteTag(runId: string, key: string) {
    return runData.deleteTag(this.#db, runId, key);
  }
  addNote(target: { kind: 'run' | 'experiment'; id: string }, body: string, author?: string) {
    return runData.addNote(this.#db, target, body, author);
  }
  listNotes(target: { kind: 'run' | 'experiment'; id: string }) {
    return runData.listNotes(this.#db, target);
  }
  logArtifact(runId: string, artifact: { path: string; hash: string; size: number; mediaType?: string }) {
    return runData.logArtifact(this.#db, runId, artifact);
  }
  listArtifacts(runId: string) {
    return runData.listArtifacts(this.#db, runId);
  }

  logMetrics(runId: string, points: MetricPoint[]) {
    return metrics.logMetrics(this.#db, runId, points);
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

  searchRuns(input?: SearchRunsInput) {
    return searchRuns(this.#db, input);
  }

  ensureDataset(input: { project?: string; name: string; description?: string }) {
    return datasets.ensureDataset(this.#db, input);
  }
  getDataset(idOrName: string, project?: string) {
    return datasets.getDataset(this.#db, idOrName, project);
  }
  listDatasets() {
    return datasets.listDatasets(this.#db);
  }
  recordSnapshot(input: RecordSnapshotInput) {
    return datasets.recordSnapshot(this.#db, input);
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
    return lineage.addLineageEdge(this.#db, from, to, relation);
  }
  lineage(node: LineageNode, options?: { direction?: 'upstream' | 'downstream' | 'both'; depth?: number }) {
    return lineage.lineage(this.#db, node, options);
  }

  registerModelVersion(input: RegisterModelVersionInput) {
    return registry.registerModelVersion(this.#db, input);
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
    return registry.setModelAlias(this.#db, name, alias, version, project);
  }
  aliasHistory(name: string, alias?: string, project?: string) {
    return registry.aliasHistory(this.#db, name, alias, project);
  }
  updateModelVersion(name: string, version: number, patch: { description?: string; tags?: Record<string, string> }, project?: string) {
    return registry.updateModelVersion(this.#db, name, version, patch, project);
  }
  recordDeployment(input: { modelVersionId: string; environment: string; host: string }) {
    return registry.recordDeployment(this.#db, input);
  }
  endDeployment(id: string) {
    return registry.endDeployment(this.#db, id);
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
    return decisions.recordGateResult(this.#db, input);
  }
  listGateResults(query?: { runIds?: readonly string[]; experimentIds?: readonly string[]; limit?: number }) {
    return decisions.listGateResults(this.#db, query);
  }
  createSweep(input: { run: CreateRunInput; sweep: CreateSweepInput }) {
    return decisions.createSweep(this.#db, input);
  }
  getSweep(parentRunId: string) {
    return decisions.getSweep(this.#db, parentRunId);
  }
  listSweeps(query?: { status?: SweepStatus; prefix?: string; experimentIds?: readonly string[]; limit?: number }) {
    return decisions.listSweeps(this.#db, query);
  }
  updateSweep(parentRunId: string, patch: SweepPatch) {
    return decisions.updateSweep(this.#db, parentRunId, patch);
  }
  createSweepTrial(sweepId: string, trial: { index: number; params: Record<string, unknown> }, run: Omit<CreateRunInput, 'parentRunId'>) {
    return decisions.createSweepTrial(this.#db, sweepId, trial, run);
  }
  listSweepTrials(sweepId: string) {
    return decisions.listSweepTrials(this.#db, sweepId);
  }
  getSweepTrial(runId: string) {
    return decisions.getSweepTrial(this.#db, runId);
  }
  recordChampionDecision(input: RecordChampionInput) {
    return decisions.recordChampionDecision(this.#db, input);
  }
  getPipelineDecisions(runId: string) {
    return decisions.getPipelineDecisions(this.#db, runId);
  }
}
