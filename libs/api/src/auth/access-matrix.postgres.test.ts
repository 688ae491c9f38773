import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TRPCError } from '@trpc/server';
import type { Store } from '@cairn/store';
import { testDrivers } from '@cairn/store/testing';
import type { Viewer } from '../access.ts';
import { createContext } from '../context.ts';
import { appRouter, createCaller } from '../router.ts';
import { createAuth, type CairnAuth } from './create-auth.ts';
import { viewerForHeaders } from './mode.ts';

/**
 * Team mode's promise, checked over every procedure of the router: two teams, each
 * with a project holding one of everything; five kinds of caller (viewer, editor and
 * admin of team A, a signed-in user in no team, nobody). On team A's objects a member
 * may read, an editor also write, an admin also run team admin operations. On team B's
 * objects, everyone gets exactly what a missing object gets: the same code and the same
 * message but for the id. Viewers come from real better-auth sessions.
 *
 * Queues are not connected (no Redis here): the queue procedures answer
 * PRECONDITION_FAILED before looking at anything, the same for every id.
 */

const SECRET = 'matrix-secret-matrix-secret-matrix-secret';
const ABSENT = '0190aaaa-0000-7000-8000-0000000000ff';
const hash = (c: string) => c.repeat(64);

type Caller = ReturnType<typeof createCaller>;
type RoleName = 'viewer' | 'editor' | 'admin' | 'non-member' | 'anonymous';
const ROLE_NAMES: RoleName[] = ['viewer', 'editor', 'admin', 'non-member', 'anonymous'];
const RANK: Record<RoleName, number> = { anonymous: 0, 'non-member': 0, viewer: 1, editor: 2, admin: 3 };

/** Everything one team owns, or (MISSING) refs to things that do not exist. */
interface Objs {
  teamId: string;
  project: string;
  projectId: string;
  experimentId: string;
  runId: string;
  sweepId: string;
  datasetId: string;
  dataset: string;
  snap: string;
  snap2: string;
  model: string;
  deploymentId: string;
  /** A token of this team's admin (tokens.revoke on someone else's token). */
  tokenId: string;
}

const MISSING: Objs = {
  teamId: 'team-that-is-not',
  project: 'proj-none',
  projectId: ABSENT,
  experimentId: ABSENT,
  runId: ABSENT,
  sweepId: ABSENT,
  datasetId: ABSENT,
  dataset: 'data-none',
  snap: hash('f'),
  snap2: hash('e'),
  model: 'model-none',
  deploymentId: ABSENT,
  tokenId: ABSENT,
};

/**
 * How a procedure is called on a team's objects, and what it needs:
 * read / write / admin of the project's team, `self` (the caller's own account: any
 * signed-in user, nobody gets UNAUTHORIZED), or `list` (a listing anyone may ask for,
 * which must not show team B). `okIf`: an error that still means access was granted
 * (e.g. a manifest missing from the blob store after the snapshot was authorized).
 */
interface Case {
  need: 'read' | 'write' | 'admin' | 'self' | 'list';
  call(c: Caller, o: Objs, n: number): Promise<unknown>;
  okIf?: RegExp;
  /** Queue procedures: refused for everyone while no queues are connected. */
  noQueues?: boolean;
}

/** Team A's objects once seeded, for the cases that act on the caller's own account there. */
const A_REF: { current: Objs | null } = { current: null };

const first = async (iterable: AsyncIterable<unknown>) => {
  for await (const x of iterable) return x;
  return undefined;
};

const CASES: Record<string, Case> = {
  'system.info': { need: 'list', call: (c) => c.system.info() },
  'projects.list': { need: 'list', call: (c) => c.projects.list() },
  'projects.create': { need: 'admin', call: (c, o, n) => c.projects.create({ name: `made-${n}`, teamId: o.teamId }) },
  'experiments.list': { need: 'read', call: (c, o) => c.experiments.list({ project: o.project }) },
  'experiments.get': { need: 'read', call: (c, o) => c.experiments.get({ id: o.experimentId }) },
  'experiments.addNote': { need: 'write', call: (c, o) => c.experiments.addNote({ experimentId: o.experimentId, body: 'why' }) },
  'runs.search': { need: 'read', call: (c, o) => c.runs.search({ experimentIds: [o.experimentId] }) },
  'runs.columns': { need: 'read', call: (c, o) => c.runs.columns({ experimentIds: [o.experimentId] }) },
  'runs.get': { need: 'read', call: (c, o) => c.runs.get({ id: o.runId }) },
  'runs.gates': { need: 'read', call: (c, o) => c.runs.gates({ experimentIds: [o.experimentId] }) },
  'runs.series': { need: 'read', call: (c, o) => c.runs.series({ runId: o.runId, keys: ['loss'] }) },
  'runs.compare': { need: 'read', call: (c, o) => c.runs.compare({ runIds: [o.runId], keys: ['loss'] }) },
  'runs.addNote': { need: 'write', call: (c, o) => c.runs.addNote({ runId: o.runId, body: 'note' }) },
  'runs.setTags': { need: 'write', call: (c, o) => c.runs.setTags({ runId: o.runId, tags: { k: 'v2' } }) },
  'runs.deleteTag': { need: 'write', call: (c, o) => c.runs.deleteTag({ runId: o.runId, key: 'gone' }) },
  'datasets.list': { need: 'read', call: (c, o) => c.datasets.list({ project: o.project }) },
  'datasets.snapshots': { need: 'read', call: (c, o) => c.datasets.snapshots({ dataset: o.datasetId }) },
  'datasets.diff': { need: 'read', call: (c, o) => c.datasets.diff({ a: o.snap, b: o.snap2 }), okIf: /is not in this server's blob store/ },
  'datasets.drift': { need: 'read', call: (c, o) => c.datasets.drift({ a: o.snap, b: o.snap2 }) },
  'lineage.graph': { need: 'read', call: (c, o) => c.lineage.graph({ node: { kind: 'deployment', id: o.deploymentId } }) },
  'models.list': { need: 'read', call: (c, o) => c.models.list({ project: o.project }) },
  'models.get': { need: 'read', call: (c, o) => c.models.get({ name: o.model, project: o.project }) },
  'queues.counts': { need: 'list', call: (c) => c.queues.counts() },
  'queues.events': { need: 'list', call: async (c) => first(await c.queues.events()) },
  'queues.jobs': { need: 'list', call: (c) => c.queues.jobs({ tier: 'ci', state: 'waiting' }), noQueues: true },
  'queues.cancel': { need: 'write', call: (c, o) => c.queues.cancel({ runId: o.runId }), noQueues: true },
  'queues.submit': { need: 'write', call: (c, o) => c.queues.submit({ runId: o.runId, tier: 'ci' }), noQueues: true },
  'sweeps.list': { need: 'read', call: (c, o) => c.sweeps.list({ experimentIds: [o.experimentId] }) },
  'sweeps.leaderboard': { need: 'read', call: (c, o) => c.sweeps.leaderboard({ sweepId: o.sweepId }) },
  'teams.list': { need: 'self', call: (c) => c.teams.list() },
  'teams.create': { need: 'self', call: (c, _o, n) => c.teams.create({ name: `Team ${n}` }) },
  'teams.addMember': { need: 'admin', call: (c, o) => c.teams.addMember({ teamId: o.teamId, email: 'newbie@example.com', role: 'viewer' }) },
  'tokens.list': { need: 'self', call: (c) => c.tokens.list() },
  'tokens.create': { need: 'self', call: (c, _o, n) => c.tokens.create({ name: `t${n}` }) },
  // On team A: a token of the caller's own; elsewhere, team B's admin's token or a missing one.
  'tokens.revoke': { need: 'self', call: async (c, o, n) => c.tokens.revoke({ id: o === A_REF.current ? (await c.tokens.create({ name: `r${n}` })).id : o.tokenId }) },
};

/** The call's outcome: its value, or the TRPCError it failed with. */
async function outcome(p: Promise<unknown>): Promise<{ ok: true; value: unknown } | { ok: false; error: TRPCError }> {
  try {
    return { ok: true, value: await p };
  } catch (e) {
    expect(e).toBeInstanceOf(TRPCError);
    return { ok: false, error: e as TRPCError };
  }
}

/** A message with every ref of `o` replaced by a placeholder, to compare "other team" with "missing". */
function anonymized(message: string, o: Objs): string {
  const refs = Object.values(o).sort((a, b) => b.length - a.length);
  return refs.reduce((m, r) => m.split(r).join('<ref>'), message);
}

describe('the access matrix covers the whole router', () => {
  it('has a case for every procedure, and no case for a procedure that is gone', () => {
    const procedures = Object.keys(appRouter._def.procedures).sort();
    expect(procedures.filter((p) => !CASES[p]), 'procedures without an access case').toEqual([]);
    expect(Object.keys(CASES).filter((p) => !procedures.includes(p)), 'cases without a procedure').toEqual([]);
  });
});

describe.each(testDrivers())('team-mode access matrix on $name', (driver) => {
  let store: Store;
  let auth: CairnAuth;
  let A: Objs;
  let B: Objs;
  const callers = new Map<RoleName, Caller>();
  let n = 0;

  async function signUp(email: string): Promise<{ id: string; cookie: string }> {
    const res = await auth.api.signUpEmail({ body: { email, password: `pw-${email}`, name: email }, asResponse: true });
    const cookie = res.headers
      .getSetCookie()
      .map((c) => c.split(';')[0])
      .join('; ');
    return { id: ((await res.json()) as { user: { id: string } }).user.id, cookie };
  }

  async function callerFor(cookie: string): Promise<Caller> {
    const viewer: Viewer = await viewerForHeaders({ mode: 'team', auth }, store, new Headers(cookie ? { cookie } : {}));
    return createCaller(createContext({ store, viewer, auth }));
  }

  async function seed(caller: Caller, adminId: string, team: string, ch: string, ch2: string): Promise<Objs> {
    const t = await caller.teams.create({ name: team });
    const project = await caller.projects.create({ name: `proj-${team}`, teamId: t.id });
    const exp = await store.ensureExperiment({ project: project.name, name: `exp-${team}` });
    await store.recordSnapshot({ project: project.name, dataset: `data-${team}`, id: hash(ch), fileCount: 1, bytes: 1 });
    await store.recordSnapshot({ project: project.name, dataset: `data-${team}`, id: hash(ch2), fileCount: 2, bytes: 2 });
    const dataset = await store.getDataset(`data-${team}`, project.name);
    const run = await store.createRun({ experimentId: exp.id, name: `run-${team}`, params: { lr: 0.1 }, tags: { k: 'v', gone: 'x' }, snapshotIds: [hash(ch)] });
    await store.logMetrics(run.id, [0, 1, 2].map((step) => ({ key: 'loss', value: 1 / (step + 1), step })));
    await store.addNote({ kind: 'run', id: run.id }, 'first try');
    await store.endRun(run.id, 'finished');
    await store.recordGateResult({ runId: run.id, tier: 'ci', passed: true, expression: "status = 'finished'", values: { status: 'finished' }, missing: [] });
    const spec = { version: 1, space: { lr: { type: 'uniform', min: 0, max: 1 } }, strategy: { kind: 'random' }, seed: 1, maxTrials: 2, parallel: 1, objective: { metric: 'loss', direction: 'minimize' }, policies: [], prefix: 'cairn', job: {} };
    const { run: sweep } = await store.createSweep({ run: { experimentId: exp.id, name: `sweep-${team}` }, sweep: { strategy: 'random', spec, objective: { metric: 'loss', direction: 'minimize' }, prefix: 'cairn', maxTrials: 2, parallel: 1 } });
    const version = await store.registerModelVersion({ project: project.name, name: `model-${team}`, artifactHash: hash(ch2), runId: run.id });
    const deployment = await store.recordDeployment({ modelVersionId: version.id, environment: 'prod', host: 'h' });
    const token = await caller.tokens.create({ name: 'seed' });
    void adminId;
    return {
      teamId: t.id,
      project: project.name,
      projectId: project.id,
      experimentId: exp.id,
      runId: run.id,
      sweepId: sweep.id,
      datasetId: dataset.id,
      dataset: dataset.name,
      snap: hash(ch),
      snap2: hash(ch2),
      model: `model-${team}`,
      deploymentId: deployment.id,
      tokenId: token.id,
    };
  }

  beforeAll(async () => {
    store = await driver.open();
    auth = createAuth({ store, secret: SECRET, baseURL: 'http://cairn.test' });
    const users = {
      admin: await signUp('admin-a@example.com'),
      editor: await signUp('editor-a@example.com'),
      viewer: await signUp('viewer-a@example.com'),
      outsider: await signUp('outsider@example.com'),
      adminB: await signUp('admin-b@example.com'),
    };
    await signUp('newbie@example.com');
    A = A_REF.current = await seed(await callerFor(users.admin.cookie), users.admin.id, 'a', 'a', 'c');
    B = await seed(await callerFor(users.adminB.cookie), users.adminB.id, 'b', 'b', 'd');
    // The admin is team A's owner (better-auth's creator role); editor and viewer are added as members.
    await auth.api.addMember({ body: { userId: users.editor.id, organizationId: A.teamId, role: 'member' } });
    await auth.api.addMember({ body: { userId: users.viewer.id, organizationId: A.teamId, role: 'viewer' } });
    callers.set('admin', await callerFor(users.admin.cookie));
    callers.set('editor', await callerFor(users.editor.cookie));
    callers.set('viewer', await callerFor(users.viewer.cookie));
    callers.set('non-member', await callerFor(users.outsider.cookie));
    callers.set('anonymous', await callerFor(''));
  });
  afterAll(() => driver.cleanup());

  it('maps better-auth roles to Cairn roles on the team\'s projects', async () => {
    const roleOf = async (name: RoleName) => {
      const info = await callers.get(name)!.teams.list().catch(() => []);
      return info.map((t) => `${t.name}:${t.role}`);
    };
    expect(await roleOf('admin')).toEqual(['a:admin']);
    expect(await roleOf('editor')).toEqual(['a:editor']);
    expect(await roleOf('viewer')).toEqual(['a:viewer']);
    expect(await roleOf('non-member')).toEqual([]);
  });

  it.each(ROLE_NAMES)('%s: own team per role, the other team exactly as missing, on every procedure', async (role) => {
    const c = callers.get(role)!;
    const member = RANK[role] > 0;
    const signedIn = role !== 'anonymous';
    for (const [name, kase] of Object.entries(CASES)) {
      const where = `${role} → ${name}`;
      const own = await outcome(kase.call(c, A, ++n));
      const allowed = kase.need === 'list' || (kase.need === 'self' ? signedIn : member && RANK[role] >= RANK[kase.need === 'read' ? 'viewer' : kase.need === 'write' ? 'editor' : 'admin']);

      if (kase.noQueues) {
        expect(own.ok ? 'ok' : own.error.code, where).toBe('PRECONDITION_FAILED');
      } else if (kase.need === 'self' && !signedIn) {
        expect(own.ok ? 'ok' : own.error.code, where).toBe('UNAUTHORIZED');
      } else if (allowed) {
        if (!own.ok) expect(own.error.message, where).toMatch(kase.okIf ?? /^$/);
      } else {
        expect(own.ok ? 'ok' : own.error.code, where).toBe(kase.need === 'admin' && !signedIn ? 'UNAUTHORIZED' : 'NOT_FOUND');
      }
      if (own.ok && kase.need === 'list') {
        // A listing shows nothing of team B.
        const text = JSON.stringify(own.value) ?? '';
        for (const ref of [B.projectId, B.project, B.experimentId, B.runId, B.datasetId]) expect(text, where).not.toContain(ref);
      }

      // Team B's objects (another user's token for tokens.revoke) answer as missing ones do.
      if (kase.need === 'list' || (kase.need === 'self' && name !== 'tokens.revoke')) continue;
      const [other, missing] = [await outcome(kase.call(c, B, ++n)), await outcome(kase.call(c, MISSING, ++n))];
      expect(other.ok, `${where} on team B`).toBe(false);
      expect(missing.ok, `${where} on a missing object`).toBe(false);
      if (other.ok || missing.ok) continue;
      expect(other.error.code, where).toBe(missing.error.code);
      expect(anonymized(other.error.message, B), where).toBe(anonymized(missing.error.message, MISSING));
      if (!kase.noQueues && signedIn) expect(other.error.code, where).toBe('NOT_FOUND');
    }
  });

  it("left team B's objects untouched", async () => {
    const run = await store.getRun(B.runId);
    expect(run.tags).toEqual({ k: 'v', gone: 'x' });
    expect((await store.listNotes({ kind: 'run', id: B.runId })).map((x) => x.body)).toEqual(['first try']);
    expect(await store.listNotes({ kind: 'experiment', id: B.experimentId })).toEqual([]);
    expect((await store.listProjects()).filter((p) => p.teamId === B.teamId).map((p) => p.name)).toEqual([B.project]);
  });
});
