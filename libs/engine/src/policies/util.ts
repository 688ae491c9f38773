import type { Evaluation, Objective, PeerCurve } from '../types.ts';

/** Options every policy factory takes. */
export interface PolicyOptions {
  /**
   * The objective's metric name (e.g. 'val_loss'), so reasons can name it. Policies see
   * only values, never the definition, so without it reasons say "the objective".
   */
  metric?: string;
}

export type Direction = Objective['direction'];

/** How reasons name the objective. */
export function label(options: PolicyOptions | undefined): string {
  return options?.metric ?? 'the objective';
}

/** `a` strictly better than `b` in the given direction. */
export function isBetter(a: number, b: number, direction: Direction): boolean {
  return direction === 'minimize' ? a < b : a > b;
}

/**
 * The best finite objective value in a run's history and the step it was first seen at;
 * null when there is none. Non-finite values are skipped: NaN compares false with
 * everything, so letting one in would freeze "best" forever (the nan policy is the one
 * that acts on them).
 */
export function bestOf(history: readonly Evaluation[], direction: Direction): { value: number; step: number } | null {
  let best: { value: number; step: number } | null = null;
  for (const e of history) {
    if (!Number.isFinite(e.value)) continue;
    if (best === null || isBetter(e.value, best.value, direction)) best = { value: e.value, step: e.step };
  }
  return best;
}

/**
 * A peer's best-so-far value at `step`: the best of its finite points with step ≤ `step`,
 * or null when it has none yet. Points need not be sorted or evenly spaced (peers may
 * have evaluated at other steps, or stopped early), so every point is looked at.
 */
export function peerBestAt(peer: PeerCurve, step: number, direction: Direction): number | null {
  let best: number | null = null;
  for (const p of peer.points) {
    if (p.step > step || !Number.isFinite(p.value)) continue;
    if (best === null || isBetter(p.value, best, direction)) best = p.value;
  }
  return best;
}

/** Each peer's best-so-far at `step`, leaving out peers with no point at or before it. */
export function peersAt(peers: readonly PeerCurve[], step: number, direction: Direction): number[] {
  const out: number[] = [];
  for (const peer of peers) {
    const v = peerBestAt(peer, step, direction);
    if (v !== null) out.push(v);
  }
  return out;
}

/** A number for a reason line: integers as they are, others to 4 significant digits. */
export function fmt(n: number): string {
  if (!Number.isFinite(n) || Number.isInteger(n)) return String(n);
  return String(Number(n.toPrecision(4)));
}

/** A duration for a reason line: "850 ms", "12.3 s", "5.2 min", "1.5 h". */
export function fmtMs(ms: number): string {
  if (!Number.isFinite(ms)) return String(ms);
  if (ms < 1000) return `${fmt(ms)} ms`;
  if (ms < 60_000) return `${fmt(Number((ms / 1000).toFixed(1)))} s`;
  if (ms < 3_600_000) return `${fmt(Number((ms / 60_000).toFixed(1)))} min`;
  return `${fmt(Number((ms / 3_600_000).toFixed(1)))} h`;
}

/** "1 evaluation", "5 evaluations". */
export function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}
