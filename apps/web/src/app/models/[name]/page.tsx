import type { Metadata } from 'next';
import { ModelDetailView } from '../../../components/views/ModelDetailView.tsx';

export const metadata: Metadata = { title: 'Model' };

export default async function ModelPage({ params }: { params: Promise<{ name: string }> }) {
  const { name } = await params;
  return <ModelDetailView name={decodeURIComponent(name)} />;
}
