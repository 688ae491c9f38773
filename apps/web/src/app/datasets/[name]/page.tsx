import type { Metadata } from 'next';
import { Suspense } from 'react';
import { DatasetDetailView } from '../../../components/views/DatasetDetailView.tsx';
import { Loading } from '../../../components/QueryState.tsx';

export const metadata: Metadata = { title: 'Dataset' };

export default async function DatasetPage({ params }: { params: Promise<{ name: string }> }) {
  const { name } = await params;
  return (
    <Suspense fallback={<Loading />}>
      <DatasetDetailView name={decodeURIComponent(name)} />
    </Suspense>
  );
}
