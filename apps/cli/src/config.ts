import { readConfig, type CairnConfig } from '@cairn/config';

let read: CairnConfig | null = null;

/**
 * The CLI's configuration from its environment (@cairn/config): read once per process,
 * at the first command that needs it, and passed to the libs as options. A bad value is
 * a usage error naming the variable (exit 2).
 */
export function cliConfig(): CairnConfig {
  return (read ??= readConfig(process.env));
}

/** CAIRN_TRAINER, CAIRN_BACKEND and CAIRN_THREADS, for runTraining's `configured` (weaker than --trainer/--backend). */
export function trainingSettings(): { trainer?: string; backend?: string; threads?: number } {
  const c = cliConfig();
  return { ...(c.trainer !== undefined ? { trainer: c.trainer } : {}), ...(c.backend !== undefined ? { backend: c.backend } : {}), ...(c.threads !== undefined ? { threads: c.threads } : {}) };
}
