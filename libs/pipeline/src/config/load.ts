import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { ValidationError } from '@cairn/schema';
import { CONFIG_FILES, type PipelineConfig } from './defaults.ts';
import { PipelineConfigError, resolvePipelineConfig } from './schema.ts';

/** The config file at `rootDir`, or null when there is none. */
export function findPipelineConfigFile(rootDir: string): string | null {
  for (const name of CONFIG_FILES) {
    const file = join(resolve(rootDir), name);
    if (existsSync(file)) return file;
  }
  return null;
}

/**
 * Loads `cairn.config.ts` (or .mts, .js, .mjs; first found) from `rootDir`, validates
 * it and merges it over the defaults; without one, the defaults. TypeScript configs
 * need the process to run under tsx, as the CLI and workers do. Every problem is one
 * PipelineConfigError (a ValidationError); a file that fails to import is a
 * ValidationError saying so.
 */
export async function loadPipelineConfig(rootDir: string): Promise<PipelineConfig> {
  const file = findPipelineConfigFile(rootDir);
  if (file === null) return resolvePipelineConfig({});
  let mod: { default?: unknown };
  try {
    mod = (await import(pathToFileURL(file).href)) as { default?: unknown };
  } catch (e) {
    throw new ValidationError(`${file} failed to load: ${(e as Error).message}`, { cause: e });
  }
  if (mod.default === undefined) {
    throw new PipelineConfigError(file, [{ path: '', message: 'it has no default export (write `export default defineConfig({ ... })`)' }]);
  }
  return resolvePipelineConfig(mod.default, file);
}
