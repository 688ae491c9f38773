/**
 * @cairn/pipeline, loaded on first use. It pulls in the training engine (tfjs), which
 * takes seconds to load; a portal page that never touches queues or sweeps should not
 * wait for it, so only the procedures that need it import it, once.
 */
type Pipeline = typeof import('@cairn/pipeline');

let loading: Promise<Pipeline> | null = null;

export function pipeline(): Promise<Pipeline> {
  loading ??= import('@cairn/pipeline');
  return loading;
}
