import type { Objective } from '@cairn/schema';
import type { Experiment, Store } from '@cairn/store';

/**
 * Records a training definition's objective on its experiment (tag `objective`, e.g.
 * `val_acc max`), so the portal and the API can rank the experiment's runs without being
 * told. A tag already there, set by a person or an earlier definition, is kept.
 */
export async function recordObjective(store: Store, experiment: Experiment, objective: Objective): Promise<void> {
  if (experiment.tags.objective) return;
  await store.setExperimentTags(experiment.id, { objective: `${objective.metric} ${objective.direction === 'minimize' ? 'min' : 'max'}` });
}
