/**
 * Multinomial logistic regression, trained by full-batch gradient descent: small
 * enough to read in a minute, real enough that learning rates matter (too small
 * crawls, too large diverges to NaN).
 */
export interface Dataset {
  x: number[][];
  y: number[];
  classes: number;
}

export interface Model {
  w: number[][]; // [class][feature]
  b: number[];
}

export function initModel(features: number, classes: number): Model {
  return { w: Array.from({ length: classes }, () => new Array(features).fill(0)), b: new Array(classes).fill(0) };
}

function probabilities(m: Model, x: number[]): number[] {
  const z = m.w.map((wc, c) => wc.reduce((s, w, j) => s + w * x[j]!, m.b[c]!));
  const top = Math.max(...z);
  const e = z.map((v) => Math.exp(v - top));
  const sum = e.reduce((s, v) => s + v, 0);
  return e.map((v) => v / sum);
}

/** Mean cross-entropy and accuracy. */
export function evaluate(m: Model, d: Dataset): { loss: number; accuracy: number } {
  let loss = 0;
  let correct = 0;
  d.x.forEach((x, i) => {
    const p = probabilities(m, x);
    loss -= Math.log(Math.max(p[d.y[i]!]!, 1e-300));
    if (p.indexOf(Math.max(...p)) === d.y[i]) correct++;
  });
  return { loss: loss / d.x.length, accuracy: correct / d.x.length };
}

/** One full-batch gradient step. */
export function step(m: Model, d: Dataset, lr: number): void {
  const gw = m.w.map((wc) => wc.map(() => 0));
  const gb = m.b.map(() => 0);
  d.x.forEach((x, i) => {
    const p = probabilities(m, x);
    p.forEach((pc, c) => {
      const g = pc - (d.y[i] === c ? 1 : 0);
      gb[c]! += g;
      x.forEach((xj, j) => (gw[c]![j]! += g * xj));
    });
  });
  const n = d.x.length;
  m.w.forEach((wc, c) => wc.forEach((_, j) => (wc[j]! -= (lr * gw[c]![j]!) / n)));
  m.b.forEach((_, c) => (m.b[c]! -= (lr * gb[c]!) / n));
}
