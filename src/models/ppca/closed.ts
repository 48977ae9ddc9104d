// Closed-form maximum-likelihood PPCA (Tipping & Bishop 1999; DESIGN.md §1.1):
// the sample covariance S on the host in float64, its top d eigenpairs (eigs.ts:
// filtered subspace iteration, or the full ml-matrix eigendecomposition as the
// reference), σ² = mean of the D−d smallest eigenvalues = (tr S − Σ top d)/(D−d),
// W = U_d (Λ_d − σ²I)^½. It is `--method closed` and the reference the EM
// methods must reach; it forms the D×D matrix, which only this code does.
import { fullEigenpairs, topEigenpairs } from './eigs.ts';
import { LOG_2PI, checkShape, type PpcaHost } from './model.ts';
import { columnStats } from './scale.ts';

export interface ClosedFormPpca extends PpcaHost {
  /** the d largest eigenvalues of the sample covariance, largest first */
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
  // each row's nonzero entries (ascending), so a row with m nonzeros costs m²/2, not m·D/2
  const idx = new Int32Array(D);
  const val = new Float64Array(D);
  for (let i = 0; i < n; i++) {
    let m = 0;
    for (let j = 0; j < D; j++) {
      const x = host[i * D + j]! - shift[j]!;
      if (x !== 0) {
        idx[m] = j;
        val[m++] = x;
      }
    }
    for (let p = 0; p < m; p++) {
      const xa = val[p]!;
      const base = idx[p]! * D;
      for (let q = p; q < m; q++) S[base + idx[q]!]! += xa * val[q]!;
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

/** How closedFormPpca finds the top d eigenpairs: Chebyshev-filtered subspace iteration (default) or the full eigendecomposition (the reference). */
export type ClosedFormSolver = 'fast' | 'full';

/**
 * The maximum-likelihood PPCA. S is formed on the host in float64 (sparse rows
 * cost m² for m nonzeros); its columns of zero variance, exact zeros of S, are
 * dropped; the top d eigenpairs come from `topEigenpairs` (eigs.ts), which
 * stops on a stated residual test and falls back to the full decomposition, so
 * the result equals the full float64 eigendecomposition to ~1e-8 nats; σ² = (tr S − Σ_{j≤d} λ_j)/(D − d).
 */
export function closedFormPpca(data: { name?: string; host: Float32Array; n: number; D: number }, d: number, solver: ClosedFormSolver = 'fast'): ClosedFormPpca {
  const { D } = data;
  checkShape('ppca closed form', D, d);
  const { mu, variance } = columnStats(data);
  const S = sampleCovariance(data, mu, variance);
  let trace = 0;
  for (let a = 0; a < D; a++) trace += S[a * D + a]!;
  // the columns that vary; the others are rows and columns of zeros in S (eigenvalue 0)
  const live = Int32Array.from({ length: D }, (_, a) => a).filter((a) => S[a * D + a]! > 0);
  const L = live.length;
  const Sl = new Float64Array(L * L);
  for (let p = 0; p < L; p++) for (let q = 0; q < L; q++) Sl[p * L + q] = S[live[p]! * D + live[q]!]!;
  const flat = () => new Error(`ppca closed form: ${data.name ?? 'data'} lie in a ${d}-dimensional subspace (σ² = 0); use a smaller d`);
  // no more varying columns than d: the data lie in a d-dimensional subspace
  if (d >= L) throw flat();
  let values: Float64Array;
  let vectors: Float64Array;
  if (solver === 'full') {
    const full = fullEigenpairs(Sl, L);
    values = full.values.slice(0, d);
    vectors = new Float64Array(L * d);
    for (let j = 0; j < d; j++) for (let a = 0; a < L; a++) vectors[a * d + j] = full.vectors[j * L + a]!;
  } else {
    ({ values, vectors } = topEigenpairs(Sl, L, d, { tailDim: D }));
  }
  const eigenvalues = Float64Array.from(values, (v) => Math.max(0, v));
  let top = 0;
  for (let j = 0; j < d; j++) top += eigenvalues[j]!;
  // tr S − Σ top d: the tail's sum without its eigenvalues (clamped: rounding can leave −ε)
  const sigma2 = Math.max(0, trace - top) / (D - d);
  if (!(sigma2 > 1e-15 * (trace / D))) throw flat();
  const W = new Float32Array(D * d);
  for (let j = 0; j < d; j++) {
    const s = Math.sqrt(Math.max(0, eigenvalues[j]! - sigma2));
    for (let p = 0; p < L; p++) W[live[p]! * d + j] = vectors[p * d + j]! * s;
  }
  return { D, d, W, mu: Float32Array.from(mu), sigma2, eigenvalues, loglik: mlLogLik(eigenvalues, D, d, sigma2) };
}
