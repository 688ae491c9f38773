'use client';
/**
 * Who is signed in, in the navigation. Local mode (one user, no login) shows nothing;
 * team mode shows the account and a sign-out button, or a link to sign in.
 */
import Link from 'next/link';
import { useQuery } from '@tanstack/react-query';
import { useState } from 'react';
import { useTRPC } from '../lib/trpc.ts';
import { getSession, signOut } from '../lib/auth-client.ts';

export function AccountBox() {
  const trpc = useTRPC();
  const info = useQuery(trpc.system.info.queryOptions());
  const session = useQuery({ queryKey: ['auth', 'session'], queryFn: getSession, enabled: info.data?.mode === 'team' });
  const [busy, setBusy] = useState(false);
  if (info.data?.mode !== 'team') return null;
  const user = session.data?.user ?? null;
  if (!user) {
    return (
      <div className="account" data-testid="account">
        <Link prefetch={false} href="/signin" data-testid="signin-link">
          Sign in
        </Link>
      </div>
    );
  }
  return (
    <div className="account" data-testid="account">
      <div className="who" data-testid="account-email" title={user.email}>
        {user.name || user.email}
      </div>
      <button
        type="button"
        className="btn small"
        data-testid="signout"
        disabled={busy}
        onClick={async () => {
          setBusy(true);
          await signOut();
          // A full load: every cached query belonged to the signed-in user.
          window.location.assign('/signin');
        }}
      >
        Sign out
      </button>
    </div>
  );
}
