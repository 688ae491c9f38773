import { NotFoundError } from '@cairn/schema';
import type { Run, Store } from '@cairn/store';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * Reads runs' rows for a busy worker: every lookup asked for in the same tick goes to the
 * store as one query (`id IN (…)`), as a DataLoader does. A worker taking 50 jobs at once
 * then pays one round trip for them, not 50: the store, not Redis, bounds a worker's job
 * rate otherwise.
 */
export class RunHeadLoader {
  private pending = new Map<string, { resolve: (r: Run) => void; reject: (e: unknown) => void }[]>();
  private scheduled = false;

  constructor(
    private readonly store: Store,
    private readonly maxBatch = 500,
  ) {}

  load(id: string): Promise<Run> {
    // Not a run id at all: asked alone, so its error (the store's) is not the whole batch's.
    if (!UUID.test(id)) return this.store.getRunHead(id);
    return new Promise<Run>((resolve, reject) => {
      const waiting = this.pending.get(id);
      if (waiting) waiting.push({ resolve, reject });
      else this.pending.set(id, [{ resolve, reject }]);
      if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(() => void this.flush());
      }
    });
  }

  private async flush(): Promise<void> {
    this.scheduled = false;
    const batch = this.pending;
    this.pending = new Map();
    const ids = [...batch.keys()];
    for (let i = 0; i < ids.length; i += this.maxBatch) {
      const chunk = ids.slice(i, i + this.maxBatch);
      try {
        const found = new Map((await this.store.getRunHeads(chunk)).map((r) => [r.id, r]));
        for (const id of chunk) {
          const run = found.get(id);
          for (const w of batch.get(id)!) run ? w.resolve(run) : w.reject(new NotFoundError('run', id));
        }
      } catch (e) {
        for (const id of chunk) for (const w of batch.get(id)!) w.reject(e);
      }
    }
  }
}
