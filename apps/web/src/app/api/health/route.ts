/** Liveness for `cairn ui` / `cairn demo`: answers without touching the store. */
export const dynamic = 'force-dynamic';

export function GET(): Response {
  return Response.json({ ok: true }, { headers: { 'cache-control': 'no-store' } });
}
