/** Readiness: the store opens (and, when configured, whether the queues answer). */
import { getDeps } from '../../../server/deps.ts';

export const dynamic = 'force-dynamic';
export const runtime = 'nodejs';

export async function GET(): Promise<Response> {
  try {
    const deps = await getDeps();
    return Response.json({ ok: true, store: deps.store.driver, queues: deps.queues !== null }, { headers: { 'cache-control': 'no-store' } });
  } catch (e) {
    return Response.json({ ok: false, error: e instanceof Error ? e.message : String(e) }, { status: 503, headers: { 'cache-control': 'no-store' } });
  }
}
