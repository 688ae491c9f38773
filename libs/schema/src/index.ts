export * from './tables.ts';
export * from './errors.ts';
export * from './ids.ts';
export * from './validation.ts';
export * from './allowed-hosts.ts';
export * as tables from './tables.ts';
