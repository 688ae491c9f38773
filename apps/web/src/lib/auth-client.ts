/**
 * The few better-auth endpoints the portal calls (served by @cairn/api under /api/auth
 * in team mode). Plain fetch, same origin: the responses set and clear the session cookie.
 */
export interface SessionUser {
  id: string;
  email: string;
  name: string;
}

export async function getSession(): Promise<{ user: SessionUser } | null> {
  const res = await fetch('/api/auth/get-session', { credentials: 'same-origin' });
  if (!res.ok) return null;
  const body = (await res.json()) as { user?: SessionUser } | null;
  return body?.user ? { user: body.user } : null;
}

async function post(path: string, body: unknown): Promise<{ ok: true } | { ok: false; message: string }> {
  const res = await fetch(`/api/auth/${path}`, { method: 'POST', credentials: 'same-origin', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  if (res.ok) return { ok: true };
  const data = (await res.json().catch(() => null)) as { message?: string } | null;
  return { ok: false, message: data?.message || `${res.status} ${res.statusText}` };
}

export const signIn = (email: string, password: string) => post('sign-in/email', { email, password });
export const signUp = (name: string, email: string, password: string) => post('sign-up/email', { name, email, password });
export const signOut = () => post('sign-out', {});
