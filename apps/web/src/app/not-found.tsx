import Link from 'next/link';
import { EmptyState } from '../components/EmptyState.tsx';

export default function NotFound() {
  return (
    <EmptyState title="Page not found" testId="not-found">
      <Link prefetch={false} href="/">Back to the experiments</Link>
    </EmptyState>
  );
}
