import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import * as tfl from '@tensorflow/tfjs-layers';
import { describe } from 'vitest';
import { Rng } from '@cairn/engine';
import { nativeUnavailableReason } from './addon.ts';

/**
 * Test helpers. The tests run the real addon; only when its build recorded that it could
 * not be built here (build/status.json) are they skipped, and the skip names the reason.
 */
const reason = nativeUnavailableReason();
// CI has a compiler: there a core that did not build is a failure, not a skip.
if (reason && process.env.CAIRN_REQUIRE_NATIVE === '1') throw new Error(`@cairn/native did not build and CAIRN_REQUIRE_NATIVE=1: ${reason}`);
if (reason) console.warn(`@cairn/native tests skipped: ${reason}`);
export const describeNative = (name: string, fn: () => void) => (reason ? describe.skip(`${name} (skipped: ${reason})`, fn) : describe(name, fn));

export async function useCpu(): Promise<void> {
  await tf.setBackend('cpu');
  await tf.ready();
}

/** Builds a model with Math.random seeded (tfjs's initialisers read it). */
export function seeded<T>(seed: number, f: () => T): T {
  const random = Math.random;
  const rng = new Rng(seed);
  Math.random = () => rng.next();
  try {
    return f();
  } finally {
    Math.random = random;
  }
}

export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`lengths differ: ${a.length} vs ${b.length}`);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

export function maxAbs(a: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]!));
  return m;
}

export function f32(t: tf.Tensor): Float32Array {
  return Float32Array.from(t.dataSync() as ArrayLike<number>);
}

export { tf, tfl };
