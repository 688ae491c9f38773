import type { Note } from '@cairn/store';

/** A tier gate's verdict on a run, as the pipeline records it (tags `gate`, `gate.tier` and a note). */
export interface GateView {
  passed: boolean;
  tier: string | null;
  /** The filter expression, with the values that decided it, when its note is found. */
  expression: string | null;
  values: Record<string, number | string | null>;
  missing: string[];
}

const MARKER = /<!-- cairn-gate (\{[\s\S]*\}) -->/;

export function gateOf(tags: Record<string, string>, notes: readonly Note[]): GateView | null {
  const verdict = tags.gate;
  if (verdict !== 'passed' && verdict !== 'failed') return null;
  const view: GateView = { passed: verdict === 'passed', tier: tags['gate.tier'] ?? null, expression: null, values: {}, missing: [] };
  // The newest note of the verdict's tier holds its details (a rerun's verdict replaces the tags).
  for (let i = notes.length - 1; i >= 0; i--) {
    const m = MARKER.exec(notes[i]!.body);
    if (!m) continue;
    try {
      const r = JSON.parse(m[1]!) as { tier?: string; passed?: boolean; expression?: string; values?: Record<string, number | string | null>; missing?: string[] };
      if (view.tier && r.tier && r.tier !== view.tier) continue;
      return { ...view, expression: r.expression ?? null, values: r.values ?? {}, missing: r.missing ?? [] };
    } catch {
      // A hand-edited note: the tags alone still say the verdict.
    }
  }
  return view;
}
