import type { Metadata } from 'next';
import { SignInView } from '../../components/views/SignInView.tsx';

export const metadata: Metadata = { title: 'Sign in' };

export default function SignInPage() {
  return <SignInView />;
}
