import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Store } from '@cairn/store';
import { testDrivers } from '@cairn/store/testing';
import { INGEST_BASE_PATH, createIngestListener, matchIngestRoute, parseIngestCall } from './index.ts';

const ID = '0190aaaa-0000-7000-8000-0000000000aa';

describe('matchIngestRoute', () => {
  it('matches exactly the listed routes', () => {
    expect(matchIngestRoute('GET', `${INGEST_BASE_PATH}/health`)).toEqual({ ok: true, route: { op: 'health' } });
    expect(matchIngestRoute('POST', `${INGEST_BASE_PATH}/runs?x=1`)).toEqual({ ok: true, route: { op: 'createRun' } });
    expect(matchIngestRoute('post', `${INGEST_BASE_PATH}/runs/${ID.toUpperCase()}/tags`)).toEqual({ ok: true, route: { op: 'runWrite', runId: ID, action: 'tags' } });
    expect(matchIngestRoute('POST', `/runs/${ID}/end`, '')).toEqual({ ok: true, route: { op: 'runWrite', runId: ID, action: 'end' } });
  });

  it.each([
    ['doubled prefix', `${INGEST_BASE_PATH}${INGEST_BASE_PATH}/runs/${ID}/tags`, 404],
    ['dot segments', `${INGEST_BASE_PATH}/x/../runs/${ID}/tags`, 404],
    ['encoded dot segments', `${INGEST_BASE_PATH}/runs/${ID}/%2e%2e/${ID}/tags`, 404],
    ['encoded slashes', `${INGEST_BASE_PATH}/runs%2F${ID}%2Ftags`, 404],
    ['trailing slash', `${INGEST_BASE_PATH}/runs/${ID}/tags/`, 404],
    ['double slash', `${INGEST_BASE_PATH}//runs/${ID}/tags`, 404],
    ['upper case', `${INGEST_BASE_PATH}/RUNS/${ID}/TAGS`, 404],
    ['unknown action', `${INGEST_BASE_PATH}/runs/${ID}/delete`, 404],
    ['extra segment', `${INGEST_BASE_PATH}/runs/${ID}/tags/x`, 404],
    ['outside the mount point', `/elsewhere/runs/${ID}/tags`, 404],
    ['the mount point itself', INGEST_BASE_PATH, 404],
    ['malformed escape', `${INGEST_BASE_PATH}/runs/${ID}/tags%ZZ`, 400],
    ['lone percent', `${INGEST_BASE_PATH}/runs/%/tags`, 400],
    ['percent-encoded id', `${INGEST_BASE_PATH}/runs/${ID.replaceAll('-', '%2D')}/tags`, 400],
    ['not a UUID', `${INGEST_BASE_PATH}/runs/not-a-uuid/tags`, 400],
  ])('refuses %s', (_what, path, status) => {
    const m = matchIngestRoute('POST', path);
    expect(m.ok).toBe(false);
    if (!m.ok) expect(m.answer.status).toBe(status);
  });

  it('answers 405 for the wrong method on a route', () => {
    const m = matchIngestRoute('GET', `${INGEST_BASE_PATH}/runs/${ID}/tags`);
    expect(m.ok ? null : m.answer.status).toBe(405);
  });

  it("parses a route's body with its schema, and drops a client-chosen author", () => {
    const route = { op: 'runWrite', runId: ID, action: 'notes' } as const;
    expect(parseIngestCall(route, { body: 'hi', author: 'mallory' })).toEqual({ ...route, body: { body: 'hi' } });
    expect(() => parseIngestCall({ op: 'runWrite', runId: ID, action: 'tags' }, { tags: 1 })).toThrow(/invalid tags/);
    expect(parseIngestCall({ op: 'runWrite', runId: ID, action: 'heartbeat' }, undefined)).toMatchObject({ body: undefined });
    expect(() => parseIngestCall({ op: 'createRun' }, { experimentId: 'exp-a' })).toThrow(/invalid create-run request/);
  });
});

/** A request exactly as written, without the client normalising its path. */
function raw(url: string, method: string, path: string, body?: string): Promise<{ status: number; text: string }> {
  const u = new URL(url);
  return new Promise((resolve, reject) => {
    const req = http.request({ host: u.hostname, port: u.port, method, path, headers: body ? { 'content-type': 'application/json' } : {} }, (res) => {
      let text = '';
      res.on('data', (c: Buffer) => (text += c.toString()));
      res.on('end', () => resolve({ status: res.statusCode!, text }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

describe.each(testDrivers())('the ingest listener on raw paths on $name', (driver) => {
  let store: Store;
  let server: http.Server;
  let url: string;
  beforeAll(async () => {
    store = await driver.open();
    server = http.createServer(createIngestListener(store));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
    await driver.cleanup();
  });

  it('writes only through an exact route, whatever else the path spells', async () => {
    const exp = await store.ensureExperiment({ name: 'raw' });
    const run = await store.createRun({ experimentId: exp.id });
    const tags = JSON.stringify({ tags: { gate: 'passed' } });
    for (const path of [
      `${INGEST_BASE_PATH}${INGEST_BASE_PATH}/runs/${run.id}/tags`,
      `${INGEST_BASE_PATH}/x/../runs/${run.id}/tags`,
      `${INGEST_BASE_PATH}/%2e%2e${INGEST_BASE_PATH}/runs/${run.id}/tags`,
      `${INGEST_BASE_PATH}/runs%2F${run.id}%2Ftags`,
      `${INGEST_BASE_PATH}/runs/${run.id}/tags/`,
      `${INGEST_BASE_PATH}//runs/${run.id}/tags`,
      `${INGEST_BASE_PATH}/runs/${run.id}/TAGS`,
      `${INGEST_BASE_PATH}/runs/${run.id}/tags%ZZ`,
    ]) {
      const res = await raw(url, 'POST', path, tags);
      expect([400, 404], `${path} → ${res.status} ${res.text}`).toContain(res.status);
    }
    expect((await store.getRun(run.id)).tags).toEqual({});
    // What a cross-site form can send (text/plain) is refused: local mode has no accounts to protect it.
    const form = await new Promise<number>((resolve, reject) => {
      const u = new URL(url);
      const req = http.request({ host: u.hostname, port: u.port, method: 'POST', path: `${INGEST_BASE_PATH}/runs/${run.id}/tags`, headers: { 'content-type': 'text/plain' } }, (res) => {
        res.resume();
        resolve(res.statusCode!);
      });
      req.on('error', reject);
      req.end(tags);
    });
    expect(form).toBe(415);
    expect((await store.getRun(run.id)).tags).toEqual({});
    expect((await raw(url, 'POST', `${INGEST_BASE_PATH}/runs/${run.id}/tags`, tags)).status).toBe(200);
    expect((await store.getRun(run.id)).tags).toEqual({ gate: 'passed' });
    // A note's author is never the client's word: this listener authenticates nobody.
    expect((await raw(url, 'POST', `${INGEST_BASE_PATH}/runs/${run.id}/notes`, JSON.stringify({ body: 'hi', author: 'mallory' }))).status).toBe(201);
    expect((await store.listNotes({ kind: 'run', id: run.id })).map((n) => n.author)).toEqual([null]);
  });

  it('answers 413 for a body past the limit, declared or streamed, without keeping it', async () => {
    const small = http.createServer(createIngestListener(store, { maxBodyBytes: 1024 }));
    await new Promise<void>((r) => small.listen(0, '127.0.0.1', r));
    const port = (small.address() as AddressInfo).port;
    try {
      const declared = await raw(`http://127.0.0.1:${port}`, 'POST', `${INGEST_BASE_PATH}/runs`, JSON.stringify({ experiment: 'x'.repeat(2000) }));
      expect(declared.status).toBe(413);
      // Chunked, no content-length: refused once the first KiB is past.
      const streamed = await new Promise<number>((resolve, reject) => {
        const req = http.request({ host: '127.0.0.1', port, method: 'POST', path: `${INGEST_BASE_PATH}/runs`, headers: { 'content-type': 'application/json' } }, (res) => {
          res.resume();
          resolve(res.statusCode!);
        });
        req.on('error', reject);
        req.write('{"experiment":"');
        req.write('x'.repeat(4096));
      });
      expect(streamed).toBe(413);
    } finally {
      small.closeAllConnections();
      await new Promise((r) => small.close(r));
    }
  });
});
