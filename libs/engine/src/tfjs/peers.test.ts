import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { tf } from '../index.ts';
import { TFJS_INSTALL, TFJS_PEERS, TFJS_VERSION, TfjsCopiesError, TfjsMissingError, checkOneTfjs, importWithTfjs, missingTfjsPackage } from './peers.ts';

const engine = { Tensor: tf.Tensor, LayersModel: tf.LayersModel };

/** Node's error for a package that is not installed, as an ESM import throws it. */
function notFound(specifier: string): Error {
  return Object.assign(new Error(`Cannot find package '${specifier}' imported from /home/me/project/node_modules/@cairn/engine/src/run-training.ts`), { code: 'ERR_MODULE_NOT_FOUND' });
}

describe('tfjs missing', () => {
  it('the version and peers match libs/engine/package.json', () => {
    const manifest = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { peerDependencies: Record<string, string> };
    expect(Object.keys(manifest.peerDependencies).filter((p) => p.startsWith('@tensorflow/')).sort()).toEqual([...TFJS_PEERS].sort());
    for (const p of TFJS_PEERS) expect(manifest.peerDependencies[p]).toBe(TFJS_VERSION);
  });

  it('names the package from a module-not-found error, and nothing for other errors', () => {
    expect(missingTfjsPackage(notFound('@tensorflow/tfjs-core'))).toBe('@tensorflow/tfjs-core');
    expect(missingTfjsPackage(Object.assign(new Error("Cannot find module '@tensorflow/tfjs-layers/dist/x'"), { code: 'MODULE_NOT_FOUND' }))).toBe('@tensorflow/tfjs-layers');
    expect(missingTfjsPackage(notFound('left-pad'))).toBeNull();
    expect(missingTfjsPackage(new Error("Cannot find package '@tensorflow/tfjs-core'"))).toBeNull();
  });

  it('a load that cannot find tfjs ends in an error naming the package and the install command', async () => {
    const e = await importWithTfjs(() => Promise.reject(notFound('@tensorflow/tfjs-core'))).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(TfjsMissingError);
    expect((e as TfjsMissingError).code).toBe('INVALID_INPUT');
    expect((e as Error).message).toBe(`cannot load @cairn/engine: @tensorflow/tfjs-core is not installed; @cairn/engine needs tfjs as a peer: ${TFJS_INSTALL}`);
    expect(TFJS_INSTALL).toBe('npm install @tensorflow/tfjs-core@4.22.0 @tensorflow/tfjs-layers@4.22.0 @tensorflow/tfjs-data@4.22.0 @tensorflow/tfjs-backend-cpu@4.22.0');
    // Other failures pass through untouched; a good load returns the module.
    await expect(importWithTfjs(() => Promise.reject(notFound('left-pad')))).rejects.toThrow(/left-pad/);
    await expect(importWithTfjs(() => import('../index.ts'))).resolves.toHaveProperty('tf');
  });
});

describe('two tfjs copies', () => {
  it("accepts the engine's own model and tensors", () => {
    const model = tf.sequential({ layers: [tf.layers.dense({ inputShape: [2], units: 1 })] });
    expect(checkOneTfjs({ model, tensors: [tf.zeros([1, 2]), tf.ones([1])] }, engine)).toBeNull();
  });

  it("names a model or tensors from another copy, with the fix", () => {
    // A second tfjs: its own classes, shaped like the engine's.
    class OtherTensor {
      dataSync() {
        return new Float32Array();
      }
    }
    class OtherModel {
      fit() {}
      compile() {}
    }
    const model = checkOneTfjs({ model: new OtherModel() }, engine, 'train.ts');
    expect(model).toBeInstanceOf(TfjsCopiesError);
    expect(model!.message).toMatch(/^train\.ts: model\(\) returned a model from a different copy of @tensorflow\/tfjs-layers than @cairn\/engine's: import tfjs only through `import \{ tf \} from '@cairn\/engine'`/);
    expect(model!.message).toContain(TFJS_INSTALL);
    const tensors = checkOneTfjs({ tensors: [tf.zeros([1]), new OtherTensor()] }, engine, 'train.ts');
    expect(tensors!.message).toMatch(/^train\.ts: data\(\) returned tensors from a different copy of @tensorflow\/tfjs-core/);
    // Not a model at all is a different mistake.
    expect(checkOneTfjs({ model: {} }, engine)!.message).toMatch(/model\(\) must return a tfjs LayersModel/);
  });
});
