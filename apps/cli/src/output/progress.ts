import cliProgress from 'cli-progress';
import { formatBytes } from './format.ts';

export interface Progress {
  /** Files (or items) done of total, and bytes done so far. */
  update(done: number, total: number, bytes: number): void;
  /** Removes the bar, if one was drawn. */
  stop(): void;
}

/**
 * A progress bar on stderr (files, bytes, bytes/s) for long work only: nothing when
 * stderr is not a terminal (pipes, CI logs, tests), and nothing until the work has
 * run for `delayMs`, so quick commands print no bar at all.
 */
export function progressBar(options: { stream?: NodeJS.WriteStream; delayMs?: number; unit?: string } = {}): Progress {
  const stream = options.stream ?? process.stderr;
  const delayMs = options.delayMs ?? 1_000;
  const unit = options.unit ?? 'files';
  if (!stream.isTTY || process.env.TERM === 'dumb') return { update() {}, stop() {} };
  const started = Date.now();
  let bar: cliProgress.SingleBar | null = null;
  return {
    update(done, total, bytes) {
      const now = Date.now();
      if (!bar) {
        if (now - started < delayMs || done >= total) return;
        bar = new cliProgress.SingleBar({
          stream,
          format: `{bar} {value}/{total} ${unit} | {size} | {rate}/s`,
          hideCursor: true,
          clearOnComplete: true,
          barsize: 30,
        });
        bar.start(total, done, { size: formatBytes(bytes), rate: formatBytes(0) });
      }
      const seconds = Math.max(0.001, (now - started) / 1_000);
      bar.setTotal(total);
      bar.update(done, { size: formatBytes(bytes), rate: formatBytes(Math.round(bytes / seconds)) });
    },
    stop() {
      bar?.stop();
      bar = null;
    },
  };
}
