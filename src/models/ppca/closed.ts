// Closed-form maximum-likelihood PPCA (Tipping & Bishop 1999; DESIGN.md §1.1):
// eigen-decomposition of the sample covariance S on the host in float64
// (ml-matrix), σ² = mean of the D−d smallest eigenvalues, W = U_d (Λ_d − σ²I)^½.
// This is the reference the EM methods must reach; it forms the D×D matrix, which
// only this reference does.
import { EigenvalueDecomposition, Matrix } from 'ml-matrix';
import { LOG_2PI, checkShape, type PpcaHost } from './model.ts';
import { columnStats } from './scale.ts';

export interface ClosedFormPpca extends PpcaHost {
  /** eigenvalues of the sample covariance, largest first */
  eigenvalues: Float64Array;
  /** maximum mean log-likelihood per sample (nats), from the eigenvalues */
  loglik: number;
}

/**
 * Sample covariance (1/n)Σ(x−μ)(x−μ)ᵀ in float64 from shifted data: a column
 * whose mean is large next to its spread (μ² > SHIFT_RATIO·variance) is
 * centred, x − μ; the others keep x − 0, so zeros stay zeros and are skipped
 * (MNIST is ~80% zeros; centring its 61 columns with μ² > variance cost 1.5×),
 * and S = (1/n)Σ(x−c)(x−c)ᵀ − (μ−c)(μ−c)ᵀ loses at most ~SHIFT_RATIO ulps
 * (1e-12) where E[xxᵀ] − μμᵀ cancelled catastrophically (a constant 1e30 column).
 */
/** μ²/variance above which a column is centred before its products are summed */
const SHIFT_RATIO = 1e4;

export function sampleCovariance(data: { host: Float32Array; n: number; D: number }, mu: Float64Array, variance?: Float64Array): Float64Array {
  const { host, n, D } = data;
  const v = variance ?? columnStats(data).variance;
  const shift = Float64Array.from(mu, (m, j) => (m * m > SHIFT_RATIO * v[j]! ? m : 0));
  const rest = Float64Array.from(mu, (m, j) => m - shift[j]!);
  const S = new Float64Array(D * D);
  const row = new Float64Array(D);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < D; j++) row[j] = host[i * D + j]! - shift[j]!;
    for (let a = 0; a < D; a++) {
      const xa = row[a]!;
      if (xa === 0) continue;
      const base = a * D;
      for (let b = a; b < D; b++) S[base + b]! += xa * row[b]!;
    }
  }
  for (let a = 0; a < D; a++) {
    for (let b = a; b < D; b++) {
      const c = S[a * D + b]! / n - rest[a]! * rest[b]!;
      S[a * D + b] = c;
      S[b * D + a] = c;
    }
  }
  return S;
}

/** log-likelihood per sample at the ML solution: −½ [D log 2π + Σ_{j≤d} log λ_j + (D−d) log σ² + D]. */
export function mlLogLik(eigenvalues: Float64Array, D: number, d: number, sigma2: number): number {
  let logDet = (D - d) * Math.log(sigma2);
  for (let j = 0; j < d; j++) logDet += Math.log(Math.max(eigenvalues[j]!, sigma2));
  return -0.5 * (D * LOG_2PI + logDet + D);
}

export function closedFormPpca(data: { name?: string; host: Float32Array; n: number; D: number }, d: number): ClosedFormPpca {
  const { D } = data;
  checkShape('ppca closed form', D, d);
  const { mu, variance } = columnStats(data);
  const S = sampleCovariance(data, mu, variance);
  const rows = Array.from({ length: D }, (_, a) => Array.from(S.subarray(a * D, (a + 1) * D)));
  const evd = new EigenvalueDecomposition(new Matrix(rows), { assumeSymmetric: true });
  const values = evd.realEigenvalues;
  const U = evd.eigenvectorMatrix;
  const order = values.map((_, i) => i).sort((i, j) => values[j]! - values[i]!);
  const eigenvalues = Float64Array.from(order, (i) => Math.max(0, values[i]!));
  let tail = 0;
  for (let j = d; j < D; j++) tail += eigenvalues[j]!;
  const sigma2 = tail / (D - d);
  if (!(sigma2 > 0)) throw new Error(`ppca closed form: ${data.name ?? 'data'} lie in a ${d}-dimensional subspace (σ² = 0); use a smaller d`);
  const W = new Float32Array(D * d);
  for (let j = 0; j < d; j++) {
    const s = Math.sqrt(Math.max(0, eigenvalues[j]! - sigma2));
    const col = order[j]!;
    for (let a = 0; a < D; a++) W[a * d + j] = U.get(a, col) * s;
  }
  return { D, d, W, mu: Float32Array.from(mu), sigma2, eigenvalues, loglik: mlLogLik(eigenvalues, D, d, sigma2) };
}
