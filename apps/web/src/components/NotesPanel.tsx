'use client';
/** A run's notes (markdown, rendered safely) and a form to add one. */
import { useState } from 'react';
import { useMutation, useQueryClient } from '@tanstack/react-query';
import { useTRPC } from '../lib/trpc.ts';
import { formatDate } from '../lib/format.ts';
import { Markdown } from './Markdown.tsx';
import { ErrorBox } from './QueryState.tsx';

export interface NoteView {
  id: string;
  body: string;
  author?: string | null;
  createdAt: Date | string;
}

export function NotesPanel({ runId, notes }: { runId: string; notes: readonly NoteView[] }) {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const [body, setBody] = useState('');
  const add = useMutation(
    trpc.runs.addNote.mutationOptions({
      onSuccess: async () => {
        setBody('');
        await queryClient.invalidateQueries({ queryKey: trpc.runs.get.queryKey({ id: runId }) });
      },
    }),
  );
  return (
    <section className="panel" aria-labelledby="notes-h" data-testid="notes">
      <h2 id="notes-h">Notes</h2>
      {notes.length === 0 ? <p className="muted small">No notes yet. Write down why this run was tried and what it taught.</p> : null}
      {notes.map((n) => (
        <div key={n.id} className="note" data-testid="note">
          <div className="meta">
            {formatDate(n.createdAt)}
            {n.author ? ` · ${n.author}` : ''}
          </div>
          <Markdown source={n.body} />
        </div>
      ))}
      <form
        onSubmit={(e) => {
          e.preventDefault();
          if (body.trim()) add.mutate({ runId, body: body.trim() });
        }}
        style={{ marginTop: 10 }}
      >
        <label htmlFor="note-body" className="small muted">
          Add a note (markdown: **bold**, *italic*, `code`, lists, [links](https://…))
        </label>
        <textarea id="note-body" value={body} onChange={(e) => setBody(e.target.value)} data-testid="note-input" />
        {add.error ? <ErrorBox error={add.error} title="Could not save the note" /> : null}
        <div className="row" style={{ marginTop: 6 }}>
          <button type="submit" className="primary" disabled={!body.trim() || add.isPending} data-testid="note-submit">
            {add.isPending ? 'Saving…' : 'Add note'}
          </button>
        </div>
      </form>
    </section>
  );
}
