import { formatValue } from '../lib/format.ts';

/** A two-column table of keys and values (params, environment…), sorted by key. */
export function KeyValueTable({ entries, testId, empty = 'none' }: { entries: Record<string, unknown>; testId?: string; empty?: string }) {
  const keys = Object.keys(entries).sort((a, b) => a.localeCompare(b));
  if (!keys.length) return <p className="muted small">{empty}</p>;
  return (
    <table className="data" data-testid={testId}>
      <tbody>
        {keys.map((k) => {
          const v = entries[k];
          return (
            <tr key={k}>
              <th scope="row" className="mono" style={{ width: '40%', fontWeight: 500 }}>
                {k}
              </th>
              <td className="mono" style={{ overflowWrap: 'anywhere' }}>
                {v !== null && typeof v === 'object' && !(v instanceof Date) ? JSON.stringify(v) : formatValue(v)}
              </td>
            </tr>
          );
        })}
      </tbody>
    </table>
  );
}
