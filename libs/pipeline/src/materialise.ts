import fs from 'node:fs';
import path from 'node:path';
import { checkout, type LocalBlobStore } from '@cairn/snapshot';

const DONE = '.cairn-checkout-complete';

/**
 * A snapshot checked out under `home/checkouts/<id>`. Snapshots are immutable, so a
 * complete checkout is reused by every later run; a partial one (a killed process) is
 * redone, never trusted: it is written beside and renamed into place when complete.
 */
export async function materialiseSnapshot(id: string, blobs: LocalBlobStore, home: string): Promise<string> {
  const dir = path.join(home, 'checkouts', id);
  if (fs.existsSync(path.join(dir, DONE))) return dir;
  const tmp = `${dir}.tmp-${process.pid}`;
  fs.rmSync(tmp, { recursive: true, force: true });
  await checkout(id, tmp, { store: blobs });
  fs.writeFileSync(path.join(tmp, DONE), `${id}\n`);
  fs.rmSync(dir, { recursive: true, force: true });
  fs.renameSync(tmp, dir);
  return dir;
}
