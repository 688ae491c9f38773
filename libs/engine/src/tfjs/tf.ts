import { registerChainedOps } from './chained-ops.ts';

/**
 * The tfjs namespace a definition uses: `import { tf } from '@cairn/engine'` gives
 * tfjs-core's ops, tfjs-layers' models and layers and `tf.data`, all the very copies the
 * engine trains with (the same layout as the full @tensorflow/tfjs package).
 */
export * from '@tensorflow/tfjs-core';
export * from '@tensorflow/tfjs-layers';
export * as data from '@tensorflow/tfjs-data';

registerChainedOps();
