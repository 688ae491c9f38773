'use client';
import type { ReactNode } from 'react';

/** The message of a failed query, for the error box. */
export function errorMessage(error: unknown): string {
  if (error instanceof Error) return error.message;
  return String(error);
}

export function ErrorBox({ error, title }: { error: unknown; title?: string }) {
  return (
    <div className="error-box" role="alert" data-testid="error">
      {title ? <strong>{title}: </strong> : null}
      {errorMessage(error)}
    </div>
  );
}

export function Loading({ what = 'Loading' }: { what?: string }) {
  return (
    <div className="loading" role="status" aria-live="polite">
      {what}…
    </div>
  );
}

/** Loading / error / content for one query's state. */
export function QueryState<T>({ query, children, what }: { query: { isPending: boolean; error: unknown; data: T | undefined }; children: (data: T) => ReactNode; what?: string }) {
  if (query.error) return <ErrorBox error={query.error} />;
  if (query.isPending || query.data === undefined) return <Loading what={what} />;
  return <>{children(query.data)}</>;
}

export function isNotFound(error: unknown): boolean {
  const data = (error as { data?: { code?: string } } | null)?.data;
  return data?.code === 'NOT_FOUND';
}

export function isBadRequest(error: unknown): boolean {
  const data = (error as { data?: { code?: string } } | null)?.data;
  return data?.code === 'BAD_REQUEST';
}
