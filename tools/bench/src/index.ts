/** The benchmark helpers, for scripts that want the same statistics and tables. */
export * from './stats.ts';
export * from './report.ts';
