import type { ReactNode } from 'react';

/** What a page shows when there is nothing yet, and how to get something. */
export function EmptyState({ title, children, testId = 'empty-state' }: { title: string; children?: ReactNode; testId?: string }) {
  return (
    <div className="empty" data-testid={testId}>
      <strong>{title}</strong>
      {children}
    </div>
  );
}

export function NoRunsYet() {
  return (
    <EmptyState title="No runs yet">
      Run <code>cairn demo</code> (or <code>npm run quickstart</code>) to record a few, or log your own with <code>startRun()</code> from{' '}
      <code>@cairn/tracking</code>.
    </EmptyState>
  );
}
