import { Suspense } from 'react';
import { ExperimentsView } from '../components/views/ExperimentsView.tsx';
import { Loading } from '../components/QueryState.tsx';

export default function ExperimentsPage() {
  return (
    <Suspense fallback={<Loading />}>
      <ExperimentsView />
    </Suspense>
  );
}
