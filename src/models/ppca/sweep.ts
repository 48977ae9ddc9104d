// Choosing d for PPCA (DESIGN.md §1.7, "Choosing d"): the spectrum of the training
// covariance gives the ML solution for every d at once (σ²_d = mean of the
// discarded eigenvalues), so each d's train log-likelihood, BIC, Minka's Laplace
// evidence and held-out log-likelihood cost O(D) to O(n_test·d) after it. The
// spectrum comes without vectors (eigs.ts symmetricEigenvalues), the top dMax
// eigenvectors from the filtered subspace iteration; one full decomposition
// only where the range reaches past half the columns.
import { blockWidth, fullEigenpairs, symmetricEigenvalues, topEigenpairs } from './eigs.ts';
import { sampleCovariance, mlLogLik } from './closed.ts';
import { LOG_2PI, type HostData } from './model.ts';
import { columnStats } from './scale.ts';

export interface SweepRow {
  d: number;
  /** σ²_d: the mean of the D − d discarded eigenvalues */
  sigma2: number;
  /** maximum mean log-likelihood per training sample (nats) */
  train_loglik: number;
  /** mean log-likelihood per test sample of the ML model at this d (nats) */
  test_loglik: number;
  /** free parameters: D d − d(d−1)/2 + D + 1 */
  params: number;
  /** −2 ℓ + p log n, ℓ the total training log-likelihood (lower is better) */
  bic: number;
  /** Minka's (2000) Laplace approximation to log p(X | d) (higher is better) */
  minka: number;
}

export interface PpcaSweep {
  D: number;
  n_train: number;
  n_test: number;
  /** every eigenvalue of the training covariance (1/n normalisation), largest first */
  eigenvalues: Float64Array;
  rows: SweepRow[];
  chosen: { test_loglik: number; bic: number; minka: number };
}

/** PPCA's free parameters at latent dimension d (W up to rotation, μ, σ²). */
export function ppcaParams(D: number, d: number): number {
  return D * d - (d * (d - 1)) / 2 + D + 1;
}

/** log Γ(m/2) for m = 0..M (entry 0 unused), exactly by Γ(x + 1) = x Γ(x) from Γ(½) = √π and Γ(1) = 1. */
function halfLogGammas(M: number): Float64Array {
  const lg = new Float64Array(M + 1);
  lg[0] = Infinity;
  if (M >= 1) lg[1] = 0.5 * Math.log(Math.PI);
  if (M >= 2) lg[2] = 0;
  for (let m = 3; m <= M; m++) lg[m] = lg[m - 2]! + Math.log((m - 2) / 2);
  return lg;
}

/**
 * Minka's Laplace approximation to log p(X | k) (Minka, "Automatic choice of
 * dimensionality for PCA", NIPS 2000, eq. 30), term for term as scikit-learn's
 * `_assess_dimension`: `spectrum` holds all D eigenvalues of the sample
 * covariance, largest first; n the number of samples.
 */
export function minkaLogEvidence(spectrum: Float64Array, k: number, n: number, lg: Float64Array = halfLogGammas(spectrum.length)): number {
  const D = spectrum.length;
  if (!(k >= 1 && k < D)) throw new Error(`minka: k = ${k} must lie in 1..${D - 1}`);
  if (!(spectrum[k - 1]! > 1e-15 * spectrum[0]!)) return -Infinity;
  // log p(U): the uniform prior over the Stiefel manifold's volume
  let pu = -k * Math.LN2;
  for (let i = 1; i <= k; i++) pu += lg[D - i + 1]! - (Math.log(Math.PI) * (D - i + 1)) / 2;
  let pl = 0;
  for (let i = 0; i < k; i++) pl += Math.log(spectrum[i]!);
  pl *= -n / 2;
  let tail = 0;
  for (let j = k; j < D; j++) tail += spectrum[j]!;
  const v = Math.max(Number.EPSILON, tail / (D - k));
  const pv = (-Math.log(v) * n * (D - k)) / 2;
  const m = D * k - (k * (k + 1)) / 2;
  const pp = (Math.log(2 * Math.PI) * (m + k)) / 2;
  // log |A_Z|: the Hessian's determinant; λ̂_j = v beyond k
  let pa = 0;
  const logN = Math.log(n);
  for (let i = 0; i < k; i++) {
    const li = spectrum[i]!;
    for (let j = i + 1; j < D; j++) {
      const hj = j < k ? spectrum[j]! : v;
      pa += Math.log((li - spectrum[j]!) * (1 / hj - 1 / li)) + logN;
    }
  }
  return pu + pl + pv + pp - pa / 2 - (k * logN) / 2;
}

/** The index of the best value (first on ties); NaN never wins. */
function best(rows: SweepRow[], key: 'test_loglik' | 'bic' | 'minka', sign: 1 | -1): number {
  let at = rows[0]!.d;
  let top = -Infinity;
  for (const r of rows) {
    const v = sign * r[key];
    if (v > top) {
      top = v;
      at = r.d;
    }
  }
  return at;
}

/**
 * The PPCA sweep over d = dMin..dMax: train ℓ_d = −½[D log 2π + Σ_{j≤d} log λ_j
 * + (D−d) log σ²_d + D], BIC, Minka's evidence, and the held-out ℓ of
 * C_d = U_d Λ_d U_dᵀ + σ²_d (I − U_d U_dᵀ), which is W_d W_dᵀ + σ²_d I for
 * W_d = U_d(Λ_d − σ²_d I)^½; a test row's x̃ᵀC_d⁻¹x̃ = (‖x̃‖² − Σ_{j≤d} p_j²)/σ²_d
 * + Σ_{j≤d} p_j²/λ_j with p = U_{dMax}ᵀ x̃, so the projections are made once.
 */
export function ppcaSweep(train: HostData & { name?: string }, test: HostData, dMin: number, dMax: number): PpcaSweep {
  const { D, n } = train;
  if (test.D !== D) throw new Error(`sweep: the test data have ${test.D} columns, the training data ${D}`);
  if (!(test.n >= 1)) throw new Error('sweep: the test split has no rows; the held-out log-likelihood needs at least one');
  if (!(Number.isInteger(dMin) && Number.isInteger(dMax) && dMin >= 1 && dMin <= dMax)) throw new Error(`sweep: the range ${dMin}..${dMax} is not 1 ≤ first ≤ last`);
  const { mu, variance } = columnStats(train);
  const S = sampleCovariance(train, mu, variance);
  // columns of zero variance are zero rows and columns of S: eigenvalue 0, dropped before the decomposition
  const live = Int32Array.from({ length: D }, (_, a) => a).filter((a) => S[a * D + a]! > 0);
  const L = live.length;
  if (dMax >= L) {
    throw new Error(`sweep: d = ${dMax} needs more than ${dMax} varying columns; ${train.name ?? 'the training data'} have ${L} (of ${D}); end the range below ${L}`);
  }
  const Sl = new Float64Array(L * L);
  for (let p = 0; p < L; p++) for (let q = 0; q < L; q++) Sl[p * L + q] = S[live[p]! * D + live[q]!]!;
  // every eigenvalue (Minka's evidence needs them all) and the top dMax eigenvectors, U[j·L + q] = (u_j)_q
  let values: Float64Array;
  let U: Float64Array;
  if (blockWidth(L, dMax) === 0) {
    ({ values, vectors: U } = fullEigenpairs(Sl, L));
  } else {
    values = symmetricEigenvalues(Sl, L);
    const top = topEigenpairs(Sl, L, dMax);
    U = new Float64Array(dMax * L);
    for (let j = 0; j < dMax; j++) for (let q = 0; q < L; q++) U[j * L + q] = top.vectors[q * dMax + j]!;
  }
  const spectrum = new Float64Array(D);
  for (let j = 0; j < L; j++) spectrum[j] = Math.max(0, values[j]!);
  let trace = 0;
  for (let a = 0; a < D; a++) trace += S[a * D + a]!;

  // test projections p_ij = u_jᵀ (x_i − μ) on the live columns, and ‖x_i − μ‖² on all of them
  const nt = test.n;
  const proj = new Float64Array(nt * dMax);
  const norm2 = new Float64Array(nt);
  const xc = new Float64Array(D);
  for (let i = 0; i < nt; i++) {
    let s = 0;
    for (let a = 0; a < D; a++) {
      xc[a] = test.host[i * D + a]! - mu[a]!;
      s += xc[a]! * xc[a]!;
    }
    norm2[i] = s;
    for (let j = 0; j < dMax; j++) {
      let p = 0;
      const base = j * L;
      for (let q = 0; q < L; q++) p += U[base + q]! * xc[live[q]!]!;
      proj[i * dMax + j] = p;
    }
  }

  const lg = halfLogGammas(D);
  const rows: SweepRow[] = [];
  let top = 0;
  let logTop = 0;
  for (let d = 1; d <= dMax; d++) {
    top += spectrum[d - 1]!;
    logTop += Math.log(spectrum[d - 1]!);
    if (d < dMin) continue;
    const sigma2 = Math.max(0, trace - top) / (D - d);
    if (!(sigma2 > 1e-15 * (trace / D))) {
      const what = `sweep: ${train.name ?? 'the training data'} lie in a ${d}-dimensional subspace (σ² ≈ 0 next to the total variance)`;
      throw new Error(d > 1 ? `${what}; end the range below ${d}` : `${what}; standardise the columns (one column's scale may dwarf the rest)`);
    }
    const trainLl = mlLogLik(spectrum, D, d, sigma2);
    const logDet = logTop + (D - d) * Math.log(sigma2);
    let sum = 0;
    for (let i = 0; i < nt; i++) {
      let inU = 0;
      let scaled = 0;
      for (let j = 0; j < d; j++) {
        const p = proj[i * dMax + j]!;
        inU += p * p;
        scaled += (p * p) / spectrum[j]!;
      }
      sum += -0.5 * (D * LOG_2PI + logDet + Math.max(0, norm2[i]! - inU) / sigma2 + scaled);
    }
    const params = ppcaParams(D, d);
    rows.push({
      d,
      sigma2,
      train_loglik: trainLl,
      test_loglik: sum / nt,
      params,
      bic: -2 * n * trainLl + params * Math.log(n),
      minka: minkaLogEvidence(spectrum, d, n, lg),
    });
  }
  return {
    D,
    n_train: n,
    n_test: nt,
    eigenvalues: spectrum,
    rows,
    chosen: { test_loglik: best(rows, 'test_loglik', 1), bic: best(rows, 'bic', -1), minka: best(rows, 'minka', 1) },
  };
}
