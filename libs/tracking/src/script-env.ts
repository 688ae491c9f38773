import { readSettings, type CairnConfig } from '@cairn/config';

/** What the tracking client takes from its script's environment when startRun's options don't say. */
export type ScriptSettings = Pick<CairnConfig, 'url' | 'token' | 'disabled' | 'databaseUrl' | 'home'>;

/**
 * The one place a lib reads process.env, on purpose: startRun is called from a user's own
 * training script, which is its own app, and users expect the tracking client to follow
 * CAIRN_URL, CAIRN_TOKEN, CAIRN_DISABLED, DATABASE_URL and CAIRN_HOME the way MLflow's
 * follows MLFLOW_TRACKING_URI. Read through @cairn/config's schema, when a run starts.
 */
export function scriptSettings(env: Readonly<Record<string, string | undefined>> = process.env): ScriptSettings {
  return readSettings(env, ['url', 'token', 'disabled', 'databaseUrl', 'home']);
}
