/** Output types of the API, inferred from the router so the UI follows the contract. */
import type { inferRouterInputs, inferRouterOutputs } from '@trpc/server';
import type { AppRouter } from '@cairn/api';

export type Outputs = inferRouterOutputs<AppRouter>;
export type Inputs = inferRouterInputs<AppRouter>;

export type RunRow = Outputs['runs']['search']['runs'][number];
export type RunPage = Outputs['runs']['search'];
export type RunDetail = Outputs['runs']['get'];
export type SeriesMap = Outputs['runs']['series'];
export type CompareOut = Outputs['runs']['compare'];
export type ExperimentItem = Outputs['experiments']['list'][number];
export type DatasetItem = Outputs['datasets']['list'][number];
export type SnapshotItem = Outputs['datasets']['snapshots'][number];
export type LineageOut = Outputs['lineage']['graph'];
export type ModelItem = Outputs['models']['list'][number];
export type ModelOut = Outputs['models']['get'];
export type QueueCounts = Outputs['queues']['counts'];
export type QueueJob = Outputs['queues']['jobs'][number];
export type SweepItem = Outputs['sweeps']['list'][number];
