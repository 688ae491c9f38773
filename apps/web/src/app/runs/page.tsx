import type { Metadata } from 'next';
import { Suspense } from 'react';
import { RunsView } from '../../components/views/RunsView.tsx';
import { Loading } from '../../components/QueryState.tsx';

export const metadata: Metadata = { title: 'Runs' };

export default function RunsPage() {
  return (
    <Suspense fallback={<Loading />}>
      <RunsView />
    </Suspense>
  );
}
