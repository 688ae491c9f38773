import fs from 'node:fs';
import path from 'node:path';
import { build } from 'esbuild';
import { ValidationError } from '@cairn/schema';

/**
 * Bundles a training module and its local imports into one ES module, so a worker on
 * another machine runs exactly the submitted code. Packages stay external: they come from
 * the worker's own install (the lock file hash on the run says which).
 */
export async function bundleTraining(file: string): Promise<Uint8Array> {
  const entry = path.resolve(file);
  if (!fs.existsSync(entry)) throw new ValidationError(`training module ${file} does not exist`);
  try {
    const out = await build({
      entryPoints: [entry],
      bundle: true,
      format: 'esm',
      platform: 'node',
      target: 'node20',
      packages: 'external',
      write: false,
      logLevel: 'silent',
      sourcemap: 'inline',
      sourcesContent: false,
    });
    return out.outputFiles[0]!.contents;
  } catch (e) {
    const errors = (e as { errors?: { text: string; location?: { file: string; line: number } }[] }).errors;
    const first = errors?.[0];
    const where = first?.location ? ` (${first.location.file}:${first.location.line})` : '';
    throw new ValidationError(`cannot bundle ${file}: ${first?.text ?? (e as Error).message}${where}`, { cause: e });
  }
}

/**
 * Where a worker puts code bundles: `.cairn/code` under the project root, so the bundle's
 * external imports resolve against the worker's node_modules (and, unlike a folder inside
 * node_modules, loaders such as tsx and vitest still transform what it imports).
 */
export function codeCacheDir(root = process.cwd()): string {
  return path.join(root, '.cairn', 'code');
}

/** The code cache's file of a bundle when it is there already (written only whole, by rename), else null. */
export function cachedCode(id: string, root?: string): string | null {
  const file = path.join(codeCacheDir(root), `${id}.mjs`);
  return fs.existsSync(file) ? file : null;
}

/** Writes a bundle (already verified by its blob id) to the code cache; returns its path. */
export function materialiseCode(id: string, bytes: Uint8Array, root?: string): string {
  const dir = codeCacheDir(root);
  const file = cachedCode(id, root);
  if (file) return file;
  const target = path.join(dir, `${id}.mjs`);
  fs.mkdirSync(dir, { recursive: true });
  const tmp = `${target}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, bytes);
  fs.renameSync(tmp, target);
  return target;
}
