import { z } from 'zod';
import { ValidationError } from '@cairn/schema';
import { ENV_VARIABLES, type EnvVariable } from './variables.ts';

type Variables = typeof ENV_VARIABLES;

/** The settings an app reads from its environment, once, at start: typed and checked. */
export type CairnConfig = { [K in keyof Variables]: z.output<Variables[K]['schema']> };

/** The environment as a process has it (process.env), or any map of names to values. */
export type Environment = Readonly<Record<string, string | undefined>>;

/**
 * Reads every Cairn variable from `env` (an app passes process.env; libs never read it).
 * A blank value counts as unset. A bad value throws a ValidationError naming the
 * variable and what it must look like, every bad one at once.
 */
export function readConfig(env: Environment): CairnConfig {
  return readSettings(env, Object.keys(ENV_VARIABLES) as (keyof Variables)[]);
}

/** Only some settings (a bad value elsewhere is not this caller's concern), checked as readConfig does. */
export function readSettings<K extends keyof Variables>(env: Environment, keys: readonly K[]): Pick<CairnConfig, K> {
  const out: Record<string, unknown> = {};
  const problems: string[] = [];
  for (const key of keys) {
    const v: EnvVariable = ENV_VARIABLES[key];
    const raw = env[v.name];
    const parsed = v.schema.safeParse(raw === undefined || raw.trim() === '' ? undefined : raw.trim());
    if (parsed.success) out[key] = parsed.data;
    else problems.push(`${v.name}: ${parsed.error.issues.map((i) => i.message).join('; ')}`);
  }
  if (problems.length) throw new ValidationError(`invalid environment: ${problems.join('; ')}`);
  return out as Pick<CairnConfig, K>;
}

/** The config of an empty environment: every default. */
export function defaultConfig(): CairnConfig {
  return readConfig({});
}
