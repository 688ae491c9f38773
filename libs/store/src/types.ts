import type { AttemptOutcome, ChampionDecisionKind, FencedError, GateValue, LineageKind, LineageNode, Objective, RunEnvironment, RunStatus, SweepStatus } from '@cairn/schema';
import type { Db, StoreDriver } from './db.ts';

export interface Project {
  id: string;
  name: string;
  description: string;
  createdAt: Date;
  /** The team owning it in team mode; null: no team (only local mode sees it). */
  teamId: string | null;
}

export interface Experiment {
  id: string;
  projectId: string;
  name: string;
  description: string;
  createdAt: Date;
  archivedAt: Date | null;
  tags: Record<string, string>;
}

export interface ExperimentSummary extends Experiment {
  runCount: number;
  runCounts: Partial<Record<RunStatus, number>>;
  lastActivityAt: Date | null;
}

export interface CodeRef {
  gitSha?: string | null;
  gitDirty?: boolean | null;
  codeHash?: string | null;
}

export interface Run {
  id: string;
  experimentId: string;
  name: string;
  status: RunStatus;
  statusReason: string | null;
  tier: string | null;
  parentRunId: string | null;
  gitSha: string | null;
  gitDirty: boolean | null;
  codeHash: string | null;
  environment: RunEnvironment;
  snapshotIds: string[];
  attempts: number;
  /** The queue prefix the pipeline queued it under; null when the pipeline did not queue it. */
  queuePrefix: string | null;
  createdAt: Date;
  startedAt: Date | null;
  endedAt: Date | null;
  heartbeatAt: Date | null;
}

/** One pickup of a run (see run_attempts): the attempt number is the fencing token of its writes. */
export interface RunAttempt {
  runId: string;
  attempt: number;
  workerId: string | null;
  startedAt: Date;
  endedAt: Date | null;
  resumedFromStep: number | null;
  outcome: AttemptOutcome | null;
  detail: string | null;
}

/** Which attempt at which run a fenced store view writes for. */
export interface Fence {
  runId: string;
  attempt: number;
}

export interface MetricSummary {
  key: string;
  last: number;
  lastStep: number;
  lastWallMs: number;
  /** Smallest non-NaN value; null when every value was NaN. */
  min: number | null;
  max: number | null;
  count: number;
}

/** A run with everything a listing or comparison shows. */
export interface RunDetail extends Run {
  params: Record<string, string>;
  tags: Record<string, string>;
  metrics: Record<string, MetricSummary>;
}

/** A param as a comparison gives it: stored text, or the number or boolean it spells exactly (see param-value.ts). */
export type ParamValue = string | number | boolean;

/** One param across compared runs. */
export interface ParamDiff {
  key: string;
  /** runId → value; null where the run has no such param. */
  values: Record<string, ParamValue | null>;
  differs: boolean;
}

export interface CompareRunsOptions {
  /**
   * The metrics whose series to read: a list, or 'all' for every metric the runs have,
   * in `order`, as many as fit (runs × keys ≤ `maxSeries`, at most `maxKeys` keys); the
   * rest are named in `moreKeys`. Absent: none.
   */
  keys?: readonly string[] | 'all';
  /** Points per series at most (default 500). */
  maxPoints?: number;
  /** Series read at most, runs × keys (default 1,000). */
  maxSeries?: number;
  /** Keys read at most with 'all' (default 50). */
  maxKeys?: number;
  /** The order 'all' lists metric keys in, best first (default: alphabetical). */
  order?: (keys: readonly string[]) => string[];
}

/** Runs side by side: their details, the series asked for, and which params differ. */
export interface ComparedRuns {
  /** In the order asked, each run once. */
  runs: RunDetail[];
  /** runId → key → points; a run without a metric has no entry for it. */
  series: Record<string, Record<string, { steps: number[]; values: number[] }>>;
  keys: string[];
  /** Metrics the runs have that did not fit ('all' only). */
  moreKeys: string[];
  /** Every param any of the runs has, by key. */
  paramDiff: ParamDiff[];
}

/** A new project: names are unique across the store; the team, when given, must exist. */
export interface CreateProjectInput {
  name: string;
  description?: string;
  /** The owning team's id (team mode); null or absent: no team. */
  teamId?: string | null;
}

export interface MetricPoint {
  key: string;
  value: number;
  step: number;
  /** Wall-clock time in ms since the epoch; defaults to now. */
  wallMs?: number;
}

export interface SeriesPoint {
  step: number;
  value: number;
  wallMs: number;
}

/** One series to read: a run's metric. */
export interface SeriesRequest {
  runId: string;
  key: string;
}

export interface SeriesOptions {
  /** Points per series at most (default 2,000); longer series are downsampled keeping their extremes. */
  maxPoints?: number;
  method?: 'lttb' | 'minmax';
}

export interface MetricSeries {
  runId: string;
  key: string;
  /** Points in the stored series. */
  total: number;
  /** 'none' when the series had no more than maxPoints points. */
  method: 'none' | 'lttb' | 'minmax';
  points: SeriesPoint[];
}

export interface Note {
  id: string;
  targetKind: 'run' | 'experiment';
  targetId: string;
  body: string;
  author: string | null;
  createdAt: Date;
}

export interface Artifact {
  runId: string;
  path: string;
  hash: string;
  size: number;
  mediaType: string;
  createdAt: Date;
}

export interface LineageEdge {
  from: LineageNode;
  to: LineageNode;
  relation: string;
  createdAt: Date;
}

export interface LineageGraph {
  root: LineageNode;
  nodes: LineageNode[];
  edges: LineageEdge[];
}

export type SortDirection = 'asc' | 'desc';

export interface SearchRunsInput {
  /** Restrict to these experiments (ids or names); all when omitted. */
  experimentIds?: string[];
  /** An expression in the filter language, e.g. `metrics.acc > 0.9 and (params.opt = 'adam' or tags.team = 'x')`. */
  filter?: string;
  /** A field (`metrics.acc`, `params.lr`, `created`, …) with an optional direction: `metrics.acc desc`. */
  orderBy?: string[];
  limit?: number;
  cursor?: string | null;
  /** Include archived experiments' runs. */
  includeArchived?: boolean;
}

export interface SearchRunsResult {
  runs: RunDetail[];
  nextCursor: string | null;
}

export interface CreateRunInput {
  experimentId: string;
  name?: string;
  status?: 'queued' | 'running';
  tier?: string | null;
  parentRunId?: string | null;
  code?: CodeRef;
  environment?: RunEnvironment;
  snapshotIds?: string[];
  params?: Record<string, string | number | boolean>;
  tags?: Record<string, string>;
  /**
   * The pipeline's alone: the BullMQ prefix it queues a `queued` run's job under, which
   * requeueLostJobs reads. The tracking client and the APIs never pass it.
   */
  queuePrefix?: string;
}

export type EndStatus = 'finished' | 'failed' | 'abandoned' | 'cancelled';

export interface Dataset {
  id: string;
  projectId: string;
  name: string;
  description: string;
  createdAt: Date;
}

export interface DatasetSummary extends Dataset {
  snapshotCount: number;
  lastSnapshotAt: Date | null;
  latestSnapshotId: string | null;
}

export interface SnapshotRecord {
  /** The snapshot's content id (root manifest hash). */
  id: string;
  datasetId: string;
  dataset: string;
  parentId: string | null;
  message: string;
  fileCount: number;
  bytes: number;
  profile: unknown;
  createdAt: Date;
  /** False when this id was already recorded for the dataset. */
  created: boolean;
}

export interface RecordSnapshotInput {
  project?: string;
  /** Dataset name (created when missing). */
  dataset: string;
  id: string;
  /** Default: the dataset's latest snapshot. */
  parentId?: string | null;
  message?: string;
  fileCount: number;
  bytes: number;
  profile?: unknown;
}

/**
 * One interface over embedded PGlite and PostgreSQL. Callers never know which
 * driver is behind it; every method validates its input and throws CairnError
 * subclasses with stable codes.
 */
export interface Store {
  readonly driver: StoreDriver;
  /** Where it is: a PGlite directory or a PostgreSQL URL with the password removed. */
  readonly location: string;
  close(): Promise<void>;
  /**
   * The drizzle database under the store, for the few callers that own tables the
   * store has no methods for: team mode's auth tables (better-auth's drizzle adapter,
   * API tokens in @cairn/api). Everything Cairn tracks goes through the methods below.
   */
  drizzle(): Db;

  // projects and experiments
  ensureProject(name: string, description?: string): Promise<Project>;
  /** A new project, or CONFLICT when one has the name already (see experiments.ts). */
  createProject(input: CreateProjectInput): Promise<Project>;
  listProjects(): Promise<Project[]>;
  /** Gives a project to a team (id or slug), or null to take it from its team (see experiments.ts). */
  setProjectTeam(project: string, team: string | null): Promise<Project & { team: { id: string; slug: string; name: string } | null }>;
  createExperiment(input: { project?: string; name: string; description?: string }): Promise<Experiment>;
  /** Returns the experiment with this name in the project, creating it if needed. */
  ensureExperiment(input: { project?: string; name: string; description?: string }): Promise<Experiment>;
  /** By id, or by name in the default project. */
  getExperiment(idOrName: string, project?: string): Promise<Experiment>;
  listExperiments(input?: { project?: string; includeArchived?: boolean }): Promise<ExperimentSummary[]>;
  updateExperiment(id: string, patch: { description?: string; archived?: boolean }): Promise<Experiment>;
  setExperimentTags(id: string, tags: Record<string, string>): Promise<void>;

  // runs
  createRun(input: CreateRunInput): Promise<Run>;
  getRun(id: string): Promise<RunDetail>;
  /** The run's row alone (status, tier, parent, code, times): one query, for hot paths. */
  getRunHead(id: string): Promise<Run>;
  /** Many runs' rows in one query (ids not found are left out), for callers that batch. */
  getRunHeads(ids: readonly string[]): Promise<Run[]>;
  /** Resolves a unique id prefix (as git does) to a full run id. */
  resolveRunId(idOrPrefix: string): Promise<string>;
  /**
   * queued → running; records environment and code when given. A new attempt (as
   * claimRun), except through a fenced view: there the run is started under the view's
   * attempt.
   */
  startRun(id: string, patch?: { environment?: RunEnvironment; code?: CodeRef }): Promise<Run>;
  /**
   * Takes a queued or running run for a new attempt (a worker picking up its job): the
   * run's attempt number goes up by one atomically, the attempt still open is closed as
   * superseded, the new one is recorded. The number is the fencing token for `fenced`.
   * An ended run cannot be taken (INVALID_STATE).
   */
  claimRun(id: string, input?: { workerId?: string | null }): Promise<{ run: Run; attempt: number }>;
  /** Records the checkpoint an attempt resumed from, and (once) how it ended. */
  updateAttempt(runId: string, attempt: number, patch: { resumedFromStep?: number | null; outcome?: AttemptOutcome; detail?: string | null }): Promise<void>;
  /** Every attempt at a run, first first. */
  listAttempts(runId: string): Promise<RunAttempt[]>;
  /**
   * Runs still queued that the pipeline queued under a prefix (their queuePrefix, never a
   * tag), by id, a page at a time: pass the last id as `after`. Default page 500.
   */
  listQueuedRuns(input: { prefix: string; after?: string | null; limit?: number }): Promise<Run[]>;
  /**
   * This store, writing for attempt `fence.attempt` of run `fence.runId`: every write
   * through it (to that run or anything else: a promoted run, a model version) is refused
   * with FencedError (code CONFLICT) once a newer attempt has taken the run, and changes
   * nothing. Reads are as the store's. `onFenced` hears each refusal. Its close() does
   * nothing: close the store it came from.
   */
  fenced(fence: Fence, options?: { onFenced?: (e: FencedError) => void }): Store;
  /** Merges facts learnt after the start (e.g. the training backend) into the run's environment. */
  mergeEnvironment(id: string, patch: RunEnvironment): Promise<Run>;
  endRun(id: string, status: EndStatus, reason?: string | null): Promise<Run>;
  heartbeat(id: string): Promise<void>;
  /** Marks running runs whose heartbeat is older than `timeoutMs` as failed with reason "lost". */
  markLostRuns(timeoutMs: number): Promise<string[]>;
  deleteRun(id: string): Promise<void>;

  // params, tags, notes, artifacts
  logParams(runId: string, params: Record<string, string | number | boolean>): Promise<void>;
  setTags(runId: string, tags: Record<string, string>): Promise<void>;
  deleteTag(runId: string, key: string): Promise<void>;
  addNote(target: { kind: 'run' | 'experiment'; id: string }, body: string, author?: string): Promise<Note>;
  listNotes(target: { kind: 'run' | 'experiment'; id: string }): Promise<Note[]>;
  logArtifact(runId: string, artifact: { path: string; hash: string; size: number; mediaType?: string }): Promise<Artifact>;
  listArtifacts(runId: string): Promise<Artifact[]>;

  // metrics
  /** Bulk, set-based and idempotent on (run, key, step): a retried batch never duplicates a point. */
  logMetrics(runId: string, points: MetricPoint[]): Promise<{ inserted: number }>;
  getMetricSummaries(runId: string): Promise<Record<string, MetricSummary>>;
  /** The series, downsampled on the server to at most `maxPoints` points (spikes kept). */
  getMetricSeries(runId: string, key: string, options?: SeriesOptions): Promise<MetricSeries>;
  /**
   * Many series at once (at most 1,000), in a few queries whatever their number; the
   * results in the order asked, each as getMetricSeries would give it. NOT_FOUND names
   * the first run id that is no run.
   */
  getMetricSeriesMany(requests: readonly SeriesRequest[], options?: SeriesOptions): Promise<MetricSeries[]>;
  /** Runs side by side (at most 100): details, the series asked for, and the param diff. NOT_FOUND names the first id that is no run. */
  compareRuns(runIds: readonly string[], options?: CompareRunsOptions): Promise<ComparedRuns>;

  // search
  searchRuns(input?: SearchRunsInput): Promise<SearchRunsResult>;

  // datasets and snapshots (the snapshot lib computes ids; the store records them)
  ensureDataset(input: { project?: string; name: string; description?: string }): Promise<Dataset>;
  getDataset(idOrName: string, project?: string): Promise<Dataset>;
  listDatasets(): Promise<DatasetSummary[]>;
  recordSnapshot(input: RecordSnapshotInput): Promise<SnapshotRecord>;
  latestSnapshot(dataset: string): Promise<SnapshotRecord | null>;
  /** Newest first. */
  listSnapshots(dataset: string, limit?: number): Promise<SnapshotRecord[]>;
  resolveSnapshotId(idOrPrefix: string): Promise<string>;
  allSnapshotIds(): Promise<string[]>;
  /** What the blob store's gc must keep: snapshot roots, and single blobs named by artifacts and model versions. */
  blobRoots(): Promise<{ snapshots: string[]; blobs: string[] }>;

  // model registry
  /** The artifact as the next version (1, 2, …) of a named model, created on first use; lineage run → version. */
  registerModelVersion(input: RegisterModelVersionInput): Promise<ModelVersion>;
  listModels(project?: string): Promise<ModelSummary[]>;
  getModel(name: string, project?: string): Promise<ModelDetail>;
  /** A version number, `latest` (the default) or an alias. */
  resolveModelVersion(name: string, ref?: string | number, project?: string): Promise<ModelVersion>;
  /** Moves (or, with `null`, removes) an alias atomically, with a history row. */
  setModelAlias(name: string, alias: string, version: number | null, project?: string): Promise<AliasMove>;
  aliasHistory(name: string, alias?: string, project?: string): Promise<AliasMove[]>;
  updateModelVersion(name: string, version: number, patch: { description?: string; tags?: Record<string, string> }, project?: string): Promise<ModelVersion>;
  recordDeployment(input: { modelVersionId: string; environment: string; host: string }): Promise<Deployment>;
  endDeployment(id: string): Promise<Deployment>;
  listDeployments(filter?: { modelVersionId?: string; active?: boolean }): Promise<Deployment[]>;

  // lineage
  addLineageEdge(from: LineageNode, to: LineageNode, relation: string): Promise<void>;
  /** Everything upstream of (what went into) or downstream of (what came out of) a node. */
  lineage(node: LineageNode, options?: { direction?: 'upstream' | 'downstream' | 'both'; depth?: number }): Promise<LineageGraph>;

  // batched reads for the portal (each one query or a few, whatever the count)
  /** Many runs with params, tags and metric summaries, in the order asked; ids not found are left out. */
  getRuns(ids: readonly string[]): Promise<RunDetail[]>;
  /** resolveRunId among runs of these projects only (others are neither found nor make a prefix ambiguous). */
  resolveRunIdIn(idOrPrefix: string, projectIds: readonly string[]): Promise<string>;
  /** Several experiments by id; ids not found are left out. */
  getExperiments(ids: readonly string[]): Promise<Experiment[]>;
  /** Every experiment's id and project (archived ones too), without counting runs. */
  listExperimentOwners(): Promise<{ id: string; projectId: string }[]>;
  /** The param, metric and tag keys present on runs (of these experiments, when given), sorted. */
  runColumns(input?: { experimentIds?: string[] }): Promise<RunColumns>;
  /** How many runs a search would list over all its pages. */
  countRuns(input?: Pick<SearchRunsInput, 'experimentIds' | 'filter' | 'includeArchived'>): Promise<number>;
  /** Children per parent run (a sweep's trials) by status; every parent asked is a key. */
  childRunCounts(parentIds: readonly string[]): Promise<Record<string, Partial<Record<RunStatus, number>>>>;
  /** Each experiment's best finished or abandoned run on its objective; experiments without one are left out. */
  bestRuns(objectives: readonly ExperimentObjective[]): Promise<BestRun[]>;
  /** The projects owning each object (several for a snapshot or code bundle shared between projects). */
  projectsOf(kind: OwnedKind, ids: readonly string[]): Promise<Record<string, string[]>>;
  /** Names, statuses and owners of lineage nodes, for drawing a graph. */
  describeLineageNodes(nodes: readonly LineageNode[]): Promise<LineageNodeFacts[]>;
  /** Every recorded row of these snapshot ids (one per dataset that recorded it). */
  getSnapshots(ids: readonly string[]): Promise<SnapshotRecord[]>;
  /** Each dataset's newest snapshot, for all datasets or these. */
  latestSnapshots(datasetIds?: readonly string[]): Promise<SnapshotRecord[]>;
  /** The deployments of several model versions, newest first. */
  listDeploymentsOf(versionIds: readonly string[]): Promise<Deployment[]>;

  // what the pipeline decides (written only by the pipeline: never through the portal's API
  // or the ingest API; see pipeline-decisions.ts)
  /** Records a gate's verdict on a run for a tier, replacing an earlier one for the same tier. */
  recordGateResult(input: RecordGateInput): Promise<GateRecord>;
  /** Gate verdicts newest first: of these runs, or of these experiments' runs, or all. */
  listGateResults(query?: { runIds?: readonly string[]; experimentIds?: readonly string[]; limit?: number }): Promise<GateRecord[]>;
  /** A sweep's parent run and its record, created together. */
  createSweep(input: { run: CreateRunInput; sweep: CreateSweepInput }): Promise<{ run: Run; sweep: SweepRecord }>;
  /** The sweep whose parent is this run; null when it is no sweep. */
  getSweep(parentRunId: string): Promise<SweepRecord | null>;
  listSweeps(query?: { status?: SweepStatus; prefix?: string; experimentIds?: readonly string[]; limit?: number }): Promise<SweepRecord[]>;
  updateSweep(parentRunId: string, patch: SweepPatch): Promise<SweepRecord>;
  /** Trial `index` of a sweep: a child run of its parent and the trial's record, together; CONFLICT when the index is taken. */
  createSweepTrial(sweepId: string, trial: { index: number; params: Record<string, unknown> }, run: Omit<CreateRunInput, 'parentRunId'>): Promise<Run>;
  /** A sweep's trials by index. */
  listSweepTrials(sweepId: string): Promise<SweepTrialRecord[]>;
  /** The run's trial record; null when it is no sweep's trial. */
  getSweepTrial(runId: string): Promise<SweepTrialRecord | null>;
  recordChampionDecision(input: RecordChampionInput): Promise<ChampionDecision>;
  /** Everything the pipeline decided about a run, and its attempts. */
  getPipelineDecisions(runId: string): Promise<PipelineDecisions>;
}

export type { GateValue, SweepStatus, ChampionDecisionKind };

export interface RecordGateInput {
  runId: string;
  tier: string;
  passed: boolean;
  /** The gate's filter expression as configured. */
  expression: string;
  /** Every field the expression names, with the run's value. */
  values: Record<string, GateValue>;
  /** Metrics the gate names that the run lacked (or held as NaN). */
  missing: string[];
}

export interface GateRecord extends RecordGateInput {
  evaluatedAt: Date;
}

export interface CreateSweepInput {
  /** The strategy's kind (grid, random, tpe). */
  strategy: string;
  /** The whole spec, as the pipeline validates it. */
  spec: Record<string, unknown>;
  objective: Objective;
  /** The queue prefix its trials go on. */
  prefix: string;
  maxTrials: number;
  parallel: number;
}

export interface SweepRecord extends CreateSweepInput {
  parentRunId: string;
  status: SweepStatus;
  best: { runId: string; trial: number; value: number } | null;
  createdAt: Date;
  endedAt: Date | null;
}

export interface SweepPatch {
  status?: SweepStatus;
  best?: { runId: string; trial: number; value: number } | null;
}

export interface SweepTrialRecord {
  runId: string;
  sweepId: string;
  index: number;
  /** The trial's own (swept) params. */
  params: Record<string, unknown>;
}

export interface RecordChampionInput {
  runId: string;
  tier: string;
  decision: ChampionDecisionKind;
  model: string;
  alias: string;
  metric: string;
  challenger: number | null;
  champion: number | null;
  version?: number | null;
  detail: string;
}

export interface ChampionDecision extends Omit<RecordChampionInput, 'version'> {
  version: number | null;
  decidedAt: Date;
}

export interface PipelineDecisions {
  /** Oldest first. */
  gates: GateRecord[];
  champion: ChampionDecision[];
  /** Set when the run is a sweep's parent. */
  sweep: SweepRecord | null;
  /** Set when the run is a sweep's trial. */
  trial: SweepTrialRecord | null;
  /** Every pickup of the run (run_attempts), first first. */
  attempts: RunAttempt[];
}

export interface RunColumns {
  params: string[];
  metrics: string[];
  tags: string[];
}

export interface ExperimentObjective extends Objective {
  experimentId: string;
}

export interface BestRun extends ExperimentObjective {
  runId: string;
  value: number;
}

/** What owns a project-scoped object: every lineage kind, experiments, and projects themselves. */
export type OwnedKind = LineageKind | 'experiment' | 'project';

/** What a lineage node shows; fields apply to the kinds noted. */
export interface LineageNodeFacts {
  kind: LineageKind;
  id: string;
  projectIds: string[];
  /** run, dataset, model */
  name?: string;
  /** run */
  status?: RunStatus;
  statusReason?: string | null;
  experiment?: string | null;
  /** snapshot: the datasets that recorded it */
  datasets?: string[];
  /** model_version, deployment */
  model?: string | null;
  version?: number;
  /** deployment */
  environment?: string | null;
  host?: string | null;
  stoppedAt?: Date | null;
  /** run, code */
  gitSha?: string | null;
  gitDirty?: boolean | null;
  createdAt?: Date | null;
}

export type { LineageKind, LineageNode, RunStatus, RunEnvironment };

export interface ModelRecord {
  id: string;
  projectId: string;
  name: string;
  description: string;
  createdAt: Date;
}

export interface ModelVersion {
  id: string;
  modelId: string;
  modelName: string;
  version: number;
  runId: string | null;
  /** Content id of the version's file manifest in the blob store. */
  artifactHash: string;
  description: string;
  tags: Record<string, string>;
  createdAt: Date;
}

export interface RegisterModelVersionInput {
  project?: string;
  name: string;
  runId?: string;
  artifactHash: string;
  description?: string;
  tags?: Record<string, string>;
}

export interface ModelSummary {
  id: string;
  name: string;
  description: string;
  createdAt: Date;
  versionCount: number;
  latestVersion: number | null;
  updatedAt: Date | null;
  /** alias → version number */
  aliases: Record<string, number>;
}

export interface ModelDetail extends ModelRecord {
  /** Newest first. */
  versions: ModelVersion[];
  aliases: Record<string, number>;
}

export interface AliasMove {
  model: string;
  alias: string;
  /** null: the alias was removed. */
  version: number | null;
  previous: number | null;
  movedAt: Date;
}

export interface Deployment {
  id: string;
  modelVersionId: string;
  environment: string;
  host: string;
  startedAt: Date;
  stoppedAt: Date | null;
}
