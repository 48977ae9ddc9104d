// PPCA with missing values (DESIGN.md §1.7; Ilin & Raiko, JMLR 2010): NaN marks
// a missing entry. Exact EM over the observed entries in float64 on the host:
// per row i observing O_i, M_i = W_OᵀW_O + σ²I, E_i = M_i⁻¹W_Oᵀ(x_O − μ_O),
// Σ_i = σ²M_i⁻¹; per dimension j, [W_j, μ_j] solves a (d+1)×(d+1) system over
// the rows observing j; σ² averages the expected squared residuals over the
// observed entries. O(Σ|O_i|·d²) per iteration. The backend (GPU) path is not
// built: this is host-only.
import { HostRng } from '../../train/rng.ts';
import { closedFormPpca } from './closed.ts';
import { cholesky, factorSpd } from './linalg.ts';
import { LOG_2PI, checkShape, type PpcaHost } from './model.ts';

/** Parameters the missing-data code reads (float32 model arrays or float64 working copies). */
export interface PpcaParams {
  D: number;
  d: number;
  W: ArrayLike<number>;
  mu: ArrayLike<number>;
  sigma2: number;
}

/** Data with NaN for a missing entry: n rows of D, row-major. */
export interface MissingData {
  name?: string;
  x: Float32Array;
  n: number;
  D: number;
}

export interface MissingFitOptions {
  /** most EM iterations (default 200) */
  iters?: number;
  /** stop when the observed-data log-likelihood per row changes less than this (nats; default 1e-5) */
  tol?: number;
  /** starting parameters; default: the closed form on the mean-imputed data (random W when that fails) */
  init?: PpcaParams;
  seed?: number;
  /** each E-step: the iteration and the log-likelihood per row of the parameters it starts from */
  onIteration?: (iter: number, loglik: number) => void;
}

export interface MissingFitResult extends PpcaHost {
  /** observed-data log-likelihood per row (nats) of the returned parameters (float32 as stored) */
  loglik: number;
  /** log-likelihood per row before each iteration, then of the result */
  curve: number[];
  iterations: number;
  converged: boolean;
  /** observed entries */
  observed: number;
}

/** Counts of the observed entries; throws when a column or the whole table has none. */
export function checkMissing(data: MissingData): { observed: number; colObserved: Int32Array } {
  const { x, n, D } = data;
  const colObserved = new Int32Array(D);
  let observed = 0;
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < D; j++) {
      const v = x[i * D + j]!;
      if (Number.isNaN(v)) continue;
      if (!Number.isFinite(v)) throw new Error(`${data.name ?? 'data'}: row ${i + 1}, column ${j + 1}: value ${v} is not finite (only NaN marks a missing entry)`);
      colObserved[j]!++;
      observed++;
    }
  }
  const empty = colObserved.findIndex((c) => c === 0);
  if (empty >= 0) throw new Error(`${data.name ?? 'data'}: column ${empty + 1} has no observed entries (all NaN); drop it before fitting`);
  return { observed, colObserved };
}

/** Column means over the observed entries (float64). */
export function observedMeans(data: MissingData): Float64Array {
  const { x, n, D } = data;
  const sum = new Float64Array(D);
  const count = new Float64Array(D);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < D; j++) {
      const v = x[i * D + j]!;
      if (!Number.isNaN(v)) { sum[j]! += v; count[j]!++; }
    }
  }
  return sum.map((s, j) => (count[j]! > 0 ? s / count[j]! : 0));
}

/** WᵀW (d×d, float64) of a D×d row-major W. */
function gram(W: ArrayLike<number>, D: number, d: number): Float64Array {
  const G = new Float64Array(d * d);
  for (let j = 0; j < D; j++) addOuter(G, W, j * d, d, 1);
  return mirrorUpper(G, d);
}

/** The upper triangle of G += sign · w wᵀ for the row w = W[off .. off+d) (symmetric: half the work; mirrorUpper completes it). */
function addOuter(G: Float64Array, W: ArrayLike<number>, off: number, d: number, sign: number): void {
  for (let a = 0; a < d; a++) {
    const wa = sign * W[off + a]!;
    if (wa === 0) continue;
    for (let b = a; b < d; b++) G[a * d + b]! += wa * W[off + b]!;
  }
}

/** Copies the upper triangle of a symmetric k×k matrix onto its lower one. */
function mirrorUpper(G: Float64Array, k: number): Float64Array {
  for (let a = 0; a < k; a++) for (let b = a + 1; b < k; b++) G[b * k + a] = G[a * k + b]!;
  return G;
}

/** The E-step of one row: its log-likelihood, posterior mean E and posterior covariance Σ (σ²M⁻¹). */
interface RowPosterior {
  ll: number;
  E: Float64Array;
  cov: Float64Array;
}

/**
 * Row i's posterior and exact observed-data log-likelihood through the Woodbury
 * form: log|C_O| = (|O|−d) log σ² + log|M|, rᵀC_O⁻¹r = (rᵀr − yᵀM⁻¹y)/σ², y = W_Oᵀr.
 * M is built from the observed rows of W, or from G = WᵀW minus the missing ones
 * when fewer are missing. A row with nothing observed has ll = 0 and the prior.
 */
function rowPosterior(p: PpcaParams, G: Float64Array, x: Float32Array, i: number): RowPosterior {
  const { D, d, W, mu, sigma2 } = p;
  let missing = 0;
  for (let j = 0; j < D; j++) if (Number.isNaN(x[i * D + j]!)) missing++;
  const o = D - missing;
  if (o === 0) {
    const cov = new Float64Array(d * d);
    for (let a = 0; a < d; a++) cov[a * d + a] = 1;
    return { ll: 0, E: new Float64Array(d), cov };
  }
  const M = missing * 2 < D ? G.slice() : new Float64Array(d * d);
  const y = new Float64Array(d);
  let rr = 0;
  for (let j = 0; j < D; j++) {
    const v = x[i * D + j]!;
    if (Number.isNaN(v)) {
      if (missing * 2 < D) addOuter(M, W, j * d, d, -1);
      continue;
    }
    if (missing * 2 >= D) addOuter(M, W, j * d, d, 1);
    const r = v - mu[j]!;
    rr += r * r;
    for (let a = 0; a < d; a++) y[a]! += W[j * d + a]! * r;
  }
  for (let a = 0; a < d; a++) M[a * d + a]! += sigma2;
  mirrorUpper(M, d);
  const f = factorSpd(M, d, 'ppca missing-data E-step');
  const E = new Float64Array(d);
  let yE = 0;
  for (let a = 0; a < d; a++) {
    let s = 0;
    for (let b = 0; b < d; b++) s += f.inverse[a * d + b]! * y[b]!;
    E[a] = s;
    yE += y[a]! * s;
  }
  const quad = Math.max(0, rr - yE) / sigma2;
  const ll = -0.5 * (o * LOG_2PI + (o - d) * Math.log(sigma2) + f.logDet + quad);
  return { ll, E, cov: f.inverse.map((v) => v * sigma2) };
}

/** Exact observed-data log-likelihood of each row (nats): x_O ~ N(μ_O, W_O W_Oᵀ + σ²I). */
export function missingLogLikRows(p: PpcaParams, data: MissingData): Float64Array {
  checkShape('ppca missing-data log-likelihood', p.D, p.d);
  if (data.D !== p.D) throw new Error(`${data.name ?? 'data'} has ${data.D} columns but the model has D = ${p.D}`);
  const G = gram(p.W, p.D, p.d);
  return Float64Array.from({ length: data.n }, (_, i) => rowPosterior(p, G, data.x, i).ll);
}

/** Mean observed-data log-likelihood per row (nats). */
export function missingMeanLogLik(p: PpcaParams, data: MissingData): number {
  const rows = missingLogLikRows(p, data);
  let s = 0;
  for (const v of rows) s += v;
  return s / data.n;
}

/** The data with each missing entry replaced by its posterior mean W_j E_i + μ_j (observed entries kept). */
export function imputeMissing(p: PpcaParams, data: MissingData): Float32Array {
  const { D, d, W, mu } = p;
  if (data.D !== D) throw new Error(`${data.name ?? 'data'} has ${data.D} columns but the model has D = ${D}`);
  const G = gram(W, D, d);
  const out = data.x.slice();
  for (let i = 0; i < data.n; i++) {
    let any = false;
    for (let j = 0; j < D && !any; j++) any = Number.isNaN(out[i * D + j]!);
    if (!any) continue;
    const { E } = rowPosterior(p, G, data.x, i);
    for (let j = 0; j < D; j++) {
      if (!Number.isNaN(out[i * D + j]!)) continue;
      let v = mu[j]!;
      for (let a = 0; a < d; a++) v += W[j * d + a]! * E[a]!;
      out[i * D + j] = v;
    }
  }
  return out;
}

/** Solves A x = b for symmetric positive-definite A (k×k) by Cholesky. */
export function solveSpd(A: Float64Array, b: Float64Array, k: number): Float64Array {
  const L = cholesky(A, k, 'ppca missing-data M-step');
  const z = new Float64Array(k);
  for (let i = 0; i < k; i++) {
    let s = b[i]!;
    for (let q = 0; q < i; q++) s -= L[i * k + q]! * z[q]!;
    z[i] = s / L[i * k + i]!;
  }
  for (let i = k - 1; i >= 0; i--) {
    let s = z[i]!;
    for (let q = i + 1; q < k; q++) s -= L[q * k + i]! * z[q]!;
    z[i] = s / L[i * k + i]!;
  }
  return z;
}

/**
 * Default start: the closed form of the mean-imputed data (by `closed`: on the host or
 * a backend), or a small random W when that is degenerate.
 */
export async function startFromMeans(data: MissingData, d: number, seed: number, closed: (filled: { name?: string; host: Float32Array; n: number; D: number }) => Promise<PpcaHost> | PpcaHost): Promise<PpcaParams> {
  const { x, n, D } = data;
  const mu = observedMeans(data);
  const filled = Float32Array.from(x, (v, k) => (Number.isNaN(v) ? mu[k % D]! : v));
  try {
    const c = await closed({ name: data.name, host: filled, n, D });
    return { D, d, W: Float64Array.from(c.W), mu, sigma2: c.sigma2 };
  } catch {
    return randomStart(filled, mu, n, D, d, seed);
  }
}

/** A small random W around the column means (the start when the closed form is degenerate). */
function randomStart(filled: Float32Array, mu: Float64Array, n: number, D: number, d: number, seed: number): PpcaParams {
  const rng = new HostRng(seed);
  let v = 0;
  for (let k = 0; k < filled.length; k++) v += (filled[k]! - mu[k % D]!) ** 2;
  const scale = Math.sqrt(v / (n * D)) || 1;
  return { D, d, W: Float64Array.from({ length: D * d }, () => 0.1 * scale * rng.normal()), mu, sigma2: scale * scale };
}

/** startFromMeans with the host closed form, synchronously. */
function initialParams(data: MissingData, d: number, seed: number): PpcaParams {
  const { x, n, D } = data;
  const mu = observedMeans(data);
  const filled = Float32Array.from(x, (v, k) => (Number.isNaN(v) ? mu[k % D]! : v));
  try {
    const c = closedFormPpca({ name: data.name, host: filled, n, D }, d);
    return { D, d, W: Float64Array.from(c.W), mu, sigma2: c.sigma2 };
  } catch {
    return randomStart(filled, mu, n, D, d, seed);
  }
}

/**
 * Fits PPCA to data with NaN entries by exact EM over the observed entries.
 * The observed-data log-likelihood never decreases (checked by the tests); with
 * nothing missing the fixed point is the ordinary ML solution.
 */
export function fitPpcaMissing(data: MissingData, d: number, opts: MissingFitOptions = {}): MissingFitResult {
  const { x, n, D } = data;
  checkShape('ppca missing-data EM', D, d);
  const { observed } = checkMissing(data);
  const iters = opts.iters ?? 200;
  const tol = opts.tol ?? 1e-5;
  const start = opts.init ?? initialParams(data, d, opts.seed ?? 0);
  const p = { D, d, W: Float64Array.from(start.W), mu: Float64Array.from(start.mu), sigma2: start.sigma2 };
  const k = d + 1;
  const kk = k * k;
  // per column: the rows listed (the missing ones when fewer, else the observed) and which
  const colList: Int32Array[] = [];
  const colListsMissing = new Uint8Array(D);
  const colX2 = new Float64Array(D);
  for (let j = 0; j < D; j++) {
    const obs: number[] = [];
    const miss: number[] = [];
    for (let i = 0; i < n; i++) {
      const v = x[i * D + j]!;
      if (Number.isNaN(v)) miss.push(i);
      else { obs.push(i); colX2[j]! += v * v; }
    }
    colListsMissing[j] = miss.length < obs.length ? 1 : 0;
    colList.push(Int32Array.from(colListsMissing[j] ? miss : obs));
  }
  const S = new Float64Array(n * kk); // ⟨z̃ z̃ᵀ⟩ per row
  const Ez = new Float64Array(n * d);
  const curve: number[] = [];
  let converged = false;
  let iter = 0;
  for (;; iter++) {
    // E-step (and the log-likelihood of the current parameters)
    const G = gram(p.W, D, d);
    const T = new Float64Array(kk);
    let ll = 0;
    for (let i = 0; i < n; i++) {
      const r = rowPosterior(p, G, x, i);
      ll += r.ll;
      Ez.set(r.E, i * d);
      const s = S.subarray(i * kk, (i + 1) * kk);
      for (let a = 0; a < d; a++) {
        for (let b = 0; b < d; b++) s[a * k + b] = r.cov[a * d + b]! + r.E[a]! * r.E[b]!;
        s[a * k + d] = r.E[a]!;
        s[d * k + a] = r.E[a]!;
      }
      s[d * k + d] = 1;
      for (let q = 0; q < kk; q++) T[q]! += s[q]!;
    }
    ll /= n;
    curve.push(ll);
    opts.onIteration?.(iter, ll);
    if (iter > 0 && Math.abs(ll - curve[iter - 1]!) < tol) { converged = true; break; }
    if (iter >= iters) break;
    // M-step per column: [W_j, μ_j] = b_jᵀ A_j⁻¹, then σ² from the expected residuals;
    // b_j = Σ_{i∋j} x_ij [E_i; 1] for every j at once, row by row (cache order)
    const B = new Float64Array(D * k);
    for (let i = 0; i < n; i++) {
      for (let j = 0; j < D; j++) {
        const v = x[i * D + j]!;
        if (Number.isNaN(v) || v === 0) continue;
        for (let a = 0; a < d; a++) B[j * k + a]! += v * Ez[i * d + a]!;
        B[j * k + d]! += v;
      }
    }
    let resid = 0;
    for (let j = 0; j < D; j++) {
      const A = colListsMissing[j] ? T.slice() : new Float64Array(kk);
      const sign = colListsMissing[j] ? -1 : 1;
      // the upper triangle only (A is symmetric), then mirrored
      for (const i of colList[j]!) {
        const off = i * kk;
        for (let a = 0; a < k; a++) for (let c = a; c < k; c++) A[a * k + c]! += sign * S[off + a * k + c]!;
      }
      mirrorUpper(A, k);
      const b = B.subarray(j * k, (j + 1) * k);
      const w = solveSpd(A, b, k);
      for (let a = 0; a < d; a++) p.W[j * d + a] = w[a]!;
      p.mu[j] = w[d]!;
      // Σ_{i∋j} ⟨(x_ij − w̃ z̃_i)²⟩ = Σx² − 2 w̃·b + w̃ A w̃ᵀ
      let wb = 0;
      let wAw = 0;
      for (let a = 0; a < k; a++) {
        wb += w[a]! * b[a]!;
        let s = 0;
        for (let c = 0; c < k; c++) s += A[a * k + c]! * w[c]!;
        wAw += w[a]! * s;
      }
      resid += colX2[j]! - 2 * wb + wAw;
    }
    p.sigma2 = Math.max(resid / observed, 1e-12 * (p.sigma2 || 1));
  }
  const W = Float32Array.from(p.W);
  const mu = Float32Array.from(p.mu);
  const sigma2 = Math.fround(p.sigma2);
  const loglik = missingMeanLogLik({ D, d, W, mu, sigma2 }, data);
  curve.push(loglik);
  return { D, d, W, mu, sigma2, loglik, curve, iterations: iter, converged, observed };
}
