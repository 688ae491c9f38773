/**
 * Every table of the tracking schema: the core tables (projects, runs, metrics, lineage,
 * ...) and what the pipeline decides (gates, sweeps, champion decisions), each in a file
 * of its own. drizzle-kit reads this file; the two parts import nothing from here, so
 * the import graph stays a tree.
 */
export * from './core-tables.ts';
export * from './pipeline-tables.ts';
