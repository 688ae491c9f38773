import type { Metadata } from 'next';
import { Suspense } from 'react';
import { CompareView } from '../../components/views/CompareView.tsx';
import { Loading } from '../../components/QueryState.tsx';

export const metadata: Metadata = { title: 'Compare' };

export default function ComparePage() {
  return (
    <Suspense fallback={<Loading />}>
      <CompareView />
    </Suspense>
  );
}
