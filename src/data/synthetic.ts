// Synthetic data from a known probabilistic PCA model (DESIGN.md §1.1):
// x = W z + μ + σ ε with z ~ N(0, I_d), ε ~ N(0, I_D). Platform-neutral and seeded.
import { DataError, makeDataset, printable, type Dataset } from './dataset.ts';
import { HostRng } from '../train/rng.ts';

export interface SyntheticPpcaOptions {
  n: number;
  D: number;
  d: number;
  sigma: number;
  seed: number;
  /** D×d row-major; drawn with N(0, 1) entries from the seed when absent */
  W?: Float64Array;
  /** length D; drawn with N(0, 1) entries from the seed when absent */
  mu?: Float64Array;
}

export interface SyntheticPpca {
  data: Dataset;
  /** the generating parameters */
  W: Float64Array;
  mu: Float64Array;
  sigma2: number;
}

/**
 * Caps on synthetic data, so that a flag or a model file's metadata cannot ask
 * for more than a laptop holds or a minute computes: n·D values (2^26, 256 MiB
 * of float32; MNIST-sized 70,000 × 784 fits), D·d generator entries (2^24) and
 * n·D·d multiply-adds (2^31, a few seconds).
 */
/** The model-file metadata key holding a synthetic data set's settings (n, D, d, sigma, seed), from which it is regenerated. */
export const SYNTHETIC_METADATA_KEY = 'synthetic_data';

export const SYNTHETIC_MAX_VALUES = 2 ** 26;
export const SYNTHETIC_MAX_W_ENTRIES = 2 ** 24;
export const SYNTHETIC_MAX_WORK = 2 ** 31;

export type SyntheticKey = 'n' | 'D' | 'd' | 'sigma' | 'seed';
/** The command-line flag of each setting (the CLI's d defaults to --latent). */
export const SYNTHETIC_FLAGS: Record<SyntheticKey, string> = { n: '--n', D: '--dim', d: '--true-latent', sigma: '--sigma', seed: '--data-seed' };

function shown(v: unknown): string {
  return printable(typeof v === 'string' ? JSON.stringify(v) : String(v), 40);
}

const count = (v: number): string => v.toLocaleString('en-US');

/**
 * What is wrong with synthetic-data settings (types, ranges, the caps), each
 * setting called by `name` (a CLI flag, a metadata key); null when usable.
 */
export function syntheticProblem(o: Record<SyntheticKey, unknown>, name: (k: SyntheticKey) => string = (k) => k): string | null {
  for (const k of ['n', 'D', 'd'] as const) {
    const v = o[k];
    if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 1) return `${name(k)} must be a positive integer, got ${shown(v)}`;
  }
  const { sigma, seed } = o;
  if (typeof sigma !== 'number' || !Number.isFinite(sigma) || sigma < 0) return `${name('sigma')} must be a finite number ≥ 0, got ${shown(sigma)}`;
  if (typeof seed !== 'number' || !Number.isSafeInteger(seed) || seed < 0) return `${name('seed')} must be a non-negative integer below 2^53, got ${shown(seed)}`;
  const [n, D, d] = [o.n, o.D, o.d] as number[] as [number, number, number];
  if (n * D > SYNTHETIC_MAX_VALUES) {
    return `${name('n')} × ${name('D')} = ${count(n * D)} values, over the cap of ${count(SYNTHETIC_MAX_VALUES)} (256 MiB of float32); use fewer rows or dimensions`;
  }
  if (D * d > SYNTHETIC_MAX_W_ENTRIES) {
    return `${name('D')} × ${name('d')} = ${count(D * d)} generator entries, over the cap of ${count(SYNTHETIC_MAX_W_ENTRIES)}; use a smaller latent dimension`;
  }
  if (n * D * d > SYNTHETIC_MAX_WORK) {
    return `${name('n')} × ${name('D')} × ${name('d')} = ${count(n * D * d)} multiply-adds, over the cap of ${count(SYNTHETIC_MAX_WORK)}; use fewer rows or a smaller latent dimension`;
  }
  return null;
}

export function syntheticPpca(o: SyntheticPpcaOptions): SyntheticPpca {
  const { n, D, d, sigma, seed } = o;
  const problem = syntheticProblem(o);
  if (problem) throw new DataError(`synthetic data: ${problem}`);
  if (o.W && o.W.length !== D * d) throw new DataError(`synthetic data: W has ${o.W.length} entries, needs D·d = ${D * d}`);
  if (o.mu && o.mu.length !== D) throw new DataError(`synthetic data: mu has ${o.mu.length} entries, needs D = ${D}`);
  const rnd = new HostRng(seed, 'mulberry32');
  const W = o.W ?? Float64Array.from({ length: D * d }, () => rnd.normal());
  const mu = o.mu ?? Float64Array.from({ length: D }, () => rnd.normal());
  const x = new Float32Array(n * D);
  const z = new Float64Array(d);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < d; j++) z[j] = rnd.normal();
    for (let r = 0; r < D; r++) {
      let s = mu[r]!;
      for (let j = 0; j < d; j++) s += W[r * d + j]! * z[j]!;
      x[i * D + r] = s + sigma * rnd.normal();
      if (!Number.isFinite(x[i * D + r]!)) throw new DataError(`synthetic data: values overflow float32 (row ${i + 1}, column ${r + 1}); use a smaller sigma, W or mu`);
    }
  }
  const name = `synthetic-ppca(n=${n},D=${D},d=${d},sigma=${sigma},seed=${seed})`;
  return { data: makeDataset(name, x, n, D), W, mu, sigma2: sigma * sigma };
}
