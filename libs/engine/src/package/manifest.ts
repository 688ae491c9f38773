import { createHash } from 'node:crypto';
import { z } from 'zod';

/** Bumped only for changes an older loader cannot read; the loader refuses any other value. */
export const PACKAGE_FORMAT = 'cairn-model/1';
export const MANIFEST_FILE = 'cairn-model.json';
/** Every file a package holds besides the manifest; the manifest pins each one's hash and size. */
export const PACKAGE_FILES = ['model.json', 'weights.bin', 'card.json', 'input-schema.json'] as const;
export type PackageFile = (typeof PACKAGE_FILES)[number];

export interface FileEntry {
  sha256: string;
  size: number;
}

/** cairn-model.json: what a package is and the integrity of each file in it. */
export interface PackageManifest {
  format: typeof PACKAGE_FORMAT;
  name: string;
  version: number;
  /** The content hash of the exported artifact the package was built from, when known. */
  artifactHash?: string;
  createdAt: string;
  files: Record<PackageFile, FileEntry>;
}

const fileEntry = z.object({ sha256: z.string().regex(/^[0-9a-f]{64}$/, 'expected a lowercase hex sha256'), size: z.number().int().min(0) });

export const manifestSchema = z.object({
  format: z.literal(PACKAGE_FORMAT),
  name: z.string().min(1),
  version: z.number().int().positive(),
  artifactHash: z.string().min(1).optional(),
  createdAt: z.string().min(1),
  // Strict: a file the loader would not check must not sit in the manifest looking verified.
  files: z.strictObject(Object.fromEntries(PACKAGE_FILES.map((f) => [f, fileEntry])) as Record<PackageFile, typeof fileEntry>),
});

export function sha256(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/**
 * The tfjs model.json fields the package relies on: one weights group whose only path is
 * weights.bin, so the loader can hand weights.bin's bytes to tfjs without resolving paths.
 */
export const modelJsonSchema = z.object({
  modelTopology: z.record(z.string(), z.unknown()),
  weightsManifest: z
    .array(z.object({ paths: z.tuple([z.literal('weights.bin')]), weights: z.array(z.object({ name: z.string(), shape: z.array(z.number().int().min(0)), dtype: z.string() }).loose()) }))
    .length(1, 'expected exactly one weights group (as exportModel writes it)'),
});
export type PackagedModelJson = z.infer<typeof modelJsonSchema>;

const DTYPE_BYTES: Record<string, number> = { float32: 4, int32: 4, bool: 1, complex64: 8 };

/**
 * Bytes the weight specs describe, or undefined when that cannot be known from the specs
 * alone (quantized or string weights). Used to refuse a weights.bin that cannot match.
 */
export function expectedWeightBytes(json: PackagedModelJson): number | undefined {
  let total = 0;
  for (const w of json.weightsManifest[0]!.weights) {
    const per = DTYPE_BYTES[w.dtype];
    if (per === undefined || 'quantization' in w) return undefined;
    total += w.shape.reduce((a, b) => a * b, 1) * per;
  }
  return total;
}
