import type { Metadata } from 'next';
import { DatasetsView } from '../../components/views/DatasetsView.tsx';

export const metadata: Metadata = { title: 'Datasets' };

export default function DatasetsPage() {
  return <DatasetsView />;
}
