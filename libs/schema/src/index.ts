export * from './tables.ts';
export * from './errors.ts';
export * from './ids.ts';
export * from './validation.ts';
export * from './allowed-hosts.ts';
export type { Objective } from './objective.ts';
export * as tables from './tables.ts';
