// Factor analysis (DESIGN.md §1.7): x = W z + μ + ε, z ~ N(0, I_d), ε ~ N(0, diag ψ).
// Exact EM, with the data on the backend as PPCA's engine keeps them (em.ts):
// the rows are centred on the host in float64, scaled by a power of two
// (scale.ts internalScale) and uploaded once, padded to whole chunks of rows.
// One EM map F(W, ψ) is one submission with three read-backs:
//   host:   B = Ψ⁻¹W, M = I + WᵀB = LLᵀ (float64; B uploaded as float32)
//   device: Y = X̃ B (n×d, y_i = WᵀΨ⁻¹x̃_i), X̃ᵀY (D×d), YᵀY (d×d) in chunked sums,
//           and ‖L⁻¹y_i‖² per row (loglik.ts explainedSquares, as PPCA)
//   host:   E_i = M⁻¹y_i, so G = Σ x̃_i E_iᵀ = (X̃ᵀY)M⁻¹ and EᵀE = M⁻¹YᵀYM⁻¹; log p of
//           (W, ψ) from Σ_j s_jj/ψ_j and Σ_i ‖L⁻¹y_i‖² (float64 sums);
//           S = n M⁻¹ + EᵀE = Σ⟨zzᵀ⟩, W' = G S⁻¹, ψ'_j = s_jj − (1/n)Σ_k W'_jk G_jk
// (E = X̃ B M⁻¹ formed on the device and log p from tr(M EᵀE) was 0.24 nats/sample
// off on MNIST, where floored ψ make M ill-conditioned: EM seemed to go downhill.)
// where s_jj = (1/n)Σ_i x̃_ij² is the column's variance (float64, from the host rows).
// The D×D covariance C = WWᵀ + Ψ is never formed: log p(x) uses the Woodbury and
// determinant lemmas, x̃ᵀC⁻¹x̃ = Σ_j x̃_j²/ψ_j − yᵀM⁻¹y with y = WᵀΨ⁻¹x̃, and
// log|C| = Σ_j log ψ_j + log|M|.
// ψ floor (Heywood cases): ψ_j ≥ max(FA_PSI_FLOOR · s_jj, FA_PSI_FLOOR_MEAN · s̄), s̄ the
// mean column variance. 0.005 s_jj is R factanal's lower bound on the uniquenesses; the
// s̄ term is what a constant column gets (its ML ψ is 0) and bounds 1/ψ across columns:
// on MNIST, pixels that are almost always 0 got ψ ~ 1e-9 s̄ from the first term alone,
// M = I + WᵀΨ⁻¹W became so ill-conditioned that the float32 products made EM go
// downhill by up to 4 nats/sample, and a test row with ink there scored −1e4 nats.
// Columns whose ψ sits at the floor at the end are reported.
import { KernelError, VIEW_ALIGN, need, type Backend, type Tensor } from '../../backend.ts';
import { factorSpd, mul, symmetrize, transpose, type Mat } from '../ppca/linalg.ts';
import { LOG_2PI, Workspace, checkShape, type DeviceData, type HostData } from '../ppca/model.ts';
import { centredHost, columnStats, internalScale } from '../ppca/scale.ts';
import { explainedSquares } from '../ppca/loglik.ts';
import { HostRng } from '../../train/rng.ts';

/** ψ_j is floored at this fraction of the column's variance ... */
export const FA_PSI_FLOOR = 5e-3;
/** ... and at this fraction of the mean column variance (what a constant column gets) */
export const FA_PSI_FLOOR_MEAN = 1e-3;

export const FA_DEFAULTS = { latent: 10, iters: 1000, tol: 1e-5 } as const;

/** Factor-analysis parameters on the host, float64. */
export interface FaHost {
  D: number;
  d: number;
  /** D×d row-major */
  W: Float64Array;
  /** length D */
  mu: Float64Array;
  /** noise variances, length D, all > 0 */
  psi: Float64Array;
}

export interface FaOptions {
  d: number;
  /** most EM maps (default FA_DEFAULTS.iters) */
  maxIters?: number;
  /** stop when the log-likelihood per sample changes by less than this (default FA_DEFAULTS.tol) */
  tol?: number;
  seed?: number;
  /** starting W and ψ (μ is always the sample mean) */
  init?: FaHost;
  onIter?: (p: FaProgress) => void;
}

export interface FaProgress {
  iteration: number;
  /** mean log-likelihood per sample of the iterate (device products, float64 sums) */
  loglik: number;
  seconds: number;
}

export interface FaResult {
  model: FaHost;
  iterations: number;
  converged: boolean;
  /** mean exact log-likelihood per sample of the returned model (float64 host evaluation) */
  loglik: number;
  /** 0-based columns whose ψ is at the floor (Heywood cases; constant columns included) */
  heywood: number[];
  /** 0-based columns that are constant in the training data */
  constant: number[];
  trace: FaProgress[];
  seconds: number;
}

/** rows per chunk of the n-long sums (a multiple of VIEW_ALIGN), as em.ts */
const SUM_CHUNK_ROWS = 256;

/** The ψ floor of each column (see the header). */
export function psiFloor(variance: ArrayLike<number>): Float64Array {
  const D = variance.length;
  let mean = 0;
  for (let j = 0; j < D; j++) mean += variance[j]!;
  mean /= D;
  return Float64Array.from({ length: D }, (_, j) => Math.max(FA_PSI_FLOOR * variance[j]!, FA_PSI_FLOOR_MEAN * mean));
}

/** Checks shapes and values of host parameters (finite W, μ; ψ finite and > 0). */
export function checkFa(h: FaHost, kernel = 'fa'): void {
  checkShape(kernel, h.D, h.d);
  need(h.W.length === h.D * h.d, kernel, `W has ${h.W.length} entries, needs D·d = ${h.D * h.d}`);
  need(h.mu.length === h.D, kernel, `mu has ${h.mu.length} entries, needs D = ${h.D}`);
  need(h.psi.length === h.D, kernel, `psi has ${h.psi.length} entries, needs D = ${h.D}`);
  for (const [name, a] of [['W', h.W], ['mu', h.mu]] as const) {
    for (let i = 0; i < a.length; i++) need(Number.isFinite(a[i]!), kernel, `${name}[${i}] is ${a[i]}, not a finite number`);
  }
  for (let j = 0; j < h.D; j++) need(Number.isFinite(h.psi[j]!) && h.psi[j]! > 0, kernel, `psi[${j}] is ${h.psi[j]}, must be a finite positive number`);
}

/** What log p needs of (W, ψ): B = Ψ⁻¹W, M = I + WᵀB factored, Σ log ψ. */
interface FaFactors {
  B: Float64Array;
  M: Mat;
  Minv: Mat;
  cholInv: Mat;
  logDetM: number;
  sumLogPsi: number;
}

function faFactors(W: Float64Array, psi: Float64Array, D: number, d: number): FaFactors {
  const B = new Float64Array(D * d);
  let sumLogPsi = 0;
  for (let r = 0; r < D; r++) {
    sumLogPsi += Math.log(psi[r]!);
    for (let k = 0; k < d; k++) B[r * d + k] = W[r * d + k]! / psi[r]!;
  }
  const M = symmetrize(mul(transpose(W, D, d), B, d, D, d), d);
  for (let k = 0; k < d; k++) M[k * d + k]! += 1;
  const f = factorSpd(M, d, 'fa: M = I + WᵀΨ⁻¹W');
  return { B, M, Minv: f.inverse, cholInv: f.cholInv, logDetM: f.logDet, sumLogPsi };
}

/**
 * Exact log p(x_i) for every row, float64 on the host, O(D·d) per row after
 * O(D·d²) setup: −½[D log 2π + Σ log ψ + log|M| + Σ_j x̃_j²/ψ_j − ‖L⁻¹WᵀΨ⁻¹x̃‖²].
 */
export function faLogLikRows(h: FaHost, data: HostData): Float64Array {
  const { D, d } = h;
  if (data.D !== D) throw new KernelError('fa log-likelihood', `${data.name ?? 'data'} has ${data.D} columns, the model D=${D}`);
  const f = faFactors(h.W, h.psi, D, d);
  const out = new Float64Array(data.n);
  const y = new Float64Array(d);
  const c = -0.5 * (D * LOG_2PI + f.sumLogPsi + f.logDetM);
  for (let i = 0; i < data.n; i++) {
    y.fill(0);
    let quad = 0;
    for (let r = 0; r < D; r++) {
      const x = data.host[i * D + r]! - h.mu[r]!;
      quad += (x * x) / h.psi[r]!;
      for (let k = 0; k < d; k++) y[k]! += f.B[r * d + k]! * x;
    }
    let explained = 0;
    for (let a = 0; a < d; a++) {
      let s = 0;
      for (let k = 0; k <= a; k++) s += f.cholInv[a * d + k]! * y[k]!;
      explained += s * s;
    }
    out[i] = c - 0.5 * (quad - explained);
  }
  return out;
}

/** Mean exact log-likelihood per sample (nats). */
export function faMeanLogLik(h: FaHost, data: HostData): number {
  const rows = faLogLikRows(h, data);
  let s = 0;
  for (const v of rows) s += v;
  return s / rows.length;
}

/** Starting point: W with N(0, v̄/(2d)) entries (v̄ the mean column variance), ψ_j = the column's variance, floored. */
export function initialFa(variance: Float64Array, mu: Float64Array, d: number, seed: number): FaHost {
  const D = variance.length;
  let mean = 0;
  for (const v of variance) mean += v;
  mean /= D;
  const rnd = new HostRng(seed, 'mulberry32');
  const s = Math.sqrt(mean / (2 * d));
  const W = Float64Array.from({ length: D * d }, () => s * rnd.normal());
  const floor = psiFloor(variance);
  const psi = Float64Array.from(variance, (v, j) => Math.max(v, floor[j]!));
  return { D, d, W, mu: Float64Array.from(mu), psi };
}

/** Fits factor analysis by exact EM on data already on the backend. */
export async function fitFa(backend: Backend, data: DeviceData, opts: FaOptions): Promise<FaResult> {
  const b = backend;
  const { n, D } = data;
  const { d } = opts;
  checkShape('fa EM', D, d);
  const maxIters = opts.maxIters ?? FA_DEFAULTS.iters;
  const tol = opts.tol ?? FA_DEFAULTS.tol;
  need(Number.isInteger(maxIters) && maxIters >= 1, 'fa EM', `maxIters must be a positive integer, got ${maxIters}`);
  need(tol > 0, 'fa EM', `tol must be positive, got ${tol}`);
  const stats = columnStats(data);
  const constant: number[] = [];
  for (let j = 0; j < D; j++) if (!(stats.variance[j]! > 0)) constant.push(j);
  need(D - constant.length > d, 'fa EM', `${data.name}: only ${D - constant.length} of ${D} columns vary, fewer than d + 1 = ${d + 1}; use a smaller latent dimension`);
  // fitted space: x' = c(x − μ), W' = cW, ψ' = c²ψ; log p(x) = log p(x') + D log c
  const c = internalScale(stats);
  const c2 = c * c;
  const variance = Float64Array.from(stats.variance, (v) => v * c2);
  const floor = psiFloor(variance);
  const start = opts.init ?? initialFa(stats.variance, stats.mu, d, opts.seed ?? 0);
  if (start.D !== D || start.d !== d) throw new KernelError('fa EM', `initial model is ${start.D}×${start.d}, data need ${D}×${d}`);
  checkFa(start, 'fa EM');
  let W: Float64Array = Float64Array.from(start.W, (w) => w * c);
  let psi = Float64Array.from(start.psi, (p, j) => Math.max(p * c2, floor[j]!));

  const chunks = Math.ceil(n / SUM_CHUNK_ROWS);
  const nPad = chunks * SUM_CHUNK_ROWS;
  const ws = new Workspace(b, 'fa.em');
  const xc = b.tensor(nPad * D, { label: 'fa.em.xc', data: centredHost(data, stats.mu, c, nPad) });
  /** out = Pᵀ Q (p×q) for P (nPad×p), Q (nPad×q): per-chunk products, then the chunks summed (see em.ts rowSum) */
  const rowSum = (p: Tensor, pc: number, q: Tensor, qc: number, name: string): Tensor => {
    const out = ws.get(name, pc * qc);
    if (chunks === 1) {
      b.matmul({ a: p, b: q, c: out, m: pc, n: qc, k: SUM_CHUNK_ROWS, transA: true });
      return out;
    }
    const parts = ws.get(`${name}Parts`, chunks * pc * qc);
    b.matmul({ a: p, b: q, c: parts, m: pc, n: qc, k: SUM_CHUNK_ROWS, transA: true, batch: chunks, strideA: SUM_CHUNK_ROWS * pc, strideB: SUM_CHUNK_ROWS * qc, strideC: pc * qc });
    b.sumCols({ x: parts, out, rows: chunks, cols: pc * qc });
    return out;
  };
  const t0 = performance.now() / 1000;
  const trace: FaProgress[] = [];
  let iterations = 0;
  let converged = false;
  try {
    let prev = -Infinity;
    const bLen = Math.ceil((D * d) / VIEW_ALIGN) * VIEW_ALIGN;
    while (iterations < maxIters) {
      const f = faFactors(W, psi, D, d);
      const bT = ws.get('B', bLen);
      b.upload(bT, Float32Array.from(f.B));
      const y = ws.get('Y', nPad * d);
      b.matmul({ a: xc, b: bT, c: y, m: nPad, n: d, k: D });
      const gyT = rowSum(xc, D, y, d, 'GY');
      const ytyT = rowSum(y, d, y, d, 'YtY');
      const rowSq = explainedSquares(b, ws, y, f.cholInv, nPad, d);
      const [gyH, ytyH, sqH] = await Promise.all([b.read(gyT), b.read(ytyT), b.read(rowSq)]);
      // Σ x̃_i E_iᵀ = (X̃ᵀY) M⁻¹ and EᵀE = M⁻¹ YᵀY M⁻¹, in float64
      const G = mul(Float64Array.from(gyH.subarray(0, D * d)), f.Minv, D, d, d);
      const EtE = symmetrize(mul(mul(f.Minv, Float64Array.from(ytyH.subarray(0, d * d)), d, d, d), f.Minv, d, d, d), d);
      // log p of (W, ψ): the mean of x̃ᵀΨ⁻¹x̃ is Σ_j s_jj/ψ_j; yᵀM⁻¹y = ‖L⁻¹y‖² per row on the device (loglik.ts)
      let quad = 0;
      for (let j = 0; j < D; j++) quad += variance[j]! / psi[j]!;
      let explained = 0;
      for (let i = 0; i < n; i++) explained += sqH[i]!;
      const loglik = -0.5 * (D * LOG_2PI + f.sumLogPsi + f.logDetM + quad - explained / n) + D * Math.log(c);
      if (!Number.isFinite(loglik)) throw new KernelError('fa EM', `the log-likelihood became ${loglik} at iteration ${iterations}`);
      const p = { iteration: iterations, loglik, seconds: performance.now() / 1000 - t0 };
      trace.push(p);
      opts.onIter?.(p);
      if (Math.abs(loglik - prev) < tol) {
        converged = true;
        break;
      }
      prev = loglik;
      // M-step: S = Σ⟨zzᵀ⟩ = nM⁻¹ + EᵀE, W' = G S⁻¹, ψ'_j = s_jj − (1/n)(W'Gᵀ)_jj
      const S = Float64Array.from(EtE);
      for (let i = 0; i < d * d; i++) S[i]! += n * f.Minv[i]!;
      const Wn = mul(G, factorSpd(symmetrize(S, d), d, 'fa EM: Σ⟨z zᵀ⟩').inverse, D, d, d);
      const psiN = new Float64Array(D);
      for (let j = 0; j < D; j++) {
        let s = 0;
        for (let k = 0; k < d; k++) s += Wn[j * d + k]! * G[j * d + k]!;
        const v = variance[j]! - s / n;
        psiN[j] = Number.isFinite(v) ? Math.max(v, floor[j]!) : NaN;
        if (!Number.isFinite(psiN[j]!)) throw new KernelError('fa EM', `ψ[${j}] became ${v} at iteration ${iterations}`);
      }
      W = Wn;
      psi = psiN;
      iterations++;
    }
  } finally {
    b.release(xc);
    ws.releaseAll();
  }
  const heywood: number[] = [];
  for (let j = 0; j < D; j++) if (psi[j]! <= floor[j]! * (1 + 1e-12)) heywood.push(j);
  const model: FaHost = { D, d, W: W.map((w) => w / c), mu: Float64Array.from(stats.mu), psi: psi.map((p) => p / c2) };
  const loglik = faMeanLogLik(model, data);
  return { model, iterations, converged, loglik, heywood, constant, trace, seconds: performance.now() / 1000 - t0 };
}
