// Factor analysis (DESIGN.md §1.7): x = W z + μ + ε, z ~ N(0, I_d), ε ~ N(0, diag ψ).
// Exact EM, with the data on the backend as PPCA's engine keeps them (em.ts):
// the rows are centred on the host in float64, scaled by a power of two
// (scale.ts internalScale) and uploaded once, in buffers of at most one storage
// binding, each padded to whole chunks of rows. One EM map F(W, ψ) is one
// submission with three read-backs per buffer (their sums added in float64):
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
import { KernelError, VIEW_ALIGN, dataChunkRows, need, type Backend, type Tensor } from '../../backend.ts';
import { ACCEL_METHODS, accelerate, type AccelMethod, type AccelOptions } from '../accel.ts';
import { factorSpd, mul, symmetrize, transpose, type Mat } from '../ppca/linalg.ts';
import { LOG_2PI, Workspace, checkShape, type DeviceData, type HostData } from '../ppca/model.ts';
import { centredHost, columnStats, internalScale, type ColumnStats } from '../ppca/scale.ts';
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
  /** plain EM, or SQUAREM- or Anderson-accelerated EM (default 'em'); every method keeps the ψ floor */
  method?: AccelMethod;
  /** Anderson acceleration: past iterates combined (default 10) */
  memory?: number;
  /** rows per device buffer of the data (default: one storage binding's worth; LATENTGPU_CHUNK_ROWS forces one) */
  chunkRows?: number;
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
  method: AccelMethod;
  /** EM maps (E- and M-steps) spent */
  iterations: number;
  /** accepted iterates (SQUAREM: cycles; plain EM: iterations) */
  cycles: number;
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
export const FA_SUM_CHUNK_ROWS = 256;
const SUM_CHUNK_ROWS = FA_SUM_CHUNK_ROWS;

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
export interface FaFactors {
  B: Float64Array;
  M: Mat;
  Minv: Mat;
  cholInv: Mat;
  logDetM: number;
  sumLogPsi: number;
}

export function faFactors(W: Float64Array, psi: Float64Array, D: number, d: number): FaFactors {
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

/**
 * out = Pᵀ Q (pc×qc) for P (rows×pc), Q (rows×qc), queued: per chunk of
 * min(rows, FA_SUM_CHUNK_ROWS) rows, then the chunks added by the tree reduction
 * (a float32 sum of thousands of products in one accumulator carries ~n·ε; em.ts rowSum).
 */
export function rowSumProduct(b: Backend, ws: Workspace, p: Tensor, pc: number, q: Tensor, qc: number, rows: number, name: string): Tensor {
  const R = Math.min(rows, SUM_CHUNK_ROWS);
  const chunks = rows / R;
  if (!Number.isInteger(chunks)) throw new KernelError('fa', `${rows} rows are not whole chunks of ${R}`);
  const out = ws.get(name, pc * qc);
  if (chunks === 1) {
    b.matmul({ a: p, b: q, c: out, m: pc, n: qc, k: R, transA: true });
    return out;
  }
  const parts = ws.get(`${name}Parts`, chunks * pc * qc);
  b.matmul({ a: p, b: q, c: parts, m: pc, n: qc, k: R, transA: true, batch: chunks, strideA: R * pc, strideB: R * qc, strideC: pc * qc });
  b.sumCols({ x: parts, out, rows: chunks, cols: pc * qc });
  return out;
}

/**
 * Queues the E-step products of `rows` centred rows x (rows×D; rows a multiple of
 * min(rows, FA_SUM_CHUNK_ROWS), extra rows zero): Y = X B (B = Ψ⁻¹W, float32), XᵀY (D×d)
 * and YᵀY (d×d) summed chunk by chunk and the chunks then added by the tree reduction
 * (as em.ts rowSum), and ‖L⁻¹y_i‖² per row when `cholInv` is given (loglik.ts).
 */
export function faProducts(b: Backend, ws: Workspace, x: Tensor, rows: number, D: number, f: FaFactors, d: number, withSquares: boolean): { xty: Tensor; yty: Tensor; rowSq: Tensor | null } {
  const bT = ws.get('B', Math.ceil((D * d) / VIEW_ALIGN) * VIEW_ALIGN);
  b.upload(bT, Float32Array.from(f.B));
  const y = ws.get('Y', rows * d);
  b.matmul({ a: x, b: bT, c: y, m: rows, n: d, k: D });
  const rowSum = (p: Tensor, pc: number, q: Tensor, qc: number, name: string): Tensor => rowSumProduct(b, ws, p, pc, q, qc, rows, name);
  const xty = rowSum(x, D, y, d, 'XtY');
  const yty = rowSum(y, d, y, d, 'YtY');
  const rowSq = withSquares ? explainedSquares(b, ws, y, f.cholInv, rows, d) : null;
  return { xty, yty, rowSq };
}

/** The E-step statistics in float64: Σ x̃ E[z]ᵀ = (XᵀY)M⁻¹ and Σ⟨zzᵀ⟩ = n M⁻¹ + M⁻¹(YᵀY)M⁻¹ over n rows. */
export function faEStats(xty: ArrayLike<number>, yty: ArrayLike<number>, f: FaFactors, n: number, D: number, d: number): { G: Float64Array; S: Mat } {
  const G = mul(Float64Array.from({ length: D * d }, (_, i) => xty[i]!), f.Minv, D, d, d);
  const S = symmetrize(mul(mul(f.Minv, Float64Array.from({ length: d * d }, (_, i) => yty[i]!), d, d, d), f.Minv, d, d, d), d);
  for (let i = 0; i < d * d; i++) S[i]! += n * f.Minv[i]!;
  return { G, S };
}

/**
 * The M-step from statistics averaged over rows, G = avg x̃ E[z]ᵀ and S = avg ⟨zzᵀ⟩:
 * W' = G S⁻¹, ψ'_j = max(s_jj − (W'Gᵀ)_jj, floor_j), s_jj the column variance.
 */
export function faMStep(G: Float64Array, S: Mat, variance: Float64Array, floor: Float64Array, d: number, kernel = 'fa EM'): { W: Float64Array; psi: Float64Array } {
  const D = variance.length;
  const W = mul(G, factorSpd(symmetrize(S, d), d, `${kernel}: Σ⟨z zᵀ⟩`).inverse, D, d, d);
  const psi = new Float64Array(D);
  for (let j = 0; j < D; j++) {
    let s = 0;
    for (let k = 0; k < d; k++) s += W[j * d + k]! * G[j * d + k]!;
    const v = variance[j]! - s;
    if (!Number.isFinite(v)) throw new KernelError(kernel, `ψ[${j}] became ${v}`);
    psi[j] = Math.max(v, floor[j]!);
  }
  return { W, psi };
}

/** log p per sample of (W, ψ) from Σ_j s_jj/ψ_j and the mean of ‖L⁻¹y_i‖² (fitted space; D log c added by the caller). */
function logLikOf(f: FaFactors, variance: Float64Array, psi: Float64Array, explainedMean: number): number {
  const D = variance.length;
  let quad = 0;
  for (let j = 0; j < D; j++) quad += variance[j]! / psi[j]!;
  return -0.5 * (D * LOG_2PI + f.sumLogPsi + f.logDetM + quad - explainedMean);
}

/**
 * Exact EM's device state: the centred, scaled rows in buffers of at most one
 * storage binding (a multiple of FA_SUM_CHUNK_ROWS rows each, the last padded with
 * zero rows), each with its own scratch; one map reads every buffer's products back
 * and adds them in float64.
 */
class FaEngine {
  private readonly blocks: { x: Tensor; rows: number; padded: number; ws: Workspace }[] = [];

  constructor(private readonly b: Backend, data: DeviceData, mu: Float64Array, scale: number, private readonly d: number, readonly variance: Float64Array, chunkRows?: number) {
    const { n, D } = data;
    const R = Math.min(Math.ceil(n / SUM_CHUNK_ROWS) * SUM_CHUNK_ROWS, dataChunkRows(b, D, { align: SUM_CHUNK_ROWS, override: chunkRows }));
    try {
      for (let r0 = 0; r0 < n; r0 += R) {
        const rows = Math.min(R, n - r0);
        const padded = Math.ceil(rows / SUM_CHUNK_ROWS) * SUM_CHUNK_ROWS;
        const host = centredHost({ host: data.host.subarray(r0 * D, (r0 + rows) * D), n: rows, D }, mu, scale, padded);
        const k = this.blocks.length;
        this.blocks.push({ x: b.tensor(padded * D, { label: `fa.em.xc${k}`, data: host }), rows, padded, ws: new Workspace(b, `fa.em${k}`) });
      }
    } catch (e) {
      this.release();
      throw e;
    }
  }

  get buffers(): number {
    return this.blocks.length;
  }

  /** One E-step at (W, ψ) (fitted space): log p per sample of (W, ψ), then the M-step. */
  async map(W: Float64Array, psi: Float64Array, floor: Float64Array): Promise<{ loglik: number; W: Float64Array; psi: Float64Array }> {
    const { b, d, variance } = this;
    const D = variance.length;
    // evaluate at the W whose B = Ψ⁻¹W is exactly the float32 B the device uses: M from the
    // float64 B while the device multiplies by its rounding is an error shared by every row,
    // which made the log-likelihood jump by ~1e-5 nats between iterates (synthetic D = 24)
    const f = faFactors(deviceExactW(W, psi, d), psi, D, d);
    const queued = this.blocks.map((k) => faProducts(b, k.ws, k.x, k.padded, D, f, d, true));
    const read = await Promise.all(queued.map((q) => Promise.all([b.read(q.xty), b.read(q.yty), b.read(q.rowSq!)])));
    const xty = new Float64Array(D * d);
    const yty = new Float64Array(d * d);
    let explained = 0;
    let n = 0;
    read.forEach(([a, c, sq], k) => {
      for (let i = 0; i < D * d; i++) xty[i]! += a[i]!;
      for (let i = 0; i < d * d; i++) yty[i]! += c[i]!;
      const rows = this.blocks[k]!.rows;
      for (let i = 0; i < rows; i++) explained += sq[i]!;
      n += rows;
    });
    const loglik = logLikOf(f, variance, psi, explained / n);
    if (!Number.isFinite(loglik)) return { loglik, W, psi };
    const { G, S } = faEStats(xty, yty, f, n, D, d);
    for (let i = 0; i < G.length; i++) G[i]! /= n;
    for (let i = 0; i < S.length; i++) S[i]! /= n;
    const next = faMStep(G, S, variance, floor, d);
    return { loglik, ...next };
  }

  release(): void {
    for (const k of this.blocks) {
      this.b.release(k.x);
      k.ws.releaseAll();
    }
    this.blocks.length = 0;
  }
}

/** W with Ψ⁻¹W rounded to float32: W_rk = fround(W_rk/ψ_r)·ψ_r (within 6e-8 relative of W). */
export function deviceExactW(W: Float64Array, psi: Float64Array, d: number): Float64Array {
  return W.map((w, i) => Math.fround(w / psi[Math.floor(i / d)]!) * psi[Math.floor(i / d)]!);
}

/** The columns whose ψ sits at the floor (Heywood cases; constant columns included). */
function floorHits(psi: Float64Array, floor: Float64Array): number[] {
  const out: number[] = [];
  for (let j = 0; j < psi.length; j++) if (psi[j]! <= floor[j]! * (1 + 1e-9)) out.push(j);
  return out;
}

/** What every FA fit checks and prepares: the column statistics, the internal scale and the ψ floor (fitted space). */
export function faSetup(data: HostData, d: number, kernel: string): { stats: ColumnStats; constant: number[]; c: number; variance: Float64Array; floor: Float64Array } {
  const { D } = data;
  checkShape(kernel, D, d);
  const stats = columnStats(data);
  const constant: number[] = [];
  for (let j = 0; j < D; j++) if (!(stats.variance[j]! > 0)) constant.push(j);
  need(D - constant.length > d, kernel, `${data.name ?? 'data'}: only ${D - constant.length} of ${D} columns vary, fewer than d + 1 = ${d + 1}; use a smaller latent dimension`);
  // fitted space: x' = c(x − μ), W' = cW, ψ' = c²ψ; log p(x) = log p(x') + D log c
  const c = internalScale(stats);
  const variance = Float64Array.from(stats.variance, (v) => v * c * c);
  return { stats, constant, c, variance, floor: psiFloor(variance) };
}

/** The starting (W, ψ) in the fitted space: opts.init or initialFa, ψ floored. */
export function faStart(init: FaHost | undefined, stats: ColumnStats, D: number, d: number, c: number, floor: Float64Array, seed: number, kernel: string): { W: Float64Array; psi: Float64Array } {
  const start = init ?? initialFa(stats.variance, stats.mu, d, seed);
  if (start.D !== D || start.d !== d) throw new KernelError(kernel, `initial model is ${start.D}×${start.d}, data need ${D}×${d}`);
  checkFa(start, kernel);
  return { W: Float64Array.from(start.W, (w) => w * c), psi: Float64Array.from(start.psi, (p, j) => Math.max(p * c * c, floor[j]!)) };
}

/** An exact-EM fit set up: its engine, the map over θ = (W, log ψ), and the way back to data space. */
function prepareFa(backend: Backend, data: DeviceData, opts: FaOptions, maxItersDefault: number) {
  const { D } = data;
  const { d } = opts;
  const method = opts.method ?? 'em';
  if (!ACCEL_METHODS.includes(method)) throw new KernelError('fa EM', `unknown method '${String(method)}' (${ACCEL_METHODS.join(' | ')})`);
  const maxIters = opts.maxIters ?? maxItersDefault;
  const tol = opts.tol ?? FA_DEFAULTS.tol;
  need(Number.isInteger(maxIters) && maxIters >= 1, 'fa EM', `maxIters must be a positive integer, got ${maxIters}`);
  need(tol > 0, 'fa EM', `tol must be positive, got ${tol}`);
  const { stats, constant, c, variance, floor } = faSetup(data, d, 'fa EM');
  const start = faStart(opts.init, stats, D, d, c, floor, opts.seed ?? 0, 'fa EM');
  const engine = new FaEngine(backend, data, stats.mu, c, d, variance, opts.chunkRows);
  const t0 = performance.now() / 1000;
  const trace: FaProgress[] = [];
  const logFloor = floor.map(Math.log);
  const Dd = D * d;
  const pack = (W: Float64Array, psi: Float64Array): Float64Array => {
    const t = new Float64Array(Dd + D);
    t.set(W);
    for (let j = 0; j < D; j++) t[Dd + j] = Math.log(psi[j]!);
    return t;
  };
  const unpack = (t: Float64Array): { W: Float64Array; psi: Float64Array } => ({ W: t.subarray(0, Dd), psi: Float64Array.from(t.subarray(Dd), Math.exp) });
  const logC = D * Math.log(c);
  const map = async (theta: Float64Array): Promise<{ loglik: number; next: Float64Array }> => {
    const { W, psi } = unpack(theta);
    const m = await engine.map(W, psi, floor);
    // a non-finite log-likelihood of an extrapolated point is rejected by accel.ts; of an EM iterate it is an error
    return { loglik: m.loglik + logC, next: pack(m.W, m.psi) };
  };
  const accelOptions = (onAccept?: (loglik: number) => void): AccelOptions => ({
    // the device's figure is float32 per row: ~1e-5 nats/sample of noise between iterates
    maxIters, tol, slack: tol, ...(opts.memory !== undefined ? { memory: opts.memory } : {}),
    project: (t) => {
      for (let j = 0; j < D; j++) t[Dd + j] = Math.max(t[Dd + j]!, logFloor[j]!);
    },
    onIter: (iteration, loglik) => {
      if (!Number.isFinite(loglik)) throw new KernelError('fa EM', `the log-likelihood became ${loglik} at iteration ${iteration}`);
      const p = { iteration, loglik, seconds: performance.now() / 1000 - t0 };
      trace.push(p);
      onAccept?.(loglik);
      opts.onIter?.(p);
    },
  });
  /** data-space parameters of θ, and its columns at the floor */
  const toModel = (theta: Float64Array): { model: FaHost; heywood: number[] } => {
    const { W, psi } = unpack(theta);
    return { model: { D, d, W: W.map((w) => w / c), mu: Float64Array.from(stats.mu), psi: psi.map((p) => p / (c * c)) }, heywood: floorHits(psi, floor) };
  };
  return { method, engine, map, accelOptions, theta0: pack(start.W, start.psi), toModel, constant, trace, t0 };
}

/**
 * Fits factor analysis by exact EM (plain, SQUAREM or Anderson; opts.method) on
 * data already on the backend, in one buffer or several (DeviceData.parts).
 * The accelerations extrapolate in θ = (W, log ψ) and floor ψ after every
 * extrapolation; an extrapolated point that lowers the log-likelihood is
 * replaced by the plain EM step (accel.ts).
 */
export async function fitFa(backend: Backend, data: DeviceData, opts: FaOptions): Promise<FaResult> {
  const f = prepareFa(backend, data, opts, FA_DEFAULTS.iters);
  let r;
  try {
    r = await accelerate(f.method, f.map, f.theta0, f.accelOptions());
  } finally {
    f.engine.release();
  }
  const { model, heywood } = f.toModel(r.theta);
  const loglik = faMeanLogLik(model, data);
  return {
    model, method: f.method, iterations: r.iterations, cycles: r.cycles, converged: r.converged, loglik,
    heywood, constant: f.constant, trace: f.trace, seconds: performance.now() / 1000 - f.t0,
  };
}

/**
 * A resumable exact-EM fit: step(k) spends up to k more EM maps, keeping the
 * acceleration's history (SQUAREM's step cap, Anderson's differences) between
 * calls, so k maps at a time are the same run as one fitFa call.
 */
export interface FaEmFitter {
  /** EM maps spent so far */
  readonly maps: number;
  /** whether the fit has stopped (converged, or maxIters spent) */
  readonly done: boolean;
  readonly converged: boolean;
  /** every accepted iterate so far (device figures) */
  readonly trace: FaProgress[];
  /** runs up to k more EM maps (fewer when the fit stops) */
  step(k: number): Promise<void>;
  /** the latest accepted iterate in data space (before any step: the start) */
  model(): FaHost;
  /** columns of model() whose ψ is at the floor */
  heywood(): number[];
  /** releases the device state (also when the fit is still running: it then stops) */
  dispose(): void;
}

/** Starts a resumable exact-EM fit (opts.maxIters default: unlimited until convergence, 2³¹ maps). */
export function createFaEmFitter(backend: Backend, data: DeviceData, opts: FaOptions): FaEmFitter {
  const f = prepareFa(backend, data, opts, 2 ** 31 - 1);
  let permits = 0;
  let maps = 0;
  let waiting: (() => void) | null = null;
  let parked: (() => void) | null = null;
  let done = false;
  let converged = false;
  let failure: unknown = null;
  let disposed = false;
  let lastInput = f.theta0;
  let accepted = f.theta0;
  const gate = (): Promise<void> => {
    if (disposed) return Promise.reject(new KernelError('fa EM', 'the fitter was disposed'));
    if (permits > 0) {
      permits--;
      return Promise.resolve();
    }
    parked?.();
    return new Promise((resolve) => { waiting = resolve; });
  };
  const run = accelerate(f.method, async (theta) => {
    await gate();
    if (disposed) throw new KernelError('fa EM', 'the fitter was disposed');
    lastInput = theta;
    maps++;
    return f.map(theta);
  }, f.theta0, f.accelOptions(() => { accepted = lastInput; }));
  const finished = run.then((r) => {
    converged = r.converged;
    accepted = r.theta;
  }, (e: unknown) => {
    if (!disposed) failure = e;
  }).finally(() => {
    done = true;
    f.engine.release();
    parked?.();
  });
  return {
    get maps() { return maps; },
    get done() { return done; },
    get converged() { return converged; },
    trace: f.trace,
    async step(k) {
      need(Number.isInteger(k) && k >= 0, 'fa EM', `steps must be a non-negative integer, got ${k}`);
      if (disposed) throw new KernelError('fa EM', 'the fitter was disposed');
      if (!done && k > 0) {
        const idle = new Promise<void>((resolve) => { parked = resolve; });
        permits += k;
        const w = waiting as (() => void) | null;
        if (w) {
          waiting = null;
          permits--;
          w();
        }
        await Promise.race([idle, finished]);
        parked = null;
      }
      if (failure) throw failure;
    },
    model: () => f.toModel(accepted).model,
    heywood: () => f.toModel(accepted).heywood,
    dispose() {
      if (disposed) return;
      disposed = true;
      const w = waiting as (() => void) | null;
      waiting = null;
      w?.();
      if (done) return;
      // the run stops at its next map and releases the engine
    },
  };
}
