'use client';
/** /signin: email and password (team mode). Local mode has no accounts and says so. */
import { useQuery } from '@tanstack/react-query';
import { useState, type FormEvent } from 'react';
import { useTRPC } from '../../lib/trpc.ts';
import { useHydrated } from '../../lib/use-hydrated.ts';
import { signIn, signUp } from '../../lib/auth-client.ts';

export function SignInView() {
  const trpc = useTRPC();
  const info = useQuery(trpc.system.info.queryOptions());
  // Shared with the navigation's AccountBox: its answer may be cached before this hydrates.
  const hydrated = useHydrated();
  const [creating, setCreating] = useState(false);
  const [name, setName] = useState('');
  const [email, setEmail] = useState('');
  const [password, setPassword] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  if (hydrated && info.data && info.data.mode !== 'team') {
    return (
      <div className="signin">
        <h1>No sign-in needed</h1>
        <p className="sub">This portal runs in local mode: one user, no accounts. Team mode is set with CAIRN_AUTH=team.</p>
      </div>
    );
  }

  async function submit(e: FormEvent) {
    e.preventDefault();
    setBusy(true);
    setError(null);
    const r = creating ? await signUp(name || email, email, password) : await signIn(email, password);
    setBusy(false);
    if (!r.ok) return setError(r.message);
    window.location.assign('/');
  }

  return (
    <div className="signin">
      <h1>{creating ? 'Create an account' : 'Sign in'}</h1>
      <form onSubmit={submit} data-testid="signin-form">
        {creating ? (
          <label>
            Name
            <input value={name} onChange={(e) => setName(e.target.value)} autoComplete="name" data-testid="signin-name" />
          </label>
        ) : null}
        <label>
          Email
          <input type="email" required value={email} onChange={(e) => setEmail(e.target.value)} autoComplete="email" data-testid="signin-email" />
        </label>
        <label>
          Password
          <input type="password" required minLength={8} value={password} onChange={(e) => setPassword(e.target.value)} autoComplete={creating ? 'new-password' : 'current-password'} data-testid="signin-password" />
        </label>
        {error ? (
          <div className="error" role="alert" data-testid="signin-error">
            {error}
          </div>
        ) : null}
        <button className="btn primary" type="submit" disabled={busy} data-testid="signin-submit">
          {creating ? 'Create account' : 'Sign in'}
        </button>
        <button type="button" className="link" onClick={() => setCreating(!creating)} data-testid="signin-toggle">
          {creating ? 'I have an account' : 'Create an account'}
        </button>
      </form>
    </div>
  );
}
