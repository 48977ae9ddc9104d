// A float64 reference for mixtures of PPCA, written from the textbook formulas and
// independent of the engine's shortcuts: each component's D×D covariance
// C_k = W_kW_kᵀ + σ_k²I is formed and factored (ml-matrix Cholesky), S_k is formed
// explicitly, and the M-step is Tipping & Bishop's (1999) eqs. as written:
// W' = S W (σ²I + M⁻¹WᵀSW)⁻¹, σ²' = tr(S − S W M⁻¹ W'ᵀ)/D. O(n·D²) per component:
// for tests on small D.
import { CholeskyDecomposition, Matrix, inverse } from 'ml-matrix';
import type { HostData } from '../ppca/model.ts';
import { componentW, type MppcaHost } from './mppca.ts';

const LOG_2PI = Math.log(2 * Math.PI);

/** log(π_k N(x_i | μ_k, C_k)) for every row and component (n×K), dense float64. */
export function referenceLogDensities(h: MppcaHost, x: HostData): Float64Array {
  const { K, D, d } = h;
  const out = new Float64Array(x.n * K);
  for (let k = 0; k < K; k++) {
    const W = componentW(h, k);
    const C = Matrix.zeros(D, D);
    for (let a = 0; a < D; a++) {
      for (let b = 0; b < D; b++) {
        let s = a === b ? h.sigma2[k]! : 0;
        for (let j = 0; j < d; j++) s += W[a * d + j]! * W[b * d + j]!;
        C.set(a, b, s);
      }
    }
    const chol = new CholeskyDecomposition(C);
    const L = chol.lowerTriangularMatrix;
    let logDet = 0;
    for (let a = 0; a < D; a++) logDet += 2 * Math.log(L.get(a, a));
    const R = new Matrix(D, x.n);
    for (let i = 0; i < x.n; i++) for (let a = 0; a < D; a++) R.set(a, i, x.host[i * D + a]! - h.mu[k * D + a]!);
    const sol = chol.solve(R);
    for (let i = 0; i < x.n; i++) {
      let quad = 0;
      for (let a = 0; a < D; a++) quad += R.get(a, i) * sol.get(a, i);
      out[i * K + k] = Math.log(h.pi[k]!) - 0.5 * (D * LOG_2PI + logDet + quad);
    }
  }
  return out;
}

/** log Σ_k exp(logp_ik) per row (n rows of K), and logp overwritten with the responsibilities. */
function logSumExpRows(logp: Float64Array, n: number, K: number): Float64Array {
  const rows = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    let m = -Infinity;
    for (let k = 0; k < K; k++) m = Math.max(m, logp[i * K + k]!);
    let s = 0;
    for (let k = 0; k < K; k++) s += Math.exp(logp[i * K + k]! - m);
    rows[i] = m + Math.log(s);
    for (let k = 0; k < K; k++) logp[i * K + k] = Math.exp(logp[i * K + k]! - rows[i]!);
  }
  return rows;
}

/** log p(x_i) per row and the responsibilities (n×K), float64. */
export function referenceEStep(h: MppcaHost, x: HostData): { rows: Float64Array; loglik: number; resp: Float64Array } {
  const resp = referenceLogDensities(h, x);
  const rows = logSumExpRows(resp, x.n, h.K);
  return { rows, loglik: rows.reduce((s, v) => s + v, 0) / x.n, resp };
}

/**
 * One EM map from h: the log-likelihood of h and the next parameters (σ² floored at
 * `sigma2Floor`; components with under d + 1 rows of responsibility dropped).
 */
export function referenceMap(h: MppcaHost, x: HostData, sigma2Floor: number): { loglik: number; next: MppcaHost; kept: number[] } {
  const { K, D, d } = h;
  const { n } = x;
  const e = referenceEStep(h, x);
  const N = new Float64Array(K);
  for (let i = 0; i < n; i++) for (let k = 0; k < K; k++) N[k]! += e.resp[i * K + k]!;
  const kept: number[] = [];
  for (let k = 0; k < K; k++) if (N[k]! >= d + 1) kept.push(k);
  let Nkept = 0;
  for (const k of kept) Nkept += N[k]!;
  const K2 = kept.length;
  const next: MppcaHost = { K: K2, D, d, pi: new Float64Array(K2), mu: new Float64Array(K2 * D), W: new Float64Array(K2 * D * d), sigma2: new Float64Array(K2) };
  kept.forEach((k, o) => {
    const Nk = N[k]!;
    const mu = new Float64Array(D);
    for (let i = 0; i < n; i++) for (let a = 0; a < D; a++) mu[a]! += e.resp[i * K + k]! * x.host[i * D + a]!;
    for (let a = 0; a < D; a++) mu[a]! /= Nk;
    const S = Matrix.zeros(D, D);
    const r = new Float64Array(D);
    for (let i = 0; i < n; i++) {
      const w = e.resp[i * K + k]! / Nk;
      for (let a = 0; a < D; a++) r[a] = x.host[i * D + a]! - mu[a]!;
      for (let a = 0; a < D; a++) for (let b = 0; b < D; b++) S.set(a, b, S.get(a, b) + w * r[a]! * r[b]!);
    }
    const W = new Matrix(D, d);
    const Wk = componentW(h, k);
    for (let a = 0; a < D; a++) for (let j = 0; j < d; j++) W.set(a, j, Wk[a * d + j]!);
    const s2 = h.sigma2[k]!;
    const M = W.transpose().mmul(W).add(Matrix.eye(d, d).mul(s2));
    const Minv = inverse(M);
    const SW = S.mmul(W);
    const Wn = SW.mmul(inverse(Matrix.eye(d, d).mul(s2).add(Minv.mmul(W.transpose()).mmul(SW))));
    const sig = S.sub(SW.mmul(Minv).mmul(Wn.transpose())).trace() / D;
    next.sigma2[o] = Math.max(sig, sigma2Floor);
    next.pi[o] = Nk / Nkept;
    next.mu.set(mu, o * D);
    for (let a = 0; a < D; a++) for (let j = 0; j < d; j++) next.W[(o * D + a) * d + j] = Wn.get(a, j);
  });
  return { loglik: e.loglik, next, kept };
}

/**
 * log p(x_i) per row in float64 through each component's d×d matrix M_k (§1.1's
 * O(D·d) density, every product in float64): the reference for large D, where the
 * dense form's D×D factorisations are too slow.
 */
export function referenceLogLikRowsLowRank(h: MppcaHost, x: HostData): Float64Array {
  const { K, D, d } = h;
  const logp = new Float64Array(x.n * K);
  const r = new Float64Array(D);
  const y = new Float64Array(d);
  for (let k = 0; k < K; k++) {
    const W = componentW(h, k);
    const Wm = new Matrix(D, d);
    for (let a = 0; a < D; a++) for (let j = 0; j < d; j++) Wm.set(a, j, W[a * d + j]!);
    const M = Wm.transpose().mmul(Wm).add(Matrix.eye(d, d).mul(h.sigma2[k]!));
    const chol = new CholeskyDecomposition(M);
    let logDet = 0;
    for (let j = 0; j < d; j++) logDet += 2 * Math.log(chol.lowerTriangularMatrix.get(j, j));
    const Minv = inverse(M);
    const c = Math.log(h.pi[k]!) - 0.5 * (D * LOG_2PI + (D - d) * Math.log(h.sigma2[k]!) + logDet);
    for (let i = 0; i < x.n; i++) {
      let q = 0;
      for (let a = 0; a < D; a++) {
        r[a] = x.host[i * D + a]! - h.mu[k * D + a]!;
        q += r[a]! * r[a]!;
      }
      y.fill(0);
      for (let a = 0; a < D; a++) for (let j = 0; j < d; j++) y[j]! += W[a * d + j]! * r[a]!;
      let e = 0;
      for (let j = 0; j < d; j++) for (let l = 0; l < d; l++) e += y[j]! * Minv.get(j, l) * y[l]!;
      logp[i * K + k] = c - (0.5 * (q - e)) / h.sigma2[k]!;
    }
  }
  return logSumExpRows(logp, x.n, K);
}
