'use client';
/**
 * The filter-language box of the runs table. Enter submits at once; typing submits
 * after a pause. A filter that does not parse shows the API's message with a caret
 * under the position it points at.
 */
import { useEffect, useId, useRef, useState } from 'react';
import { caretLine, type FilterError } from '../lib/filter-error.ts';

const DEBOUNCE_MS = 900;

export function FilterBox({ value, onSubmit, error }: { value: string; onSubmit: (filter: string) => void; error: FilterError | null }) {
  const [text, setText] = useState(value);
  const timer = useRef<ReturnType<typeof setTimeout> | null>(null);
  const id = useId();

  // The URL changed under us (back button, a link): show its filter.
  useEffect(() => setText(value), [value]);
  useEffect(() => () => clearTimer(), []);

  function clearTimer() {
    if (timer.current) clearTimeout(timer.current);
    timer.current = null;
  }

  function submit(next: string) {
    clearTimer();
    if (next.trim() !== value.trim()) onSubmit(next.trim());
  }

  return (
    <div className="filter">
      <label htmlFor={id} className="sr-only">
        Filter runs
      </label>
      <input
        id={id}
        type="search"
        data-testid="filter-input"
        placeholder="Filter: metrics.val_accuracy > 0.9 and params.optimizer = 'adam'   (Enter to apply)"
        value={text}
        spellCheck={false}
        autoComplete="off"
        aria-invalid={error ? 'true' : 'false'}
        aria-describedby={error ? `${id}-err` : `${id}-hint`}
        onChange={(e) => {
          const next = e.target.value;
          setText(next);
          clearTimer();
          timer.current = setTimeout(() => submit(next), DEBOUNCE_MS);
        }}
        onKeyDown={(e) => {
          if (e.key === 'Enter') {
            e.preventDefault();
            submit(text);
          } else if (e.key === 'Escape') {
            clearTimer();
            setText(value);
          }
        }}
      />
      {error ? (
        <div className="filter-error" role="alert" id={`${id}-err`} data-testid="filter-error" data-position={error.position ?? undefined}>
          {error.message}
          {error.position !== null ? (
            <pre aria-hidden="true">
              {value}
              {'\n'}
              <span className="caret" data-testid="filter-error-caret">
                {caretLine(value, error.position)}
              </span>
            </pre>
          ) : null}
        </div>
      ) : (
        <div className="hint" id={`${id}-hint`}>
          <code>and or not ( )</code> · <code>= != &lt; &lt;= &gt; &gt;= in like ilike is null</code> over <code>params.*</code>, <code>metrics.*</code> (
          <code>.min .max .count</code>), <code>tags.*</code>, <code>status tier name created started ended</code>
        </div>
      )}
    </div>
  );
}
