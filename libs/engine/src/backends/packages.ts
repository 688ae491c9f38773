import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';

/**
 * Where tfjs packages are found, and which tfjs-core each of them would load. tfjs keeps its
 * kernel registry and engine in module state, so a backend that loads a second copy of
 * tfjs-core registers its kernels where our engine never looks: every package must resolve
 * to the one tfjs-core the engine itself imports.
 */

const here = createRequire(import.meta.url);

/** The tfjs packages the engine depends on, pinned to one version in libs/engine/package.json. */
export const TFJS_PACKAGES = [
  '@tensorflow/tfjs-core',
  '@tensorflow/tfjs-layers',
  '@tensorflow/tfjs-data',
  '@tensorflow/tfjs-backend-cpu',
  '@tensorflow/tfjs-backend-wasm',
  '@tensorflow/tfjs-backend-webgpu',
] as const;

/** The optional native backends, best first (CUDA, then CPU libtensorflow). */
export const NATIVE_PACKAGES = ['@tensorflow/tfjs-node-gpu', '@tensorflow/tfjs-node'] as const;

export interface PackageInfo {
  name: string;
  version: string;
  /** The package's folder (symlinks resolved). */
  dir: string;
  /** The tfjs-core entry this package would load (symlinks resolved), or null when it cannot resolve one. */
  core: string | null;
}

function realpath(p: string): string {
  try {
    return fs.realpathSync(p);
  } catch {
    return p;
  }
}

/** The package as the engine would resolve it, or null when it is not installed. */
export function packageInfo(name: string): PackageInfo | null {
  let manifest: string;
  try {
    manifest = here.resolve(`${name}/package.json`);
  } catch {
    return null;
  }
  const { version } = JSON.parse(fs.readFileSync(manifest, 'utf8')) as { version: string };
  let core: string | null;
  try {
    core = realpath(createRequire(manifest).resolve('@tensorflow/tfjs-core'));
  } catch {
    core = null;
  }
  return { name, version, dir: realpath(path.dirname(manifest)), core };
}

/** The tfjs-core entry the engine itself loads. */
export function engineCore(): string {
  return realpath(here.resolve('@tensorflow/tfjs-core'));
}

/** The engine's tfjs packages as installed (all of them are dependencies, so all are present). */
export function tfjsPackages(): PackageInfo[] {
  return TFJS_PACKAGES.map((name) => packageInfo(name)).filter((p): p is PackageInfo => p !== null);
}

/** The entry file of a package (its `main`), for loading it by path; null when not installed. */
export function packageEntry(name: string): string | null {
  try {
    return here.resolve(name);
  } catch {
    return null;
  }
}
