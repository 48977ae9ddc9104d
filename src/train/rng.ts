// The one module of seeded host randomness (the device's is the counter-based
// Threefry of src/kernels/random.ts). Two 32-bit generators sit behind one class,
// because figures depend on both streams: splitmix32 (model initialisation,
// epoch permutations) and mulberry32 (synthetic data, PPCA's initial W and
// minibatches). Every stream is a pure function of its seed, so an epoch's
// permutation is recomputed on resume without saving generator state.

/** Mixes 32-bit words into one well-spread 32-bit seed (murmur3 finaliser per word). */
export function mixSeed(...words: number[]): number {
  let h = 0x9e3779b9;
  for (const w of words) {
    let k = Math.imul(w >>> 0, 0xcc9e2d51);
    k = (k << 15) | (k >>> 17);
    h ^= Math.imul(k, 0x1b873593);
    h = Math.imul((h << 13) | (h >>> 19), 5) + 0xe6546b64;
  }
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** splitmix32 (the default) or mulberry32; each is a different, fixed stream per seed. */
export type RngAlgorithm = 'splitmix32' | 'mulberry32';

/** A seeded generator of 32-bit words, uniforms in [0, 1), normals and unbiased integers; the same stream on every platform. */
export class HostRng {
  private s: number;
  private spare: number | null = null;
  private readonly mulberry: boolean;

  constructor(seed: number, readonly algorithm: RngAlgorithm = 'splitmix32') {
    this.s = seed >>> 0;
    this.mulberry = algorithm === 'mulberry32';
  }

  nextU32(): number {
    if (this.mulberry) {
      this.s = (this.s + 0x6d2b79f5) >>> 0;
      let t = this.s;
      t = Math.imul(t ^ (t >>> 15), t | 1);
      t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
      return (t ^ (t >>> 14)) >>> 0;
    }
    this.s = (this.s + 0x9e3779b9) >>> 0;
    let z = this.s;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
    return (z ^ (z >>> 16)) >>> 0;
  }

  uniform(): number {
    return this.nextU32() / 4294967296;
  }

  /** standard normal (Box–Muller, two per pair of uniforms) */
  normal(): number {
    if (this.spare !== null) {
      const v = this.spare;
      this.spare = null;
      return v;
    }
    // 1 − u keeps the logarithm's argument in (0, 1]
    const u = 1 - this.uniform();
    const r = Math.sqrt(-2 * Math.log(u));
    const t = 2 * Math.PI * this.uniform();
    this.spare = r * Math.sin(t);
    return r * Math.cos(t);
  }

  /** an integer in [0, n) without modulo bias */
  below(n: number): number {
    const limit = 4294967296 - (4294967296 % n);
    let x: number;
    do x = this.nextU32();
    while (x >= limit);
    return x % n;
  }
}

/** The shuffle of epoch `epoch` for `seed`: a uniform permutation of 0..n-1 (Fisher–Yates). */
export function epochPermutation(n: number, seed: number, epoch: number): Uint32Array {
  const p = new Uint32Array(n);
  for (let i = 0; i < n; i++) p[i] = i;
  const r = new HostRng(mixSeed(seed, 0x5348, epoch));
  for (let i = n - 1; i > 0; i--) {
    const j = r.below(i + 1);
    const t = p[i]!;
    p[i] = p[j]!;
    p[j] = t;
  }
  return p;
}
