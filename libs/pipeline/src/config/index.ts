export * from './defaults.ts';
export { cronError } from './cron.ts';
export { gateError, pipelineConfigSchema, resolvePipelineConfig, PipelineConfigError, type ConfigProblem } from './schema.ts';
export { findPipelineConfigFile, loadPipelineConfig } from './load.ts';
export { tierSettingsFor, definitionForTier } from './tier-settings.ts';
export { candidateFilter, promotionsFor, type Promotion } from './promotion.ts';
