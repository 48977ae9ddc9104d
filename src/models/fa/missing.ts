// Factor analysis with missing values (DESIGN.md §1.7): NaN marks a missing
// entry; exact EM over the observed entries, in float64 on the host — the PPCA
// scheme (ppca/missing.ts) with ψ_j in place of σ². Per row i observing O_i:
//   M_i = I + W_OᵀΨ_O⁻¹W_O,  y_i = W_OᵀΨ_O⁻¹(x_O − μ_O),  E_i = M_i⁻¹y_i,  Cov z = M_i⁻¹
//   log p(x_O) = −½[|O| log 2π + Σ_O log ψ_j + log|M_i| + Σ_O r_j²/ψ_j − y_iᵀM_i⁻¹y_i]
// (Woodbury and the determinant lemma on the observed block). M_i is formed as
// the full Σ_j w_j w_jᵀ/ψ_j less the missing columns' terms, so a row costs
// O(|missing|·d² + |O|·d + d³). M-step per column j over the rows R_j observing
// it, with z̃ = [z; 1] and T_i = ⟨z̃z̃ᵀ⟩_i (likewise the sum over all rows less
// the rows missing j): [W_j, μ_j] = A_j⁻¹ b_j, A_j = Σ_{R_j} T_i, b_j = Σ_{R_j} x_ij⟨z̃⟩_i,
// ψ_j = max((Σ_{R_j} x_ij² − [W_j, μ_j]·b_j)/|R_j|, floor_j), the floor of fa.ts
// (psiFloor) on the observed variances. The data are centred on the observed
// column means first (float64), so the last difference does not cancel.
// Host only: the per-row d×d systems differ row by row.
import { KernelError, need } from '../../backend.ts';
import { checkMissing, observedMeans, type MissingData } from '../ppca/missing.ts';
import { factorSpd } from '../ppca/linalg.ts';
import { LOG_2PI, checkShape } from '../ppca/model.ts';
import { mean } from '../ppca/loglik.ts';
import { FA_DEFAULTS, checkFa, initialFa, psiFloor, type FaHost } from './fa.ts';

export type { MissingData } from '../ppca/missing.ts';

/** Options of fitFaMissing. */
export interface FaMissingOptions {
  /** most EM iterations (default FA_DEFAULTS.iters) */
  iters?: number;
  /** stop when the observed-data log-likelihood per row changes less than this (default FA_DEFAULTS.tol) */
  tol?: number;
  seed?: number;
  /** fitFaMissingOn: rows per device block (default: one storage binding's worth; LATENTGPU_CHUNK_ROWS forces one) */
  chunkRows?: number;
  /** starting parameters (default: initialFa on the observed means and variances) */
  init?: FaHost;
  /** each E-step: the iteration and the observed-data log-likelihood per row of the parameters it starts from */
  onIteration?: (iter: number, loglik: number) => void;
}

/** A factor-analysis fit over the observed entries. */
export interface FaMissingResult {
  model: FaHost;
  /** observed-data log-likelihood per row of the returned model */
  loglik: number;
  /** log-likelihood per row before each iteration, then of the result */
  curve: number[];
  iterations: number;
  converged: boolean;
  observed: number;
  /** columns whose ψ ended at the floor */
  heywood: number[];
  seconds: number;
}

/** Observed variances per column around the observed means (float64). */
function observedVariances(data: MissingData, mu: Float64Array): Float64Array {
  const { x, n, D } = data;
  const s = new Float64Array(D);
  const c = new Float64Array(D);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < D; j++) {
      const v = x[i * D + j]!;
      if (Number.isNaN(v)) continue;
      s[j]! += (v - mu[j]!) ** 2;
      c[j]!++;
    }
  }
  return s.map((v, j) => v / c[j]!);
}

/**
 * One row's posterior and log p(x_O) from M − I (lower triangle in M, overwritten),
 * y = W_OᵀΨ_O⁻¹r, |O|, Σ_O r_j²/ψ_j and Σ_O log ψ_j: E_i into E, M_i⁻¹ into cov (when given).
 */
export function finishRow(M: Float64Array, y: ArrayLike<number>, d: number, obs: number, quad: number, sumLog: number, E: Float64Array, cov: Float64Array | null, i: number): number {
  for (let a = 0; a < d; a++) {
    M[a * d + a]! += 1;
    for (let b = 0; b < a; b++) M[b * d + a] = M[a * d + b]!;
  }
  const f = factorSpd(M, d, 'fa missing: M_i');
  let explained = 0;
  for (let a = 0; a < d; a++) {
    let s = 0;
    for (let b = 0; b < d; b++) s += f.inverse[a * d + b]! * y[b]!;
    E[i * d + a] = s;
    explained += s * y[a]!;
  }
  if (cov) cov.set(f.inverse, i * d * d);
  return -0.5 * (obs * LOG_2PI + sumLog + f.logDet + quad - explained);
}

/**
 * The M-step's per-column solves: `fillA(j, A)` writes column j's Σ_{i∋j} ⟨z̃z̃ᵀ⟩_i ((d+1)², full),
 * bj its Σ_{i∋j} x_ij⟨z̃_i⟩, sxx its Σ_{i∋j} x_ij² (data centred on the observed means).
 */
export function solveColumns(fillA: (j: number, A: Float64Array) => void, bj: ArrayLike<number>, sxx: Float64Array, colObserved: ArrayLike<number>, floor: Float64Array, d: number): { W: Float64Array; mu: Float64Array; psi: Float64Array } {
  const D = sxx.length;
  const k = d + 1;
  const W = new Float64Array(D * d);
  const mu = new Float64Array(D);
  const psi = new Float64Array(D);
  const A = new Float64Array(k * k);
  for (let j = 0; j < D; j++) {
    fillA(j, A);
    const inv = factorSpd(A, k, `fa missing: column ${j + 1}'s ⟨z̃z̃ᵀ⟩`).inverse;
    let fit = 0;
    for (let a = 0; a < k; a++) {
      let s = 0;
      for (let b = 0; b < k; b++) s += inv[a * k + b]! * bj[j * k + b]!;
      if (a < d) W[j * d + a] = s;
      else mu[j] = s;
      fit += s * bj[j * k + a]!;
    }
    psi[j] = Math.max((sxx[j]! - fit) / colObserved[j]!, floor[j]!);
  }
  return { W, mu, psi };
}

/** Per-row posterior of z given the observed entries, and the observed-data log p of each row. */
interface RowPosterior {
  /** E_i, n×d */
  E: Float64Array;
  /** M_i⁻¹, n×d×d */
  cov: Float64Array;
  logp: Float64Array;
}

/** The E-step: posterior means and covariances of every row, and log p(x_O) per row. */
function posterior(h: FaHost, data: { name?: string; x: ArrayLike<number>; n: number; D: number }, keepCov: boolean): RowPosterior {
  const { D, d } = h;
  const { x, n } = data;
  checkFa(h, 'fa missing');
  if (data.D !== D) throw new KernelError('fa missing', `${data.name ?? 'data'} has ${data.D} columns, the model D=${D}`);
  // full Σ_j w_j w_jᵀ/ψ_j and B = Ψ⁻¹W
  const full = new Float64Array(d * d);
  const B = new Float64Array(D * d);
  for (let j = 0; j < D; j++) {
    for (let a = 0; a < d; a++) B[j * d + a] = h.W[j * d + a]! / h.psi[j]!;
    for (let a = 0; a < d; a++) for (let b = 0; b <= a; b++) full[a * d + b]! += h.W[j * d + a]! * B[j * d + b]!;
  }
  const logPsi = h.psi.map(Math.log);
  const E = new Float64Array(n * d);
  const cov = keepCov ? new Float64Array(n * d * d) : new Float64Array(0);
  const logp = new Float64Array(n);
  const M = new Float64Array(d * d);
  const y = new Float64Array(d);
  for (let i = 0; i < n; i++) {
    M.set(full);
    y.fill(0);
    let obs = 0;
    let quad = 0;
    let sumLog = 0;
    for (let j = 0; j < D; j++) {
      const v = x[i * D + j]!;
      if (Number.isNaN(v)) {
        for (let a = 0; a < d; a++) for (let b = 0; b <= a; b++) M[a * d + b]! -= h.W[j * d + a]! * B[j * d + b]!;
        continue;
      }
      const r = v - h.mu[j]!;
      obs++;
      quad += (r * r) / h.psi[j]!;
      sumLog += logPsi[j]!;
      for (let a = 0; a < d; a++) y[a]! += B[j * d + a]! * r;
    }
    logp[i] = finishRow(M, y, d, obs, quad, sumLog, E, keepCov ? cov : null, i);
  }
  return { E, cov, logp };
}

/** Observed-data log p(x_O) of every row (float64; a row with no observed entry gets 0). */
export function faMissingLogLikRows(h: FaHost, data: MissingData): Float64Array {
  return posterior(h, data, false).logp;
}

/** Mean observed-data log-likelihood per row (nats). */
export function faMissingMeanLogLik(h: FaHost, data: MissingData): number {
  return mean(faMissingLogLikRows(h, data));
}

/** The data with every missing entry replaced by its posterior mean W_j E_i + μ_j (observed entries unchanged). */
export function faImpute(h: FaHost, data: MissingData): Float32Array {
  const { D, d } = h;
  const { x, n } = data;
  const { E } = posterior(h, data, false);
  const out = Float32Array.from(x);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < D; j++) {
      if (!Number.isNaN(x[i * D + j]!)) continue;
      let s = h.mu[j]!;
      for (let a = 0; a < d; a++) s += h.W[j * d + a]! * E[i * d + a]!;
      out[i * D + j] = s;
    }
  }
  return out;
}

/** What a missing-value fit checks and prepares: the data centred on the observed means (float64, NaN kept), the ψ floor, the start (centred μ), Σ_{i∋j} x_ij² and the counts. */
export function missingSetup(data: MissingData, d: number, opts: FaMissingOptions, kernel: string) {
  const { n, D, x } = data;
  checkShape(kernel, D, d);
  const iters = opts.iters ?? FA_DEFAULTS.iters;
  const tol = opts.tol ?? FA_DEFAULTS.tol;
  need(Number.isInteger(iters) && iters >= 1, kernel, `iters must be a positive integer, got ${iters}`);
  need(tol > 0, kernel, `tol must be positive, got ${tol}`);
  const { observed, colObserved } = checkMissing(data);
  const means = observedMeans(data);
  const xc = Float64Array.from(x, (v, k) => v - means[k % D]!);
  const variance = observedVariances(data, means);
  const varying = variance.filter((v) => v > 0).length;
  need(varying > d, kernel, `${data.name ?? 'data'}: only ${varying} of ${D} columns vary over their observed entries, fewer than d + 1 = ${d + 1}; use a smaller latent dimension`);
  const floor = psiFloor(variance);
  const init = opts.init ?? initialFa(variance, means, d, opts.seed ?? 0);
  if (init.D !== D || init.d !== d) throw new KernelError(kernel, `initial model is ${init.D}×${init.d}, data need ${D}×${d}`);
  checkFa(init, kernel);
  const start: FaHost = { D, d, W: Float64Array.from(init.W), mu: init.mu.map((m, j) => m - means[j]!), psi: init.psi.map((p, j) => Math.max(p, floor[j]!)) };
  const sxx = new Float64Array(D);
  for (let i = 0; i < n; i++) for (let j = 0; j < D; j++) if (!Number.isNaN(xc[i * D + j]!)) sxx[j]! += xc[i * D + j]! ** 2;
  return { iters, tol, observed, colObserved, means, xc, floor, start, sxx };
}

/** Fits factor analysis by exact EM over the observed entries (host, float64). */
export function fitFaMissing(data: MissingData, d: number, opts: FaMissingOptions = {}): FaMissingResult {
  const kernel = 'fa missing';
  const { n, D } = data;
  const t0 = performance.now();
  const { iters, tol, observed, colObserved, means, xc, floor, start, sxx } = missingSetup(data, d, opts, kernel);
  const centred = { name: data.name ?? 'data', x: xc, n, D };
  let h: FaHost = start;
  const k = d + 1;
  const curve: number[] = [];
  let prev = -Infinity;
  let converged = false;
  let it = 0;
  const T = new Float64Array(k * k);
  for (; it < iters; it++) {
    const post = posterior(h, centred, true);
    let ll = 0;
    for (const v of post.logp) ll += v;
    ll /= n;
    if (!Number.isFinite(ll)) throw new KernelError(kernel, `the log-likelihood became ${ll} at iteration ${it}`);
    curve.push(ll);
    opts.onIteration?.(it, ll);
    if (Math.abs(ll - prev) < tol) {
      converged = true;
      break;
    }
    prev = ll;
    // A_j = Σ_all T_i − Σ_{i missing j} T_i (lower triangles), b_j = Σ_{i observing j} x_ij ⟨z̃⟩_i
    const Aall = new Float64Array(k * k);
    const Amiss = new Float64Array(D * k * k);
    const bj = new Float64Array(D * k);
    for (let i = 0; i < n; i++) {
      const e = post.E.subarray(i * d, i * d + d);
      const c = post.cov.subarray(i * d * d, (i + 1) * d * d);
      for (let a = 0; a < d; a++) {
        for (let b = 0; b <= a; b++) T[a * k + b] = c[a * d + b]! + e[a]! * e[b]!;
        T[d * k + a] = e[a]!;
      }
      T[d * k + d] = 1;
      for (let a = 0; a < k; a++) for (let b = 0; b <= a; b++) Aall[a * k + b]! += T[a * k + b]!;
      for (let j = 0; j < D; j++) {
        const v = xc[i * D + j]!;
        if (Number.isNaN(v)) {
          const o = j * k * k;
          for (let a = 0; a < k; a++) for (let b = 0; b <= a; b++) Amiss[o + a * k + b]! += T[a * k + b]!;
          continue;
        }
        for (let a = 0; a < d; a++) bj[j * k + a]! += v * e[a]!;
        bj[j * k + d]! += v;
      }
    }
    const { W, mu, psi } = solveColumns((j, A) => {
      for (let a = 0; a < k; a++) {
        for (let b = 0; b <= a; b++) A[a * k + b] = A[b * k + a] = Aall[a * k + b]! - Amiss[j * k * k + a * k + b]!;
      }
    }, bj, sxx, colObserved, floor, d);
    h = { D, d, W, mu, psi };
  }
  const model: FaHost = { D, d, W: h.W, mu: h.mu.map((m, j) => m + means[j]!), psi: h.psi };
  const heywood: number[] = [];
  for (let j = 0; j < D; j++) if (h.psi[j]! <= floor[j]! * (1 + 1e-12)) heywood.push(j);
  const loglik = converged ? curve.at(-1)! : faMissingMeanLogLik(model, data);
  if (!converged) curve.push(loglik);
  return { model, loglik, curve, iterations: it, converged, observed, heywood, seconds: (performance.now() - t0) / 1000 };
}
