import { isCairnError } from '@cairn/schema';
import type { Store } from '@cairn/store';

export const SHORT_ID_LENGTH = 8;

/**
 * Short run ids that `resolveRunId` accepts: at least 8 characters, longer where
 * needed to be unique in the whole store (as git abbreviates). Run ids are
 * UUIDv7, whose leading 8 hex digits only change every ~65 s, so runs created in
 * the same minute need more. First made unique within the list, then checked
 * against the store (one prefix query per id, rarely a few).
 */
export async function shortIds(store: Store, ids: string[]): Promise<Map<string, string>> {
  const lengths = new Map<string, number>();
  await Promise.all(
    ids.map(async (id) => {
      let len = SHORT_ID_LENGTH;
      while (len < id.length && ids.some((o) => o !== id && o.startsWith(id.slice(0, len)))) len = next(id, len);
      for (;;) {
        if (len >= id.length) break;
        try {
          await store.resolveRunId(id.slice(0, len));
          break;
        } catch (e) {
          if (!isCairnError(e) || e.code !== 'INVALID_INPUT') throw e;
          len = next(id, len);
        }
      }
      lengths.set(id, Math.min(len, id.length));
    }),
  );
  // One length for the whole list, so the column lines up (any longer prefix is unique too).
  const width = Math.max(SHORT_ID_LENGTH, ...lengths.values());
  return new Map(ids.map((id) => [id, id.slice(0, width)]));
}

/** One more character, never ending a prefix on a '-'. */
function next(id: string, len: number): number {
  let n = len + 1;
  while (n < id.length && id[n - 1] === '-') n++;
  return n;
}
