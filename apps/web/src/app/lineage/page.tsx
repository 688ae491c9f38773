import type { Metadata } from 'next';
import { Suspense } from 'react';
import { LineageView } from '../../components/views/LineageView.tsx';
import { Loading } from '../../components/QueryState.tsx';

export const metadata: Metadata = { title: 'Lineage' };

export default function LineagePage() {
  return (
    <Suspense fallback={<Loading />}>
      <LineageView />
    </Suspense>
  );
}
