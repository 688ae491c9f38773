import * as tf from '@tensorflow/tfjs-core';
import type { Rng } from '@cairn/engine';
import type { NativePlan } from './addon.ts';

/**
 * Dropout masks exactly as LayersTrainer's fit draws them: tfjs's Dropout layer calls
 * tf.dropout, whose tf.randomUniform seeds its generator from Math.random, which a fit
 * routes to the run's Rng. Drawing the same masks here, in the same order (per step, per
 * dropout layer in forward order), makes a native fit follow the tfjs one, dropout included,
 * and leaves the Rng where LayersTrainer's would be (so checkpoints resume on either).
 */
export class DropoutMasks {
  private readonly layers: { size: number; rate: number }[];

  constructor(plan: NativePlan) {
    // tfjs draws only for 0 < rate < 1 (Dropout.call); rate 0 draws nothing and passes values through.
    this.layers = plan.nodes.filter((n) => n.op === 'dropout' && n.rate! > 0 && n.rate! < 1).map((n) => ({ size: n.shape.reduce((a, b) => a * b, 1), rate: n.rate! }));
  }

  get any(): boolean {
    return this.layers.length > 0;
  }

  /** Multipliers per example over all dropout layers. */
  get perRow(): number {
    return this.layers.reduce((s, l) => s + l.size, 0);
  }

  /**
   * The masks of steps with these row counts, and the Rng state after each step's draws
   * (the trainer keeps the state of the last step trained, as a native call may stop early).
   */
  draw(rng: Rng, rows: number[]): { masks: Float32Array; states: [number, number, number, number][] } {
    const masks = new Float32Array(rows.reduce((s, n) => s + n * this.perRow, 0));
    const states: [number, number, number, number][] = [];
    const random = Math.random;
    Math.random = () => rng.next();
    try {
      let at = 0;
      for (const n of rows) {
        for (const l of this.layers) {
          const keep = 1 - l.rate;
          // tfjs's dropout_: div(floor(add(randomUniform(shape), keepProb)), keepProb).
          const m = tf.tidy(() => tf.div(tf.floor(tf.add(tf.randomUniform([n, l.size], 0, 1, 'float32'), keep)), keep));
          masks.set(m.dataSync() as Float32Array, at);
          m.dispose();
          at += n * l.size;
        }
        states.push(rng.state);
      }
    } finally {
      Math.random = random;
    }
    return { masks, states };
  }
}
