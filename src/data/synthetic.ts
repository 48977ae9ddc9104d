// Synthetic data from a known probabilistic PCA model (DESIGN.md §1.1):
// x = W z + μ + σ ε with z ~ N(0, I_d), ε ~ N(0, I_D). Platform-neutral and seeded.
import { DataError, makeDataset, type Dataset } from './dataset.ts';
import { seededRandom } from './random.ts';

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

export function syntheticPpca(o: SyntheticPpcaOptions): SyntheticPpca {
  const { n, D, d, sigma, seed } = o;
  for (const [k, v] of Object.entries({ n, D, d })) {
    if (!Number.isInteger(v) || v < 1) throw new DataError(`synthetic data: ${k} must be a positive integer, got ${v}`);
  }
  if (!(sigma >= 0) || !Number.isFinite(sigma)) throw new DataError(`synthetic data: sigma must be a finite number ≥ 0, got ${sigma}`);
  if (o.W && o.W.length !== D * d) throw new DataError(`synthetic data: W has ${o.W.length} entries, needs D·d = ${D * d}`);
  if (o.mu && o.mu.length !== D) throw new DataError(`synthetic data: mu has ${o.mu.length} entries, needs D = ${D}`);
  const rnd = seededRandom(seed);
  const W = o.W ?? Float64Array.from({ length: D * d }, rnd.normal);
  const mu = o.mu ?? Float64Array.from({ length: D }, rnd.normal);
  const x = new Float32Array(n * D);
  const z = new Float64Array(d);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < d; j++) z[j] = rnd.normal();
    for (let r = 0; r < D; r++) {
      let s = mu[r]!;
      for (let j = 0; j < d; j++) s += W[r * d + j]! * z[j]!;
      x[i * D + r] = s + sigma * rnd.normal();
    }
  }
  const name = `synthetic-ppca(n=${n},D=${D},d=${d},sigma=${sigma},seed=${seed})`;
  return { data: makeDataset(name, x, n, D), W, mu, sigma2: sigma * sigma };
}
