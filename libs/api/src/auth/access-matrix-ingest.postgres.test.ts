import http from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { count, eq } from 'drizzle-orm';
import { artifacts, experiments, metrics, notes, params, runTags, runs } from '@cairn/schema';
import type { Store } from '@cairn/store';
import { testDrivers } from '@cairn/store/testing';
import { createContext } from '../context.ts';
import { createApiHandler } from '../handler.ts';
import { createCaller } from '../router.ts';
import { createAuth, type CairnAuth } from './create-auth.ts';
import { viewerForHeaders } from './mode.ts';
import { serve } from './test-support.ts';

/**
 * Team mode's promise on the tracking (ingest) API, over real HTTP: every ingest route,
 * as every kind of caller, under every spelling of its path. A write lands only when
 * the caller is an editor or admin of the project the write goes to; every other
 * request is answered with a 4xx and leaves the store exactly as it was (runs,
 * experiments, tags, notes, metrics, params, artifacts, each run's status and
 * heartbeat). Requests go out raw (node:http, no client-side normalisation) so the
 * server sees `..`, `%2F`, `//` and `%ZZ` as an attacker would send them.
 */

const SECRET = 'ingest-matrix-secret-ingest-matrix-secret';
const BASE = '/api/ingest/v1';

type Identity = 'admin' | 'editor' | 'editor (session)' | 'viewer' | 'team B member' | 'anonymous' | 'revoked token';
const IDENTITIES: Identity[] = ['admin', 'editor', 'editor (session)', 'viewer', 'team B member', 'anonymous', 'revoked token'];
const WRITERS = new Set<Identity>(['admin', 'editor', 'editor (session)']);
const UNAUTHENTICATED = new Set<Identity>(['anonymous', 'revoked token']);

interface World {
  aProject: string;
  aExperimentId: string;
  bProject: string;
}

/** One ingest route on a fresh team-A run (`target`): its path under BASE, method, body and success status. */
interface Route {
  method: 'GET' | 'POST';
  path(target: string): string;
  body(target: string, w: World): unknown;
  /** The answer when allowed; null: nobody may (a cross-team write). */
  ok: number | null;
  /** The fresh run's status before the request. */
  status?: 'queued' | 'running';
  /** Needs no credentials (health). */
  open?: boolean;
}

const ROUTES: Record<string, Route> = {
  health: { method: 'GET', path: () => '/health', body: () => undefined, ok: 200, open: true },
  'create run in A by project name': { method: 'POST', path: () => '/runs', body: (_t, w) => ({ project: w.aProject, experiment: 'ingested' }), ok: 201 },
  'create run in A by experiment id': { method: 'POST', path: () => '/runs', body: (_t, w) => ({ experimentId: w.aExperimentId, name: 'by-id' }), ok: 201 },
  // Into team B's project, as the child of a team-A run: nobody may (no one writes to both).
  'create run in B under an A parent': { method: 'POST', path: () => '/runs', body: (t, w) => ({ project: w.bProject, experiment: 'child', parentRunId: t }), ok: null },
  start: { method: 'POST', path: (t) => `/runs/${t}/start`, body: () => ({}), ok: 200, status: 'queued' },
  metrics: { method: 'POST', path: (t) => `/runs/${t}/metrics`, body: () => ({ batchId: 'b1', points: [{ key: 'loss', value: 0.25, step: 7 }] }), ok: 200 },
  params: { method: 'POST', path: (t) => `/runs/${t}/params`, body: () => ({ params: { injected: 1 } }), ok: 200 },
  tags: { method: 'POST', path: (t) => `/runs/${t}/tags`, body: () => ({ tags: { gate: 'passed' } }), ok: 200 },
  notes: { method: 'POST', path: (t) => `/runs/${t}/notes`, body: () => ({ body: 'looks good', author: 'mallory' }), ok: 201 },
  artifacts: { method: 'POST', path: (t) => `/runs/${t}/artifacts`, body: () => ({ path: 'model.bin', hash: 'ab'.repeat(32), size: 1 }), ok: 201 },
  heartbeat: { method: 'POST', path: (t) => `/runs/${t}/heartbeat`, body: () => ({}), ok: 200 },
  end: { method: 'POST', path: (t) => `/runs/${t}/end`, body: () => ({ status: 'finished' }), ok: 200 },
};

/**
 * Spellings of a route's full path. `same`: the URL standard resolves it to the normal
 * path before any server code sees it (dot segments, also percent-encoded), so it must
 * be answered exactly as the normal path; every other one is not a route (400/404).
 */
interface Variant {
  spell(full: string, rest: string): string;
  same?: boolean;
  /** Swaps GET and POST. */
  otherMethod?: boolean;
}

const VARIANTS: Record<string, Variant> = {
  normal: { spell: (full) => full, same: true },
  'doubled prefix': { spell: (_f, rest) => `${BASE}${BASE}${rest}` },
  'tripled prefix': { spell: (_f, rest) => `${BASE}${BASE}${BASE}${rest}` },
  'prefix in a run segment': { spell: (_f, rest) => `${BASE}/runs${BASE}${rest}` },
  '.. back to the route': { spell: (_f, rest) => `${BASE}/x/..${rest}`, same: true },
  '%2e%2e back to the route': { spell: (_f, rest) => `${BASE}/x/%2e%2e${rest}`, same: true },
  '. segment': { spell: (_f, rest) => `${BASE}/.${rest}`, same: true },
  '%2F-encoded slashes': { spell: (_f, rest) => `${BASE}${rest.replaceAll('/', '%2F')}` },
  '%2f in the prefix': { spell: (_f, rest) => `/api/ingest%2fv1${rest}` },
  'trailing slash': { spell: (full) => `${full}/` },
  'upper-case route': { spell: (_f, rest) => `${BASE}${rest.replace(/[a-z]+$/, (m) => m.toUpperCase())}` },
  'upper-case prefix': { spell: (_f, rest) => `/API/INGEST/V1${rest}` },
  'double slashes': { spell: (_f, rest) => `${BASE}/${rest}` },
  'leading double slash': { spell: (full) => `/${full}` },
  'malformed %ZZ': { spell: (full) => `${full}%ZZ` },
  'malformed % in a segment': { spell: (_f, rest) => `${BASE}/%${rest}` },
  'extra segment': { spell: (full) => `${full}/more` },
  'other method': { spell: (full) => full, otherMethod: true },
};

/** A request sent exactly as written: no URL normalisation on the client side. */
function raw(base: string, method: string, path: string, headers: Record<string, string>, body?: string): Promise<{ status: number; text: string }> {
  const url = new URL(base);
  return new Promise((resolve, reject) => {
    const req = http.request({ host: url.hostname, port: url.port, method, path, headers: { ...headers, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode!, text: Buffer.concat(chunks).toString() }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** Everything an ingest request could change, in one comparable value. */
async function digest(store: Store): Promise<unknown> {
  const db = store.drizzle();
  const n = async (t: typeof runs | typeof experiments | typeof runTags | typeof notes | typeof metrics | typeof params | typeof artifacts) => (await db.select({ n: count() }).from(t))[0]!.n;
  const runRows = await db.select({ id: runs.id, status: runs.status, heartbeatAt: runs.heartbeatAt, startedAt: runs.startedAt, endedAt: runs.endedAt }).from(runs).orderBy(runs.id);
  return {
    runs: runRows.map((r) => `${r.id} ${r.status} ${r.heartbeatAt?.toISOString()} ${r.startedAt?.toISOString()} ${r.endedAt?.toISOString()}`),
    experiments: await n(experiments),
    tags: await db.select().from(runTags).orderBy(runTags.runId, runTags.key),
    notes: await n(notes),
    metrics: await n(metrics),
    params: await n(params),
    artifacts: await n(artifacts),
  };
}

describe.each(testDrivers())('team-mode ingest access matrix on $name', (driver) => {
  let store: Store;
  let auth: CairnAuth;
  let server: Awaited<ReturnType<typeof serve>>;
  let world: World;
  let aExperimentId: string;
  let editorUserId: string;
  const headers = new Map<Identity, Record<string, string>>();

  async function signUp(email: string): Promise<{ id: string; cookie: string }> {
    const res = await auth.api.signUpEmail({ body: { email, password: `pw-${email}`, name: email }, asResponse: true });
    const cookie = res.headers
      .getSetCookie()
      .map((c) => c.split(';')[0])
      .join('; ');
    return { id: ((await res.json()) as { user: { id: string } }).user.id, cookie };
  }

  const callerFor = async (cookie: string) => createCaller(createContext({ store, auth, viewer: await viewerForHeaders({ mode: 'team', auth }, store, new Headers({ cookie })) }));
  const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

  beforeAll(async () => {
    store = await driver.open();
    server = await serve();
    auth = createAuth({ store, secret: SECRET, baseURL: server.url });
    server.use(createApiHandler({ store, auth }));

    const admin = await signUp('admin-a@example.com');
    const editor = await signUp('editor-a@example.com');
    const viewer = await signUp('viewer-a@example.com');
    const adminB = await signUp('admin-b@example.com');
    editorUserId = editor.id;
    const a = await callerFor(admin.cookie);
    const teamA = await a.teams.create({ name: 'a' });
    const projectA = await a.projects.create({ name: 'proj-a', teamId: teamA.id });
    const b = await callerFor(adminB.cookie);
    const teamB = await b.teams.create({ name: 'b' });
    const projectB = await b.projects.create({ name: 'proj-b', teamId: teamB.id });
    await auth.api.addMember({ body: { userId: editor.id, organizationId: teamA.id, role: 'member' } });
    await auth.api.addMember({ body: { userId: viewer.id, organizationId: teamA.id, role: 'viewer' } });
    aExperimentId = (await store.ensureExperiment({ project: projectA.name, name: 'exp-a' })).id;
    world = { aProject: projectA.name, aExperimentId, bProject: projectB.name };

    headers.set('admin', bearer((await a.tokens.create({ name: 'admin' })).token));
    headers.set('editor', bearer((await (await callerFor(editor.cookie)).tokens.create({ name: 'editor' })).token));
    headers.set('editor (session)', { cookie: editor.cookie });
    headers.set('viewer', bearer((await (await callerFor(viewer.cookie)).tokens.create({ name: 'viewer' })).token));
    // Team B's admin, with a token limited to team B: the attacker of the issue.
    headers.set('team B member', bearer((await b.tokens.create({ name: 'b', teamId: teamB.id })).token));
    headers.set('anonymous', {});
    const revoked = await a.tokens.create({ name: 'gone' });
    await a.tokens.revoke({ id: revoked.id });
    headers.set('revoked token', bearer(revoked.token));
  });
  afterAll(async () => {
    await server?.close();
    await driver.cleanup();
  });

  /** The answer a normally spelled request must get. */
  function expected(who: Identity, route: Route): number {
    if (route.open) return route.ok!;
    if (UNAUTHENTICATED.has(who)) return 401;
    return WRITERS.has(who) && route.ok !== null ? route.ok : 404;
  }

  it.each(IDENTITIES)('%s: every ingest route under every spelling', async (who) => {
    const failures: string[] = [];
    // Refused requests aim at shared team-A runs (any change shows in the digest); a write
    // that should land gets a fresh run, so each one starts from the same state.
    const shared = {
      queued: (await store.createRun({ experimentId: aExperimentId, status: 'queued' })).id,
      running: (await store.createRun({ experimentId: aExperimentId, status: 'running' })).id,
    };
    let current = await digest(store);
    for (const [name, route] of Object.entries(ROUTES)) {
      for (const [vname, variant] of Object.entries(VARIANTS)) {
        const want = variant.otherMethod ? 405 : variant.same ? expected(who, route) : null;
        const writes = want !== null && want < 300 && !route.open;
        const target = writes ? (await store.createRun({ experimentId: aExperimentId, status: route.status ?? 'running' })).id : shared[route.status ?? 'running'];
        if (writes) current = await digest(store);
        const rest = route.path(target);
        const method = variant.otherMethod ? (route.method === 'GET' ? 'POST' : 'GET') : route.method;
        const body = method === 'POST' ? JSON.stringify(route.body(target, world) ?? {}) : undefined;
        const res = await raw(server.url, method, variant.spell(`${BASE}${rest}`, rest), headers.get(who)!, body);
        const where = `${who} · ${name} · ${vname} → ${res.status} ${res.text.slice(0, 160)}`;
        if (res.status >= 500) failures.push(`server error: ${where}`);
        if (want !== null ? res.status !== want : res.status !== 400 && res.status !== 404) failures.push(`expected ${want ?? '400 or 404'}: ${where}`);
        const after = await digest(store);
        if (res.status >= 300 && JSON.stringify(after) !== JSON.stringify(current)) failures.push(`refused, yet the store changed: ${where}`);
        if (res.status < 300 && !route.open && JSON.stringify(after) === JSON.stringify(current)) failures.push(`accepted, yet nothing was written: ${where}`);
        current = after;
      }
    }
    expect(failures).toEqual([]);
  });

  it("records a note's author as the authenticated user, whatever the body says", async () => {
    const target = (await store.createRun({ experimentId: aExperimentId })).id;
    const res = await raw(server.url, 'POST', `${BASE}/runs/${target}/notes`, headers.get('editor')!, JSON.stringify({ body: 'from the token', author: 'mallory' }));
    expect(res.status).toBe(201);
    const [note] = await store.drizzle().select().from(notes).where(eq(notes.targetId, target));
    expect(note!.author).toBe(editorUserId);
  });

  it("creates a run named like another team's experiment id in the caller's own project", async () => {
    const res = await raw(server.url, 'POST', `${BASE}/runs`, headers.get('team B member')!, JSON.stringify({ project: world.bProject, experiment: aExperimentId }));
    expect(res.status).toBe(201);
    const { run } = JSON.parse(res.text) as { run: { experimentId: string } };
    expect(run.experimentId).not.toBe(aExperimentId);
    const [exp] = await store.getExperiments([run.experimentId]);
    expect((await store.listProjects()).find((p) => p.id === exp!.projectId)?.name).toBe(world.bProject);
  });
});
