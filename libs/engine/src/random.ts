/*
 * Cairn's one seeded generator (sfc32, seeded through splitmix32), for training runs and
 * sweeps alike. This file imports nothing, so `@cairn/engine/random` loads no tfjs: the
 * pipeline's sweep strategies (which the API's side of the pipeline may load) use it
 * without pulling the training engine in.
 */

/** A uniform draw in [0, 1), as the sweep strategies take it. */
export type Rand = () => number;

/** One splitmix32 step: advances `state.s` and returns a well-mixed 32-bit word. */
function splitmix32(state: { s: number }): number {
  state.s = (state.s + 0x9e3779b9) >>> 0;
  let z = state.s;
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
  return (z ^ (z >>> 16)) >>> 0;
}

/**
 * Seeded randomness for reproducible runs. tfjs draws initialiser and dropout noise from
 * `Math.random` whenever a layer is given no seed (its random ops seed an alea generator
 * from `Math.random()`), so a run swaps `Math.random` for this generator while it builds
 * and trains its model: the same seed then gives the same weights, dropout masks and
 * metrics on the same backend. The state is four 32-bit words, so it fits a checkpoint.
 */
export class Rng {
  private a: number;
  private b: number;
  private c: number;
  private d: number;

  constructor(seed: number) {
    // splitmix32 spreads a small integer seed over the four words.
    const state = { s: seed >>> 0 };
    this.a = splitmix32(state);
    this.b = splitmix32(state);
    this.c = splitmix32(state);
    this.d = splitmix32(state);
  }

  /** sfc32: uniform in [0, 1). */
  next(): number {
    const t = (((this.a + this.b) >>> 0) + this.d) >>> 0;
    this.d = (this.d + 1) >>> 0;
    this.a = this.b ^ (this.b >>> 9);
    this.b = (this.c + (this.c << 3)) >>> 0;
    this.c = ((this.c << 21) | (this.c >>> 11)) >>> 0;
    this.c = (this.c + t) >>> 0;
    return t / 4294967296;
  }

  get state(): [number, number, number, number] {
    return [this.a, this.b, this.c, this.d];
  }

  set state(s: [number, number, number, number]) {
    [this.a, this.b, this.c, this.d] = s.map((x) => x >>> 0) as [number, number, number, number];
  }
}

/**
 * A generator of uniforms in [0, 1) for `seed` (a safe integer; both 32-bit halves are
 * used) and the given stream numbers (e.g. a sweep's trial index). Every sweep trial draws
 * from its own generator, so trial i's params depend only on (seed, i) and whatever
 * history the strategy reads, never on how many trials were proposed before it in this
 * process: a scheduler that restarts and proposes trial i again gets the same params.
 */
export function createRng(seed: number, ...streams: number[]): Rand {
  const state = { s: seed >>> 0 };
  // Fold the high half of the seed and each stream number in, through the mixer, so
  // (seed, 1) and (seed + 1, 0) do not collide.
  let h = splitmix32(state) ^ (Math.floor(seed / 4294967296) >>> 0);
  for (const n of streams) {
    state.s = (h ^ Math.imul(n >>> 0, 0x27d4eb2d) ^ (Math.floor(n / 4294967296) >>> 0)) >>> 0;
    h = splitmix32(state);
  }
  state.s = h;
  const rng = new Rng(0);
  rng.state = [splitmix32(state), splitmix32(state), splitmix32(state), splitmix32(state)];
  // sfc32's first outputs are still close to the seeding; skip a few.
  for (let i = 0; i < 12; i++) rng.next();
  return () => rng.next();
}

/** A standard normal draw (Box–Muller; the second value is dropped to keep draws stateless). */
export function normal(rand: Rand): number {
  let u = rand();
  while (u === 0) u = rand();
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * rand());
}

/** A permutation of 0..n-1 fixed by (seed, epoch): resuming mid-epoch recomputes the same order. */
export function epochOrder(n: number, seed: number, epoch: number): Int32Array {
  const rng = new Rng((Math.imul(seed >>> 0, 0x01000193) ^ Math.imul(epoch + 1, 0x9e3779b1)) >>> 0);
  const order = new Int32Array(n);
  for (let i = 0; i < n; i++) order[i] = i;
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(rng.next() * (i + 1));
    const t = order[i]!;
    order[i] = order[j]!;
    order[j] = t;
  }
  return order;
}

/**
 * Routes `Math.random` to `rng` until the returned restore function is called. Only one
 * run per process may hold it at a time (a second would interleave draws): nested
 * seeding is refused.
 */
let held = false;
export function seedMathRandom(rng: Rng): () => void {
  if (held) throw new Error('Math.random is already seeded by another run in this process');
  held = true;
  const original = Math.random;
  Math.random = () => rng.next();
  return () => {
    Math.random = original;
    held = false;
  };
}
