import fs from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { ValidationError } from '@cairn/schema';
import { PipelineConfigError, loadPipelineConfig, resolvePipelineConfig, type PipelineConfig } from '../config/index.ts';
import { DEFAULT_REDIS_URL } from '../redis.ts';

/**
 * The pipeline config: `file` when given (any path; TypeScript needs tsx, as the CLI and
 * the worker run under), else cairn.config.ts (.mts, .js, .mjs) at `cwd`, else the defaults.
 */
export async function loadConfig(file: string | undefined, cwd: string = process.cwd()): Promise<PipelineConfig> {
  if (file === undefined) return loadPipelineConfig(cwd);
  const abs = path.resolve(cwd, file);
  if (!fs.statSync(abs, { throwIfNoEntry: false })?.isFile()) throw new ValidationError(`config file ${file} does not exist`);
  let mod: { default?: unknown };
  try {
    mod = (await import(pathToFileURL(abs).href)) as { default?: unknown };
  } catch (e) {
    throw new ValidationError(`${abs} failed to load: ${(e as Error).message}`, { cause: e });
  }
  if (mod.default === undefined) throw new PipelineConfigError(abs, [{ path: '', message: 'it has no default export (write `export default defineConfig({ ... })`)' }]);
  return resolvePipelineConfig(mod.default, abs);
}

/** The BullMQ prefix: an explicit one, then CAIRN_QUEUE_PREFIX (as the app read it), then the config's `queuePrefix`. */
export function queuePrefixFor(config: PipelineConfig, explicit?: string, fromEnvironment?: string): string {
  const prefix = explicit || fromEnvironment || config.queuePrefix;
  if (!/^[A-Za-z0-9_.:-]+$/.test(prefix)) throw new ValidationError(`invalid queue prefix '${prefix}': use letters, digits, _ - . :`);
  return prefix;
}

/**
 * Where Redis is: REDIS_URL (a per-process override, as the app read it), then the
 * config's `redisUrl`, then redis://127.0.0.1:6379.
 */
export function redisUrlFor(config: PipelineConfig, fromEnvironment?: string): string {
  return fromEnvironment || config.redisUrl || DEFAULT_REDIS_URL;
}
