import type { Metadata } from 'next';
import { QueuesView } from '../../components/views/QueuesView.tsx';

export const metadata: Metadata = { title: 'Queues' };

export default function QueuesPage() {
  return <QueuesView />;
}
