import { sql } from 'drizzle-orm';
import { rows, type Db } from './db.ts';

/**
 * Everything recorded that names a blob, for the blob store's gc: snapshot roots (whose
 * trees keep their chunks) and single blobs (run artifacts such as checkpoints and code
 * bundles, model versions). A hash that is not a 64-hex BLAKE3 id names something kept
 * outside the blob store and is left out.
 */
export async function blobRoots(db: Db): Promise<{ snapshots: string[]; blobs: string[] }> {
  const snaps = await rows<{ id: string }>(db, sql`SELECT DISTINCT id FROM snapshots`);
  const blobs = await rows<{ hash: string }>(
    db,
    sql`SELECT hash FROM artifacts WHERE hash ~ '^[0-9a-f]{64}$'
        UNION SELECT artifact_hash FROM model_versions WHERE artifact_hash ~ '^[0-9a-f]{64}$'`,
  );
  return { snapshots: snaps.map((r) => r.id), blobs: blobs.map((r) => r.hash) };
}
