import type { Metadata } from 'next';
import { ModelsView } from '../../components/views/ModelsView.tsx';

export const metadata: Metadata = { title: 'Models' };

export default function ModelsPage() {
  return <ModelsView />;
}
