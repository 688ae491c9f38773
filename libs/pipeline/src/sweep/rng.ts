/**
 * A small seeded PRNG for sweeps: sfc32, its four words spread from the sweep's seed and
 * the trial's index by splitmix32. Every trial draws from its own generator, so trial i's
 * params depend only on (seed, i) and whatever history the strategy reads, never on how
 * many trials were proposed before it in this process: a scheduler that restarts and
 * proposes trial i again gets the same params.
 */
export type Rand = () => number;

function splitmix32(state: { s: number }): number {
  state.s = (state.s + 0x9e3779b9) >>> 0;
  let z = state.s;
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
  return (z ^ (z >>> 16)) >>> 0;
}

/**
 * A generator of uniforms in [0, 1) for `seed` (a safe integer; both 32-bit halves are
 * used) and the given stream numbers (e.g. the trial index).
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
  let a = splitmix32(state);
  let b = splitmix32(state);
  let c = splitmix32(state);
  let d = splitmix32(state);
  const next: Rand = () => {
    const t = (((a + b) >>> 0) + d) >>> 0;
    d = (d + 1) >>> 0;
    a = b ^ (b >>> 9);
    b = (c + (c << 3)) >>> 0;
    c = ((c << 21) | (c >>> 11)) >>> 0;
    c = (c + t) >>> 0;
    return t / 4294967296;
  };
  // sfc32's first outputs are still close to the seeding; skip a few.
  for (let i = 0; i < 12; i++) next();
  return next;
}

/** A standard normal draw (Box–Muller; the second value is dropped to keep draws stateless). */
export function normal(rand: Rand): number {
  let u = rand();
  while (u === 0) u = rand();
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * rand());
}
