import path from 'node:path';
import type { CairnConfig } from './config.ts';

/**
 * The blob store folder: a command's own flag, else CAIRN_BLOBS, else `<home>/blobs`
 * (home as the app resolved it: its --home, else CAIRN_HOME, else ./.cairn). The one
 * place this fallback lives; the CLI, the worker and the portal all use it.
 */
export function blobRootFor(config: Pick<CairnConfig, 'blobs'>, home: string, flag?: string): string {
  return path.resolve(flag || config.blobs || path.join(home, 'blobs'));
}
