// Rows generated on demand (issue 14 item 5): a RowSource whose row i is a function
// of (seed, i) alone, so any n — 10⁷ rows of 784 is 31 GB — is read a slice at a
// time and never held. The rows follow a PPCA model, x = W z + μ + σ ε: W (D×d) and
// μ are drawn once from the seed; z_i is Gaussian (Box–Muller on hashed uniforms);
// ε is N(0, 1) but not independent across rows: row i's noise is a window of a
// fixed table of Gaussian draws (NOISE_TABLE long, a prime) at an offset hashed from
// (seed, i), and its sign is hashed too. No hash or draw per value is what lets a
// benchmark generate rows faster than the fitters consume them (the product W z,
// d multiply-adds per value, is most of the cost).
import { DataError } from './dataset.ts';
import { checkSlice, type RowSource } from './source.ts';
import { HostRng } from '../train/rng.ts';

export interface GeneratedPpcaOptions {
  n: number;
  D: number;
  /** latent dimension of the generating model */
  d: number;
  /** noise standard deviation (default 0.5) */
  sigma?: number;
  seed?: number;
  /** rows' name in messages (default "generated") */
  name?: string;
}

/** A generated PPCA source, with the generating parameters. */
export interface GeneratedPpca extends RowSource {
  readonly W: Float32Array;
  readonly mu: Float32Array;
  readonly sigma: number;
  /** the model's per-column variance Σ_k W_jk² + σ² (what a Gaussian decoder starts from) */
  readonly columnVariance: Float32Array;
}

/** murmur3's 32-bit finaliser: a bijective mix of one word */
function fmix32(h: number): number {
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

/** length of the noise table (a prime, so windows at different offsets rarely repeat) */
const NOISE_TABLE = 65521;

/** Synthetic PPCA rows from (seed, row index); n up to 2⁵³ (the row index enters the hash as two words). */
export function generatedPpca(opts: GeneratedPpcaOptions): GeneratedPpca {
  const { n, D, d } = opts;
  const sigma = opts.sigma ?? 0.5;
  const seed = (opts.seed ?? 0) >>> 0;
  const name = opts.name ?? 'generated';
  if (!Number.isSafeInteger(n) || n < 0 || !Number.isInteger(D) || D < 1 || !Number.isInteger(d) || d < 1 || d > D) {
    throw new DataError(`${name}: bad shape n=${n}, D=${D}, d=${d}`);
  }
  if (!(sigma >= 0 && Number.isFinite(sigma))) throw new DataError(`${name}: sigma must be a finite number ≥ 0, got ${sigma}`);
  const rng = new HostRng(fmix32(seed ^ 0x5eed9e2c));
  // columns of unit scale: W_jk ~ N(0, 1/d), μ_j ~ U(−1, 1)
  const W = Float32Array.from({ length: D * d }, () => rng.normal() / Math.sqrt(d));
  const mu = Float32Array.from({ length: D }, () => 2 * rng.uniform() - 1);
  const columnVariance = Float32Array.from({ length: D }, (_, j) => {
    let s = sigma * sigma;
    for (let k = 0; k < d; k++) s += W[j * d + k]! ** 2;
    return s;
  });
  const noise = new Float64Array(NOISE_TABLE + D);
  for (let i = 0; i < NOISE_TABLE; i++) noise[i] = sigma * rng.normal();
  // the window wraps: the table's start repeated past its end
  for (let i = 0; i < D; i++) noise[NOISE_TABLE + i] = noise[i % NOISE_TABLE]!;
  const Wd = Float64Array.from(W);
  const z = new Float64Array(d);
  /** the row's own stream: a hash of (seed, i) as two 32-bit words */
  const rowKey = (i: number): number => fmix32(fmix32(seed ^ 0x9e3779b9) ^ fmix32(i >>> 0) ^ Math.imul(Math.floor(i / 2 ** 32), 0x27d4eb2f));
  const writeRow = (i: number, dst: Float32Array, at: number): void => {
    const key = rowKey(i);
    for (let k = 0; k < d; k += 2) {
      const u1 = (fmix32(key + 2 * k + 1) + 1) / 4294967297;
      const u2 = fmix32(key + 2 * k + 2) / 4294967296;
      const r = Math.sqrt(-2 * Math.log(u1));
      z[k] = r * Math.cos(2 * Math.PI * u2);
      if (k + 1 < d) z[k + 1] = r * Math.sin(2 * Math.PI * u2);
    }
    const h = fmix32(key ^ 0x6e6f6973);
    const off = h % NOISE_TABLE;
    const sign = h & 0x80000000 ? -1 : 1;
    for (let j = 0; j < D; j++) {
      let v = mu[j]! + sign * noise[off + j]!;
      for (let k = 0; k < d; k++) v += Wd[j * d + k]! * z[k]!;
      dst[at + j] = v;
    }
  };
  return {
    name, n, D, array: null, W, mu, sigma, columnVariance,
    async read(r0: number, count: number, dst: Float32Array): Promise<void> {
      checkSlice(this, r0, count, dst);
      for (let i = 0; i < count; i++) writeRow(r0 + i, dst, i * D);
    },
    async close(): Promise<void> {},
  };
}
