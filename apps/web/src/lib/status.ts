/** Run statuses, in the order the portal lists them (kept here so client code needs no server lib). */
export const RUN_STATUSES = ['queued', 'running', 'finished', 'failed', 'abandoned', 'cancelled'] as const;
export type RunStatus = (typeof RUN_STATUSES)[number];

/** Statuses whose runs ended early: the chip shows their reason. */
export const REASONED_STATUSES: readonly string[] = ['failed', 'abandoned', 'cancelled'];

export function isActiveStatus(status: string): boolean {
  return status === 'queued' || status === 'running';
}

export function statusLabel(status: string): string {
  return status.charAt(0).toUpperCase() + status.slice(1);
}
