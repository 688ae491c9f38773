'use client';
/** Chooses the runs table's extra columns among the params, metrics and tags that runs have. */
import { useEffect, useRef, useState } from 'react';
import { columnId, toggleColumn, type AvailableColumns, type ColumnGroup } from '../lib/columns.ts';

const GROUPS: { group: ColumnGroup; title: string }[] = [
  { group: 'metrics', title: 'Metrics' },
  { group: 'params', title: 'Params' },
  { group: 'tags', title: 'Tags' },
];

export function ColumnPicker({ available, chosen, onChange, onReset }: { available: AvailableColumns | undefined; chosen: string[]; onChange: (cols: string[]) => void; onReset: () => void }) {
  const [open, setOpen] = useState(false);
  const [query, setQuery] = useState('');
  const box = useRef<HTMLDivElement>(null);

  useEffect(() => {
    if (!open) return;
    const close = (e: MouseEvent) => {
      if (box.current && !box.current.contains(e.target as Node)) setOpen(false);
    };
    const esc = (e: KeyboardEvent) => e.key === 'Escape' && setOpen(false);
    document.addEventListener('mousedown', close);
    document.addEventListener('keydown', esc);
    return () => {
      document.removeEventListener('mousedown', close);
      document.removeEventListener('keydown', esc);
    };
  }, [open]);

  const q = query.trim().toLowerCase();
  return (
    <div className="picker" ref={box}>
      <button type="button" aria-expanded={open} aria-haspopup="dialog" onClick={() => setOpen((o) => !o)} data-testid="column-picker">
        Columns ({chosen.length})
      </button>
      {open ? (
        <div className="picker-pop" role="dialog" aria-label="Choose columns" data-testid="column-picker-menu">
          <div className="row" style={{ marginBottom: 8 }}>
            <input type="search" placeholder="Find a key" value={query} onChange={(e) => setQuery(e.target.value)} aria-label="Find a column" style={{ flex: 1 }} />
            <button type="button" className="link" onClick={onReset}>
              Defaults
            </button>
          </div>
          {!available ? <p className="muted small">Loading keys…</p> : null}
          {available
            ? GROUPS.map(({ group, title }) => {
                const keys = available[group].filter((k) => !q || k.toLowerCase().includes(q));
                return (
                  <fieldset key={group}>
                    <legend>
                      {title} ({available[group].length})
                    </legend>
                    {keys.length === 0 ? <span className="muted small">none</span> : null}
                    {keys.map((k) => {
                      const id = columnId(group, k);
                      return (
                        <label key={id}>
                          <input type="checkbox" checked={chosen.includes(id)} onChange={() => onChange(toggleColumn(chosen, id))} data-testid="column-option" data-column={id} />
                          <span className="mono">{k}</span>
                        </label>
                      );
                    })}
                  </fieldset>
                );
              })
            : null}
        </div>
      ) : null}
    </div>
  );
}
