import type { Objective } from '@cairn/schema';

export type { Objective };

/**
 * An experiment's objective, from its tags: `objective` names the metric and may end in
 * its direction (`val_loss min`, `val_acc max`); tag `objective.direction` (minimize or
 * maximize) says it too. Without either, names that read as losses or errors are
 * minimized and everything else maximized.
 */

const MINIMIZED = /loss|err|mse|mae|rmse|perplexity|latency|time/i;
const SUFFIX = /^(.*\S)\s+(min|max|minimize|maximize|asc|desc)$/i;

export function objectiveOf(tags: Record<string, string>): Objective | null {
  const raw = tags.objective?.trim();
  if (!raw) return null;
  let metric = raw;
  let direction: Objective['direction'] | null = null;
  const m = SUFFIX.exec(raw);
  if (m) {
    metric = m[1]!;
    direction = /^(min|minimize|asc)$/i.test(m[2]!) ? 'minimize' : 'maximize';
  }
  const explicit = tags['objective.direction']?.trim().toLowerCase();
  if (explicit === 'minimize' || explicit === 'min') direction = 'minimize';
  else if (explicit === 'maximize' || explicit === 'max') direction = 'maximize';
  return { metric, direction: direction ?? (MINIMIZED.test(metric) ? 'minimize' : 'maximize') };
}
