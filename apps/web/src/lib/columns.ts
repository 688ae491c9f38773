/**
 * The runs table's extra columns are fields of the filter language — `params.lr`,
 * `metrics.val_accuracy`, `tags.team` — so a column id is also what the API sorts by.
 */

export type ColumnGroup = 'params' | 'metrics' | 'tags';

export interface FieldColumn {
  id: string;
  group: ColumnGroup;
  key: string;
}

export interface AvailableColumns {
  params: string[];
  metrics: string[];
  tags: string[];
}

export function fieldColumn(id: string): FieldColumn | null {
  const m = /^(params|metrics|tags)\.(.+)$/.exec(id);
  if (!m) return null;
  return { id, group: m[1] as ColumnGroup, key: m[2]! };
}

export function columnId(group: ColumnGroup, key: string): string {
  return `${group}.${key}`;
}

/** Without a choice in the URL: a few validation metrics first, then a few params. */
export function defaultColumns(available: AvailableColumns, max = { metrics: 4, params: 4 }): string[] {
  const metrics = [...available.metrics]
    .filter((k) => !/^(system|sys|gpu|cpu|mem)[/._]/i.test(k))
    .sort((a, b) => rank(a) - rank(b) || a.localeCompare(b))
    .slice(0, max.metrics);
  const params = [...available.params].sort((a, b) => a.localeCompare(b)).slice(0, max.params);
  return [...metrics.map((k) => columnId('metrics', k)), ...params.map((k) => columnId('params', k))];
}

function rank(metric: string): number {
  if (/^val[_/.]?/i.test(metric)) return 0;
  if (/acc|loss|f1|auc|score/i.test(metric)) return 1;
  return 2;
}

/** Toggles a column on or off, keeping the order the user built. */
export function toggleColumn(current: readonly string[], id: string): string[] {
  return current.includes(id) ? current.filter((c) => c !== id) : [...current, id];
}
