// Mixtures of PPCA (Tipping & Bishop 1999; DESIGN.md §1.7): K components, each
// x ~ N(μ_k, C_k), C_k = W_k W_kᵀ + σ_k² I, mixed with weights π_k. EM with the
// component label as the only latent (z integrated out exactly), so one EM map is
//   E-step: log p_k(x_i) by the O(D·d) PPCA density through M_k = W_kᵀW_k + σ_k²I
//           (§1.1), responsibilities R_ik in log space (log-sum-exp, float64)
//   M-step: π_k = N_k/n, μ_k = Σ R_ik x_i/N_k, then one PPCA EM step on the
//           responsibility-weighted covariance S_k (about the new μ_k), used only
//           through A_k = S_k W_k: W_k' = A_k (σ²M_k + W_kᵀA_k)⁻¹ M_k (the paper's
//           S W (σ²I + M⁻¹WᵀSW)⁻¹), σ_k²' = (tr S_k − tr(M_k⁻¹ W_k'ᵀ A_k))/D.
// For fixed R each component's update raises its weighted log-likelihood, so the
// map is a generalised EM and never lowers log p(X).
// The data are centred on the global mean in float64 on the host and scaled by a
// power of two (scale.ts), uploaded once in whole chunks of rows, in as many
// buffers as one storage binding needs. Per map, on the device:
//   Y_k = (X̃ − 1μ_kᵀ) W_k for every k (centred per component, then one matmul each)
//   G = Vᵀ X̃ with V = [R_k ⊙ Y_k | R_k] (n × (K·d + K)): every Σ_i R_ik x̃_i y_ikᵀ
//       and Σ_i R_ik x̃_i in one product, summed in chunks of rows
// and on the host, float64: ‖x̃_i − μ_k‖² (O(nDK); the device form ‖x̃‖² − 2x̃·μ + ‖μ‖²
// cancels when clusters lie far apart next to their spread), ‖L_k⁻¹y_ik‖², the
// responsibilities and every d×d matrix. Σ R(x̃ − μ_k)y_kᵀ = G_k − μ_k s_kᵀ with s_k
// = Σ_i R_ik y_ik, small near convergence, so the uncentred G loses little.
// Rules: σ_k² ≥ MPPCA_SIGMA2_FLOOR × the mean column variance (a component on a
// few points would send σ² → 0 and log p → ∞); a component whose N_k falls below
// d + 1 rows is dropped (too few to define its subspace and noise) and reported.
import { KernelError, VIEW_ALIGN, dataChunkRows, need, type Backend, type Tensor } from '../../backend.ts';
import { EigenvalueDecomposition, Matrix } from 'ml-matrix';
import { HostRng } from '../../train/rng.ts';
import { factorSpd, mul, symmetrize, transpose, traceOfProduct, type Mat } from '../ppca/linalg.ts';
import { LOG_2PI, Workspace, checkShape, sampleMean, type DeviceData, type HostData } from '../ppca/model.ts';
import { centredHost, checkDataScale, internalScale } from '../ppca/scale.ts';

/** σ_k² is floored at this fraction of the mean column variance of the training data. */
export const MPPCA_SIGMA2_FLOOR = 1e-3;
/** Most values K·n·(d + 1) of the per-row, per-component products a fit holds (1 GiB of float32). */
export const MPPCA_MAX_VALUES = 2 ** 28;
/** Lloyd iterations (assign, then means) after the k-means++ seeding, before the first EM map. */
export const MPPCA_INIT_LLOYD = 3;
/** Defaults of a fit: K = 5 components of latent dimension 10, at most 200 EM maps, stop when the log-likelihood per sample moves less than 1e-5. */
export const MPPCA_DEFAULTS = { components: 5, latent: 10, iters: 200, tol: 1e-5 } as const;

/** Parameters of a mixture of PPCA on the host, float64 (data space). */
export interface MppcaHost {
  /** number of components */
  K: number;
  /** data dimension */
  D: number;
  /** latent dimension of every component */
  d: number;
  /** mixing weights, length K, on the simplex */
  pi: Float64Array;
  /** K×D row-major: component k's mean is row k */
  mu: Float64Array;
  /** K blocks of D×d row-major */
  W: Float64Array;
  /** noise variances, length K, all > 0 */
  sigma2: Float64Array;
}

/** What fitMppca and MppcaFitter take. */
export interface MppcaOptions {
  /** number of components K */
  K: number;
  /** latent dimension of every component */
  d: number;
  /** most EM maps (default MPPCA_DEFAULTS.iters) */
  maxIters?: number;
  /** stop when the log-likelihood per sample changes by less than this (default MPPCA_DEFAULTS.tol) */
  tol?: number;
  /** seed of the k-means++ initialisation and of the initial W */
  seed?: number;
  /** starting parameters (default: k-means++ initialisation) */
  init?: MppcaHost;
  /** rows per device buffer of the data (default: one storage binding's worth) */
  chunkRows?: number;
  /** called with every iterate's log-likelihood */
  onIter?: (p: MppcaProgress) => void;
}

/** One EM iterate as the fit reports it. */
export interface MppcaProgress {
  /** M-steps taken to reach it */
  iteration: number;
  /** mean log-likelihood per sample of the iterate (nats) */
  loglik: number;
  /** components alive */
  K: number;
  /** since the fit started */
  seconds: number;
}

/** A component dropped for want of responsibility. */
export interface MppcaDrop {
  /** the EM map whose E-step gave it under d + 1 rows */
  iteration: number;
  /** its index among the original K */
  component: number;
  /** Σ_i R_ik it had */
  rows: number;
}

/** A finished fit. */
export interface MppcaResult {
  /** the parameters (data space, float64) */
  model: MppcaHost;
  /** M-steps taken */
  iterations: number;
  /** the log-likelihood moved less than tol */
  converged: boolean;
  /** mean exact log-likelihood per sample of the returned model */
  loglik: number;
  /** every iterate's progress */
  trace: MppcaProgress[];
  /** components dropped on the way (model.K is what is left) */
  dropped: MppcaDrop[];
  /** components (indices into model) whose σ² is at the floor */
  atFloor: number[];
  /** the floor on σ², data space */
  sigma2Floor: number;
  /** wall time of the fit, the start included */
  seconds: number;
  /** of which the start (upload, k-means++, per-cluster PPCA) */
  initSeconds: number;
}

/** rows per chunk of the n-long sums (a multiple of VIEW_ALIGN) */
const SUM_CHUNK_ROWS = 512;

/** Free parameters of a mixture: K(D·d − d(d−1)/2 + D + 1) + K − 1. */
export function mppcaParameterCount(K: number, D: number, d: number): number {
  return K * (D * d - (d * (d - 1)) / 2 + D + 1) + K - 1;
}

/** Checks shapes and values of host parameters: finite W, μ; σ² > 0; π on the simplex. */
export function checkMppca(h: MppcaHost, kernel = 'mppca'): void {
  checkShape(kernel, h.D, h.d);
  need(Number.isInteger(h.K) && h.K >= 1, kernel, `the number of components K must be a positive integer, got ${h.K}`);
  need(h.pi.length === h.K, kernel, `pi has ${h.pi.length} entries, needs K = ${h.K}`);
  need(h.mu.length === h.K * h.D, kernel, `mu has ${h.mu.length} entries, needs K·D = ${h.K * h.D}`);
  need(h.W.length === h.K * h.D * h.d, kernel, `W has ${h.W.length} entries, needs K·D·d = ${h.K * h.D * h.d}`);
  need(h.sigma2.length === h.K, kernel, `sigma2 has ${h.sigma2.length} entries, needs K = ${h.K}`);
  for (const [name, a] of [['W', h.W], ['mu', h.mu]] as const) {
    for (let i = 0; i < a.length; i++) need(Number.isFinite(a[i]!), kernel, `${name}[${i}] is ${a[i]}, not a finite number`);
  }
  for (let k = 0; k < h.K; k++) need(Number.isFinite(h.sigma2[k]!) && h.sigma2[k]! > 0, kernel, `sigma2[${k}] is ${h.sigma2[k]}, must be a finite positive number`);
  let s = 0;
  for (let k = 0; k < h.K; k++) {
    need(Number.isFinite(h.pi[k]!) && h.pi[k]! > 0, kernel, `pi[${k}] is ${h.pi[k]}, every mixing weight must be positive`);
    s += h.pi[k]!;
  }
  need(Math.abs(s - 1) <= 1e-5, kernel, `the mixing weights sum to ${s}, not 1`);
}

/** Component k's W (D×d view). */
export function componentW(h: { D: number; d: number; W: Float64Array }, k: number): Float64Array {
  return h.W.subarray(k * h.D * h.d, (k + 1) * h.D * h.d);
}

/** What the density of one component needs: L⁻¹ of M = WᵀW + σ²I, M and M⁻¹, and the constant of log π_k N(·). */
export interface ComponentFactors {
  M: Mat;
  Minv: Mat;
  cholInv: Mat;
  /** log π_k − ½[D log 2π + (D−d) log σ² + log|M|] */
  logConst: number;
}

export function componentFactors(h: MppcaHost, k: number): ComponentFactors {
  const { D, d } = h;
  const W = componentW(h, k);
  const M = symmetrize(mul(transpose(W, D, d), W, d, D, d), d);
  for (let j = 0; j < d; j++) M[j * d + j]! += h.sigma2[k]!;
  const f = factorSpd(M, d, `mppca: M_${k} = WᵀW + σ²I`);
  const logConst = Math.log(h.pi[k]!) - 0.5 * (D * LOG_2PI + (D - d) * Math.log(h.sigma2[k]!) + f.logDet);
  return { M, Minv: f.inverse, cholInv: f.cholInv, logConst };
}

/** log(π_k N(x | μ_k, C_k)) from ‖x − μ_k‖² and y = W_kᵀ(x − μ_k) (y read from `y` at `at`). */
export function componentLogDensity(f: ComponentFactors, sigma2: number, q: number, y: ArrayLike<number>, at: number, d: number): number {
  let e = 0;
  for (let a = 0; a < d; a++) {
    let s = 0;
    for (let b = 0; b <= a; b++) s += f.cholInv[a * d + b]! * y[at + b]!;
    e += s * s;
  }
  // x̃ᵀC⁻¹x̃ = (q − e)/σ² ≥ 0; rounding can make q − e slightly negative
  return f.logConst - (0.5 * Math.max(q - e, 0)) / sigma2;
}

/** log Σ_k exp(a_k) over a[at..at+K), and a overwritten with the responsibilities exp(a_k − lse). */
export function logSumExpInPlace(a: Float64Array, at: number, K: number): number {
  let m = -Infinity;
  for (let k = 0; k < K; k++) m = Math.max(m, a[at + k]!);
  let s = 0;
  for (let k = 0; k < K; k++) s += Math.exp(a[at + k]! - m);
  const lse = m + Math.log(s);
  for (let k = 0; k < K; k++) a[at + k] = Math.exp(a[at + k]! - lse);
  return lse;
}

/** ‖x_i − c_k‖² for every row i and centre k (n×K, float64). */
export function squaredDistances(x: HostData, centres: Float64Array, K: number): Float64Array {
  const { host, n, D } = x;
  const out = new Float64Array(n * K);
  for (let i = 0; i < n; i++) {
    const r = i * D;
    for (let k = 0; k < K; k++) {
      const c = k * D;
      let s = 0;
      for (let j = 0; j < D; j++) {
        const t = host[r + j]! - centres[c + j]!;
        s += t * t;
      }
      out[i * K + k] = s;
    }
  }
  return out;
}

/**
 * Orthonormalises the d columns of a D×d row-major matrix in place by Cholesky QR,
 * Q ← Q L⁻ᵀ with QᵀQ = LLᵀ (a ridge of 1e-12·tr keeps rank-deficient Q finite).
 */
function orthonormalise(q: Float64Array, D: number, d: number): void {
  const g = mul(transpose(q, D, d), q, d, D, d);
  let tr = 0;
  for (let j = 0; j < d; j++) tr += g[j * d + j]!;
  for (let j = 0; j < d; j++) g[j * d + j]! += 1e-12 * tr + 1e-300;
  q.set(mul(q, transpose(factorSpd(symmetrize(g, d), d, 'mppca init').cholInv, d, d), D, d, d));
}

/** Subspace-iteration passes of the initial per-cluster PPCA. */
const INIT_PASSES = 4;

/**
 * An approximate PPCA closed form of one cluster (float64, host): INIT_PASSES of subspace
 * iteration Q ← orth(S Q) with S the cluster's covariance applied row by row, then
 * Rayleigh–Ritz (QᵀSQ = VΛVᵀ), σ² = (tr S − Σ λ_j)/(D − d) (floored), W = QV (Λ − σ²I)^½.
 */
function clusterPpca(host: Float32Array, D: number, rows: number[], mu: Float64Array, d: number, rnd: HostRng, floor: number): { W: Float64Array; sigma2: number } {
  const m = rows.length;
  const Q = Float64Array.from({ length: D * d }, () => rnd.normal());
  orthonormalise(Q, D, d);
  const x = new Float64Array(D);
  const y = new Float64Array(d);
  let trS = 0;
  const SQ = new Float64Array(D * d);
  const applyS = (): void => {
    SQ.fill(0);
    for (const i of rows) {
      for (let r = 0; r < D; r++) x[r] = host[i * D + r]! - mu[r]!;
      y.fill(0);
      for (let r = 0; r < D; r++) for (let j = 0; j < d; j++) y[j]! += x[r]! * Q[r * d + j]!;
      for (let r = 0; r < D; r++) for (let j = 0; j < d; j++) SQ[r * d + j]! += (x[r]! * y[j]!) / Math.max(m, 1);
    }
  };
  for (const i of rows) for (let r = 0; r < D; r++) trS += (host[i * D + r]! - mu[r]!) ** 2 / m;
  for (let pass = 0; pass < INIT_PASSES; pass++) {
    applyS();
    Q.set(SQ);
    orthonormalise(Q, D, d);
  }
  applyS();
  // Rayleigh–Ritz: T = QᵀSQ = VΛVᵀ, the Ritz vectors QV
  const T = symmetrize(mul(transpose(Q, D, d), SQ, d, D, d), d);
  const eig = new EigenvalueDecomposition(new Matrix(Array.from({ length: d }, (_, i) => Array.from(T.subarray(i * d, (i + 1) * d)))), { assumeSymmetric: true });
  const lambda = eig.realEigenvalues;
  const top = lambda.reduce((s, v) => s + v, 0);
  const sigma2 = Math.max(m > 0 ? (trS - top) / (D - d) : 0, floor);
  const V = new Float64Array(d * d);
  for (let i = 0; i < d; i++) for (let j = 0; j < d; j++) V[i * d + j] = eig.eigenvectorMatrix.get(i, j) * Math.sqrt(Math.max(lambda[j]! - sigma2, 0));
  return { W: mul(Q, V, D, d, d), sigma2 };
}

/**
 * k-means++ seeding (Arthur & Vassilvitskii 2007) of K centres among the rows, then
 * MPPCA_INIT_LLOYD Lloyd steps; each component starts at its cluster: μ_k the mean,
 * W_k and σ_k² an approximate PPCA closed form of its rows (clusterPpca), π_k its
 * share of the rows (at least d + 1 rows' worth).
 * Deterministic for a seed. `x` is in whatever space the caller fits in.
 */
export function initialMppca(x: HostData, K: number, d: number, seed: number, sigma2Floor: number): MppcaHost {
  const { host, n, D } = x;
  need(n >= K, 'mppca init', `${x.name ?? 'data'}: ${n} rows cannot seed ${K} components`);
  const rnd = new HostRng(seed, 'mulberry32');
  const centres = new Float64Array(K * D);
  const setCentre = (k: number, i: number): void => { for (let j = 0; j < D; j++) centres[k * D + j] = host[i * D + j]!; };
  setCentre(0, rnd.below(n));
  const near = new Float64Array(n).fill(Infinity);
  for (let k = 1; k < K; k++) {
    let total = 0;
    for (let i = 0; i < n; i++) {
      let s = 0;
      for (let j = 0; j < D; j++) s += (host[i * D + j]! - centres[(k - 1) * D + j]!) ** 2;
      near[i] = Math.min(near[i]!, s);
      total += near[i]!;
    }
    // a row drawn with probability ∝ its squared distance to the nearest centre (uniform when all are 0)
    let pick = total > 0 ? n - 1 : rnd.below(n);
    if (total > 0) {
      let u = rnd.uniform() * total;
      for (let i = 0; i < n; i++) {
        u -= near[i]!;
        if (u < 0) { pick = i; break; }
      }
    }
    setCentre(k, pick);
  }
  const label = new Int32Array(n);
  const count = new Float64Array(K);
  for (let step = 0; step < Math.max(1, MPPCA_INIT_LLOYD); step++) {
    const dist = squaredDistances(x, centres, K);
    count.fill(0);
    for (let i = 0; i < n; i++) {
      let best = 0;
      for (let k = 1; k < K; k++) if (dist[i * K + k]! < dist[i * K + best]!) best = k;
      label[i] = best;
      count[best]!++;
    }
    const sums = new Float64Array(K * D);
    for (let i = 0; i < n; i++) for (let j = 0; j < D; j++) sums[label[i]! * D + j]! += host[i * D + j]!;
    // an empty cluster keeps its centre
    for (let k = 0; k < K; k++) if (count[k]! > 0) for (let j = 0; j < D; j++) centres[k * D + j] = sums[k * D + j]! / count[k]!;
  }
  const minRows = Math.min(d + 1, n / K);
  const share = Float64Array.from(count, (c) => Math.max(c, minRows));
  const totalShare = share.reduce((s, v) => s + v, 0);
  const W = new Float64Array(K * D * d);
  const sigma2 = new Float64Array(K);
  for (let k = 0; k < K; k++) {
    const rows: number[] = [];
    for (let i = 0; i < n; i++) if (label[i] === k) rows.push(i);
    const c = clusterPpca(host, D, rows, centres.subarray(k * D, (k + 1) * D), d, rnd, sigma2Floor);
    W.set(c.W, k * D * d);
    sigma2[k] = c.sigma2;
  }
  return { K, D, d, pi: share.map((c) => c / totalShare), mu: centres, W, sigma2 };
}

/** The parameters rounded to float32 (what the device multiplies with, and what a model file stores), in float64. */
export function roundMppca(h: MppcaHost): MppcaHost {
  const r = (a: Float64Array): Float64Array => Float64Array.from(Float32Array.from(a));
  return { K: h.K, D: h.D, d: h.d, pi: Float64Array.from(h.pi), mu: r(h.mu), W: r(h.W), sigma2: Float64Array.from(h.sigma2) };
}

/** d rounded up to a multiple of 4 on WebGPU (the vec4 matmul kernels; the extra columns stay 0) */
function paddedWidth(b: Backend, w: number): number {
  return b.info.backend === 'webgpu' ? Math.ceil(w / 4) * 4 : w;
}

function alignUp(v: number): number {
  return Math.ceil(v / VIEW_ALIGN) * VIEW_ALIGN;
}

/** What an E-step leaves for the M-step (fitted space). */
interface EStep {
  /** mean log-likelihood per sample (fitted space) */
  loglik: number;
  /** log p(x_i) per row (fitted space) */
  rows: Float64Array;
  /** n×K responsibilities */
  resp: Float64Array;
  /** n×K ‖x̃_i − μ_k‖² */
  q: Float64Array;
  /** K blocks of nPad×dp: y_ik = W_kᵀ(x̃_i − μ_k) as float32 products */
  y: Float32Array;
}

/**
 * Exact EM for a mixture of PPCA over one dataset on a backend. Parameters in and
 * out of estep/mstep are in the fitted space (centred on the global mean, scaled by
 * `scale`); toData/toFitted convert.
 */
export class MppcaEngine {
  readonly n: number;
  readonly D: number;
  /** the centred, scaled rows on the host (float32 as uploaded) */
  readonly host: HostData;
  /** device buffers of blockRows rows each (the last padded with zero rows to whole SUM_CHUNK_ROWS) */
  private readonly xc: Tensor[];
  private readonly blockRows: number;
  private readonly nPad: number;
  private readonly ws: Workspace;

  constructor(readonly backend: Backend, data: DeviceData, readonly centre: Float64Array, readonly scale: number, chunkRows?: number) {
    const b = backend;
    this.n = data.n;
    this.D = data.D;
    const { n, D } = this;
    this.ws = new Workspace(b, 'mppca');
    this.host = { name: data.name, host: centredHost(data, centre, scale), n, D };
    const chunks = Math.ceil(n / SUM_CHUNK_ROWS);
    // the rows held again, centred, in buffers of at most one storage binding (whole chunks each)
    this.blockRows = Math.min(chunks * SUM_CHUNK_ROWS, dataChunkRows(b, D, { align: SUM_CHUNK_ROWS, override: chunkRows }));
    this.xc = [];
    for (let r0 = 0; r0 < n; r0 += this.blockRows) {
      const rows = Math.min(this.blockRows, n - r0);
      const padded = Math.ceil(rows / SUM_CHUNK_ROWS) * SUM_CHUNK_ROWS;
      const x = new Float32Array(padded * D);
      x.set(this.host.host.subarray(r0 * D, (r0 + rows) * D));
      this.xc.push(b.tensor(padded * D, { label: `mppca.xc${this.xc.length}`, data: x }));
    }
    this.nPad = (this.xc.length - 1) * this.blockRows + this.xc.at(-1)!.length / D;
  }

  /** Rows of block k: [offset, rows on the device). */
  private block(k: number): [number, number] {
    return [k * this.blockRows, this.xc[k]!.length / this.D];
  }

  /** Fitted-space parameters of data-space ones: μ' = (μ − centre)·c, W' = cW, σ²' = c²σ², rounded to float32. */
  toFitted(h: MppcaHost): MppcaHost {
    const c = this.scale;
    const { D } = h;
    const mu = Float64Array.from(h.mu, (m, t) => (m - this.centre[t % D]!) * c);
    return roundMppca({ ...h, mu, W: h.W.map((w) => w * c), sigma2: h.sigma2.map((s) => s * c * c) });
  }

  toData(h: MppcaHost): MppcaHost {
    const c = this.scale;
    const { D } = h;
    return { ...h, pi: Float64Array.from(h.pi), mu: Float64Array.from(h.mu, (m, t) => m / c + this.centre[t % D]!), W: h.W.map((w) => w / c), sigma2: h.sigma2.map((s) => s / (c * c)) };
  }

  /** log p(x) in data space from the fitted space's: + D log c. */
  dataShift(): number {
    return this.D * Math.log(this.scale);
  }

  /** E-step of fitted-space parameters h. */
  async estep(h: MppcaHost): Promise<EStep> {
    const { backend: b, ws, n, D, nPad } = this;
    const { K, d } = h;
    const dp = paddedWidth(b, d);
    const wLen = alignUp(D * dp);
    const muLen = alignUp(D);
    const wHost = new Float32Array(K * wLen);
    const muHost = new Float32Array(K * muLen);
    for (let k = 0; k < K; k++) {
      for (let r = 0; r < D; r++) for (let j = 0; j < d; j++) wHost[k * wLen + r * dp + j] = h.W[(k * D + r) * d + j]!;
      for (let r = 0; r < D; r++) muHost[k * muLen + r] = h.mu[k * D + r]!;
    }
    const wT = ws.upload('W', wHost);
    const muT = ws.upload('mu', muHost);
    const y = ws.get('y', K * nPad * dp);
    const scratch = ws.get('centred', this.blockRows * D);
    const ones = ws.constant('ones', this.blockRows, 1);
    for (let blk = 0; blk < this.xc.length; blk++) {
      const [r0, rows] = this.block(blk);
      for (let k = 0; k < K; k++) {
        // scratch = X̃_block − 1μ_kᵀ, then Y_k rows = scratch · W_k
        b.copy({ src: this.xc[blk]!, dst: scratch, n: rows * D });
        const muK = b.view(muT, k * muLen, D, 'mppca.mu_k');
        b.matmul({ a: ones, b: muK, c: scratch, m: rows, n: D, k: 1, alpha: -1, accumulate: true });
        const yk = b.view(y, (k * nPad + r0) * dp, rows * dp, 'mppca.y_k');
        b.matmul({ a: scratch, b: b.view(wT, k * wLen, D * dp, 'mppca.W_k'), c: yk, m: rows, n: dp, k: D });
      }
    }
    const yH = (await b.read(y)).slice(0, K * nPad * dp);
    const q = squaredDistances(this.host, h.mu, K);
    const f = Array.from({ length: K }, (_, k) => componentFactors(h, k));
    const resp = new Float64Array(n * K);
    const rows = new Float64Array(n);
    let total = 0;
    for (let i = 0; i < n; i++) {
      for (let k = 0; k < K; k++) resp[i * K + k] = componentLogDensity(f[k]!, h.sigma2[k]!, q[i * K + k]!, yH, (k * nPad + i) * dp, d);
      rows[i] = logSumExpInPlace(resp, i * K, K);
      total += rows[i]!;
    }
    const loglik = total / n;
    if (!Number.isFinite(loglik)) throw new KernelError('mppca EM', `the log-likelihood became ${loglik}`);
    return { loglik, rows, resp, q, y: yH };
  }

  /**
   * M-step from an E-step of h (fitted space). Components with fewer than d + 1 rows of
   * responsibility are dropped: `kept` lists the survivors' indices into h.
   */
  async mstep(h: MppcaHost, e: EStep, sigma2Floor: number): Promise<{ next: MppcaHost; kept: number[]; counts: Float64Array }> {
    const { backend: b, ws, n, D, nPad } = this;
    const { K, d } = h;
    const dp = paddedWidth(b, d);
    const yW = K * dp;
    const Q = paddedWidth(b, yW + K);
    // V = [R_k ⊙ Y_k | R_k] (nPad×Q float32) and the float64 sums N_k, s_k = Σ R y, t_k = Σ R q
    const V = new Float32Array(nPad * Q);
    const N = new Float64Array(K);
    const s = new Float64Array(K * d);
    const t = new Float64Array(K);
    for (let i = 0; i < n; i++) {
      for (let k = 0; k < K; k++) {
        const r = e.resp[i * K + k]!;
        N[k]! += r;
        t[k]! += r * e.q[i * K + k]!;
        V[i * Q + yW + k] = r;
        const at = (k * nPad + i) * dp;
        for (let j = 0; j < d; j++) {
          const v = r * e.y[at + j]!;
          V[i * Q + k * dp + j] = v;
          s[k * d + j]! += v;
        }
      }
    }
    const vT = ws.upload('V', V);
    const G = await this.rowSum(vT, Q);
    const kept: number[] = [];
    for (let k = 0; k < K; k++) if (N[k]! >= d + 1) kept.push(k);
    need(kept.length > 0, 'mppca EM', `every component has fewer than d + 1 = ${d + 1} rows of responsibility`);
    const K2 = kept.length;
    const next: MppcaHost = { K: K2, D, d, pi: new Float64Array(K2), mu: new Float64Array(K2 * D), W: new Float64Array(K2 * D * d), sigma2: new Float64Array(K2) };
    let Nkept = 0;
    for (const k of kept) Nkept += N[k]!;
    kept.forEach((k, o) => {
      const Nk = N[k]!;
      const f = componentFactors(h, k);
      const Wk = componentW(h, k);
      const muOld = h.mu.subarray(k * D, (k + 1) * D);
      // μ_k' = Σ R x̃ / N_k, δ = μ_k' − μ_k
      const muNew = Float64Array.from({ length: D }, (_, r) => G[(yW + k) * D + r]! / Nk);
      const delta = Float64Array.from(muNew, (m, r) => m - muOld[r]!);
      const wd = mul(transpose(Wk, D, d), delta, d, D, 1);
      // A = S_k W_k = (G_k − μ_k s_kᵀ)/N_k − δ(W_kᵀδ)ᵀ, G_k[r][j] = Σ R x̃_r y_j
      const A = new Float64Array(D * d);
      let dd = 0;
      for (let r = 0; r < D; r++) {
        dd += delta[r]! * delta[r]!;
        for (let j = 0; j < d; j++) A[r * d + j] = (G[(k * dp + j) * D + r]! - muOld[r]! * s[k * d + j]!) / Nk - delta[r]! * wd[j]!;
      }
      const trS = t[k]! / Nk - dd;
      // W' = A (σ²M + WᵀA)⁻¹ M
      const WtA = symmetrize(mul(transpose(Wk, D, d), A, d, D, d), d);
      const H = Float64Array.from(f.M, (m, i) => h.sigma2[k]! * m + WtA[i]!);
      const Wn = mul(mul(A, factorSpd(symmetrize(H, d), d, 'mppca EM: σ²M + WᵀSW').inverse, D, d, d), f.M, D, d, d);
      // σ²' = (tr S − tr(M⁻¹ W'ᵀ A))/D
      const sig = (trS - traceOfProduct(f.Minv, mul(transpose(Wn, D, d), A, d, D, d), d)) / D;
      if (!Number.isFinite(sig)) throw new KernelError('mppca EM', `σ² of component ${k} became ${sig}`);
      next.sigma2[o] = Math.max(sig, sigma2Floor);
      next.pi[o] = Nk / Nkept;
      next.mu.set(muNew, o * D);
      next.W.set(Wn, o * D * d);
    });
    return { next: roundMppca(next), kept, counts: N };
  }

  /** Vᵀ X̃ (Q×D, float64 copy): per chunk of SUM_CHUNK_ROWS rows on the device, the chunks then summed. */
  private async rowSum(v: Tensor, Q: number): Promise<Float64Array> {
    const { backend: b, ws, D } = this;
    const R = SUM_CHUNK_ROWS;
    const stride = alignUp(Q * D);
    const totalChunks = this.nPad / R;
    const perBlock = this.blockRows / R;
    const parts = ws.get('Gparts', totalChunks * stride);
    for (let blk = 0; blk < this.xc.length; blk++) {
      const [r0, rows] = this.block(blk);
      const c0 = blk * perBlock;
      const nb = rows / R;
      b.matmul({
        a: b.view(v, r0 * Q, rows * Q, 'mppca.V block'), b: this.xc[blk]!, c: b.view(parts, c0 * stride, nb * stride, 'mppca.G parts'),
        m: Q, n: D, k: R, transA: true, batch: nb, strideA: R * Q, strideB: R * D, strideC: stride,
      });
    }
    const out = ws.get('G', stride);
    b.sumCols({ x: parts, out, rows: totalChunks, cols: stride });
    return Float64Array.from((await b.read(out)).subarray(0, Q * D));
  }

  release(): void {
    for (const x of this.xc) this.backend.release(x);
    this.xc.length = 0;
    this.ws.releaseAll();
  }
}

/**
 * A resumable EM fit: each step() runs one E-step (the figure reported) and, unless
 * converged or out of iterations, one M-step. The app drives it step by step; fitMppca
 * runs it to the end.
 */
export class MppcaFitter {
  private readonly engine: MppcaEngine;
  /** every iterate's progress so far */
  readonly trace: MppcaProgress[] = [];
  /** components dropped so far */
  readonly dropped: MppcaDrop[] = [];
  /** the floor on σ², data space */
  readonly sigma2Floor: number;
  /** the floor in the fitted space */
  private readonly floorFitted: number;
  /** fitted-space parameters of the current iterate */
  private theta: MppcaHost;
  /** indices into the original K of the live components */
  private alive: number[];
  private prev = -Infinity;
  private t0 = performance.now() / 1000;
  /** seconds the constructor took (upload and start) */
  readonly initSeconds: number;
  /** M-steps taken */
  iterations = 0;
  /** the log-likelihood moved less than tol */
  converged = false;
  /** converged or out of iterations: step() may not be called again */
  done = false;
  /** most M-steps */
  readonly maxIters: number;
  /** convergence threshold on the log-likelihood per sample */
  readonly tol: number;

  /** Checks the data and options, uploads the centred rows and makes the starting point (k-means++ unless opts.init). */
  constructor(readonly backend: Backend, data: DeviceData, readonly opts: MppcaOptions) {
    const { K, d } = opts;
    checkShape('mppca EM', data.D, d);
    need(Number.isInteger(K) && K >= 1, 'mppca EM', `the number of components must be a positive integer, got ${K}`);
    need(data.n >= K * (d + 1), 'mppca EM', `${data.name}: ${data.n} rows are too few for ${K} components of latent dimension ${d} (each needs at least d + 1 = ${d + 1})`);
    // the per-row, per-component products (Y_k and V) are K·n·(d + 1) floats on the device and the host
    need(K * data.n * (d + 1) <= MPPCA_MAX_VALUES, 'mppca EM', `${K} components × ${data.n} rows × (d + 1 = ${d + 1}) is ${K * data.n * (d + 1)} values per EM map, over ${MPPCA_MAX_VALUES}; use fewer components or rows`);
    this.maxIters = opts.maxIters ?? MPPCA_DEFAULTS.iters;
    this.tol = opts.tol ?? MPPCA_DEFAULTS.tol;
    need(Number.isInteger(this.maxIters) && this.maxIters >= 0, 'mppca EM', `maxIters must be a non-negative integer, got ${this.maxIters}`);
    need(this.tol > 0, 'mppca EM', `tol must be positive, got ${this.tol}`);
    const report = checkDataScale(data, d);
    const scale = internalScale(report.stats);
    this.engine = new MppcaEngine(backend, data, report.stats.mu, scale, opts.chunkRows);
    let meanVar = 0;
    for (const v of report.stats.variance) meanVar += v;
    meanVar /= data.D;
    // the floor in the fitted space (variances times scale²)
    const floorFitted = MPPCA_SIGMA2_FLOOR * meanVar * scale * scale;
    this.sigma2Floor = floorFitted / (scale * scale);
    if (opts.init) {
      checkMppca(opts.init, 'mppca EM');
      need(opts.init.D === data.D && opts.init.d === d && opts.init.K === K, 'mppca EM', `the initial model is K=${opts.init.K}, D=${opts.init.D}, d=${opts.init.d}; the fit needs K=${K}, D=${data.D}, d=${d}`);
      this.theta = this.engine.toFitted(opts.init);
      this.theta.sigma2 = this.theta.sigma2.map((s) => Math.max(s, floorFitted));
    } else {
      this.theta = roundMppca(initialMppca(this.engine.host, K, d, opts.seed ?? 0, floorFitted));
    }
    this.alive = Array.from({ length: K }, (_, k) => k);
    this.floorFitted = floorFitted;
    this.initSeconds = performance.now() / 1000 - this.t0;
  }

  /** One E-step (and M-step unless finished); returns the iterate's progress. */
  async step(): Promise<MppcaProgress> {
    need(!this.done, 'mppca EM', 'the fit has finished');
    const e = await this.engine.estep(this.theta);
    const loglik = e.loglik + this.engine.dataShift();
    const p: MppcaProgress = { iteration: this.iterations, loglik, K: this.theta.K, seconds: performance.now() / 1000 - this.t0 };
    this.trace.push(p);
    this.opts.onIter?.(p);
    if (Math.abs(loglik - this.prev) < this.tol) {
      this.converged = true;
      this.done = true;
    } else if (this.iterations >= this.maxIters) {
      this.done = true;
    } else {
      this.prev = loglik;
      const { next, kept, counts } = await this.engine.mstep(this.theta, e, this.floorFitted);
      for (let k = 0; k < this.theta.K; k++) {
        if (!kept.includes(k)) this.dropped.push({ iteration: this.iterations, component: this.alive[k]!, rows: counts[k]! });
      }
      this.alive = kept.map((k) => this.alive[k]!);
      this.theta = next;
      this.iterations++;
    }
    return p;
  }

  /** The current iterate in data space. */
  model(): MppcaHost {
    return this.engine.toData(this.theta);
  }

  result(): MppcaResult {
    const model = this.model();
    const atFloor: number[] = [];
    for (let k = 0; k < this.theta.K; k++) if (this.theta.sigma2[k]! <= this.floorFitted * (1 + 1e-12)) atFloor.push(k);
    return {
      model, iterations: this.iterations, converged: this.converged, loglik: this.trace.at(-1)?.loglik ?? NaN, trace: this.trace,
      dropped: this.dropped, atFloor, sigma2Floor: this.sigma2Floor, seconds: performance.now() / 1000 - this.t0, initSeconds: this.initSeconds,
    };
  }

  /** Releases the device buffers. */
  release(): void {
    this.engine.release();
  }
}

/** Fits a mixture of PPCA by EM on data already on the backend. */
export async function fitMppca(backend: Backend, data: DeviceData, opts: MppcaOptions): Promise<MppcaResult> {
  const fitter = new MppcaFitter(backend, data, opts);
  try {
    while (!fitter.done) await fitter.step();
    return fitter.result();
  } finally {
    fitter.release();
  }
}

/** Per-row log-likelihoods and responsibilities of a model on data (one E-step on the backend). */
export interface MppcaEvaluation {
  /** log p(x_i), nats */
  rows: Float64Array;
  /** mean of rows */
  loglik: number;
  /** n×K responsibilities */
  resp: Float64Array;
  /** the most responsible component of each row */
  assign: Int32Array;
}

/** The exact log p(x_i) of every row, the responsibilities and the hard assignments of a model (one E-step on the backend). */
export async function evaluateMppca(backend: Backend, data: DeviceData, model: MppcaHost, opts: { chunkRows?: number } = {}): Promise<MppcaEvaluation> {
  checkMppca(model);
  if (data.D !== model.D) throw new KernelError('mppca log-likelihood', `${data.name} has ${data.D} columns, the model D=${model.D}`);
  // centred on the data's mean (float64), unscaled
  const engine = new MppcaEngine(backend, data, sampleMean(data), 1, opts.chunkRows);
  try {
    const e = await engine.estep(engine.toFitted(model));
    const { K } = model;
    const assign = new Int32Array(data.n);
    for (let i = 0; i < data.n; i++) {
      let best = 0;
      for (let k = 1; k < K; k++) if (e.resp[i * K + k]! > e.resp[i * K + best]!) best = k;
      assign[i] = best;
    }
    return { rows: e.rows, loglik: e.loglik, resp: e.resp, assign };
  } finally {
    engine.release();
  }
}

/** Cluster purity: the share of rows whose cluster's most common label is their own (Σ_k max_l count(k, l) / n). */
export function clusterPurity(assign: ArrayLike<number>, labels: ArrayLike<number>): number {
  need(assign.length === labels.length && assign.length > 0, 'cluster purity', `${assign.length} assignments for ${labels.length} labels`);
  const counts = new Map<number, Map<number, number>>();
  for (let i = 0; i < assign.length; i++) {
    const row = counts.get(assign[i]!) ?? new Map<number, number>();
    row.set(labels[i]!, (row.get(labels[i]!) ?? 0) + 1);
    counts.set(assign[i]!, row);
  }
  let hit = 0;
  for (const row of counts.values()) hit += Math.max(...row.values());
  return hit / assign.length;
}

/** Rows assigned to each component (hard assignments). */
export function componentSizes(assign: ArrayLike<number>, K: number): number[] {
  const sizes = new Array<number>(K).fill(0);
  for (let i = 0; i < assign.length; i++) sizes[assign[i]!]!++;
  return sizes;
}
