export { readConfig, readSettings, defaultConfig, type CairnConfig, type Environment } from './config.ts';
export { ENV_VARIABLES, type EnvVariable } from './variables.ts';
export { configTableMarkdown, variableNames } from './readme-table.ts';
export { blobRootFor } from './places.ts';
