/**
 * What a training run or a sweep optimises: a metric the fit reports and which way is
 * better. It lives here, in the lowest lib, so the engine (definitions), the pipeline
 * (sweeps) and the API (experiment tags) share one type without the API loading the engine.
 */
export interface Objective {
  /** A metric the fit reports, e.g. 'val_acc' or 'val_loss'. */
  metric: string;
  direction: 'minimize' | 'maximize';
}
