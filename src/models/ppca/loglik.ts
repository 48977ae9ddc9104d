// Exact log p(x_i) of PPCA in O(D·d) per point (DESIGN.md §1.1), never forming
// the D×D covariance C = W Wᵀ + σ² I:
//   log p(x) = −½ [D log 2π + (D−d) log σ² + log|M| + (‖x−μ‖² − ‖L⁻¹ Wᵀ(x−μ)‖²) / σ²],
// with M = WᵀW + σ²I = L Lᵀ. The O(n·D·d) part, y = Wᵀ(x−μ) and ‖L⁻¹y‖² per row,
// runs on the backend (explainedSquares); ‖x−μ‖², WᵀW and the sum over rows are
// float64 on the host (logLikFromSquares). The EM engine (em.ts) evaluates its
// iterates with the same two functions.
import { KernelError, type Backend, type Tensor } from '../../backend.ts';
import { transpose, type Mat } from './linalg.ts';
import {
  LOG_2PI, Workspace, centeredRowNorms, dataParts, gramOf, latentFactors, type DataPart, type DeviceData, type PpcaModel,
} from './model.ts';
import { centreRows } from './posterior.ts';

/** Rows per chunk so that a chunk's D-wide scratch stays near 8 MiB. */
export function chunkRowsFor(D: number, n: number, budget = 1 << 21): number {
  return Math.max(1, Math.min(n, Math.floor(budget / D)));
}

/**
 * Centers rows [r0, r0+rows) of data into xc (rows×D) on the backend:
 * gather, then xc −= 1·μᵀ (centreRows). The rows must lie in one of data's parts.
 */
export function gatherCentered(model: PpcaModel, data: DeviceData, ws: Workspace, r0: number, rows: number, xc: Tensor, idxName = 'idx'): void {
  const b = model.backend;
  const part = dataParts(data).find((p) => r0 >= p.r0 && r0 + rows <= p.r0 + p.rows);
  if (!part) throw new KernelError('ppca', `rows ${r0}..${r0 + rows - 1} of ${data.name} span two device buffers; gather them per buffer`);
  const idx = ws.upload(idxName, Uint32Array.from({ length: rows }, (_, i) => r0 - part.r0 + i));
  b.gatherRows({ src: part.x, idx, dst: xc, rows, cols: data.D });
  centreRows(b, ws, xc, model.mu, rows, data.D);
}

/**
 * Blocks of at most `nr` consecutive rows, each within one of the device buffers holding
 * the data: [buffer, first row, rows]. With one buffer: r0 = 0, nr, 2nr, …; with several,
 * the same within each buffer (a block never spans two).
 */
export function rowBlocks(data: DeviceData, nr: number): [DataPart, number, number][] {
  return dataParts(data).flatMap((p) => Array.from({ length: Math.ceil(p.rows / nr) }, (_, k): [DataPart, number, number] => [p, p.r0 + k * nr, Math.min(nr, p.rows - k * nr)]));
}

/**
 * ‖L⁻¹ y_i‖² for the first `rows` rows of y (rows×d), L the Cholesky factor of
 * M (queued; the returned tensor is ws's 'rowSq'): z = Y L⁻ᵀ, then one dot
 * product per row (a batch of 1×1 products). Not the Gaussian log-density
 * kernel with logvar = log σ²: float32 log σ² (and exp of it) is off by up to
 * ~2e-7 relative, the same for every row, and the log-likelihood multiplies
 * that by about Σ‖L⁻¹y‖²/2nσ² ≈ 1,800 on MNIST d = 50 — up to 4e-4 nats/sample
 * that does not average out (docs/ppca-results.md). Here σ² enters only on the
 * host, in float64 (then within 3e-5 of a float64 evaluation).
 */
export function explainedSquares(b: Backend, ws: Workspace, y: Tensor, cholInv: Mat, rows: number, d: number): Tensor {
  const z = whitenedLatents(b, ws, y, cholInv, rows, d);
  const rowSq = ws.get('rowSq', rows);
  // a batch is one workgroup per product on WebGPU (≤ 65,535 per dimension): blocks of rows
  for (let r0 = 0; r0 < rows; r0 += DOT_BATCH) {
    const nr = Math.min(DOT_BATCH, rows - r0);
    const zb = b.view(z, r0 * d, nr * d, 'z rows');
    const out = b.view(rowSq, r0, nr, 'rowSq rows');
    b.matmul({ a: zb, b: zb, c: out, m: 1, n: 1, k: d, transB: true, batch: nr, strideA: d, strideB: d, strideC: 1 });
  }
  return rowSq;
}

/** z = Y L⁻ᵀ (rows×d, queued; ws's 'z'), the half of explainedSquares before the per-row dot products. */
export function whitenedLatents(b: Backend, ws: Workspace, y: Tensor, cholInv: Mat, rows: number, d: number): Tensor {
  // L⁻ᵀ as a float32 pair hi + lo: rounding L⁻ᵀ once to float32 is also an error
  // shared by every row (same amplification; 3e-2 nats/sample at σ = 0.01 on
  // the tests' D = 30 problem, ~5e-5 on MNIST d = 50), the pair's is ~1e-14
  const t = transpose(cholInv, d, d);
  const hi = Float32Array.from(t);
  const lo = Float32Array.from(t, (v, i) => v - hi[i]!);
  const z = ws.get('z', rows * d);
  b.matmul({ a: y, b: ws.upload('cholInvT', hi), c: z, m: rows, n: d, k: d });
  b.matmul({ a: y, b: ws.upload('cholInvTLo', lo), c: z, m: rows, n: d, k: d, accumulate: true });
  return z;
}

/** rows per batched dot-product call (a multiple of VIEW_ALIGN, so the views of z and rowSq align) */
const DOT_BATCH = 32768;

/**
 * log p(x) from ‖x−μ‖² and ‖L⁻¹Wᵀ(x−μ)‖², in float64 — of one row, or the mean
 * over rows when given the two means (the formula is linear in them).
 */
export function logLikFromSquares(centered: number, explained: number, sigma2: number, D: number, d: number, logDetM: number): number {
  return -0.5 * (D * LOG_2PI + (D - d) * Math.log(sigma2) + logDetM + (centered - explained) / sigma2);
}

/**
 * Exact log p(x_i) for every row of data, float64. WᵀW is that of the stored W,
 * in float64 (model.wtw may be a float32 device product, as the stochastic
 * fitters keep it: through M its error is amplified like log σ²'s, see em.ts).
 */
export async function logLikRows(model: PpcaModel, data: DeviceData, opts: { chunkRows?: number } = {}): Promise<Float64Array> {
  const { backend: b, D, d } = model;
  if (data.D !== D) throw new Error(`ppca log-likelihood: ${data.name} has ${data.D} columns, the model D=${D}`);
  const [W, mu] = await Promise.all([b.read(model.W), b.read(model.mu)]);
  const f = latentFactors(gramOf(W.subarray(0, D * d), D, d), model.sigma2, d);
  const centered = centeredRowNorms(data, mu);
  const R = opts.chunkRows ?? chunkRowsFor(D, data.n);
  const ws = new Workspace(b, 'ppca.loglik');
  const out = new Float64Array(data.n);
  try {
    const xc = ws.get('xc', R * D);
    const y = ws.get('y', R * d);
    for (const [, r0, rows] of rowBlocks(data, R)) {
      gatherCentered(model, data, ws, r0, rows, xc);
      b.matmul({ a: xc, b: model.W, c: y, m: rows, n: d, k: D });
      const explained = await b.read(explainedSquares(b, ws, y, f.M.cholInv, rows, d));
      for (let i = 0; i < rows; i++) out[r0 + i] = logLikFromSquares(centered[r0 + i]!, explained[i]!, model.sigma2, D, d, f.M.logDet);
    }
  } finally {
    ws.releaseAll();
  }
  return out;
}

export function mean(a: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i]!;
  return s / a.length;
}

/** Mean exact log-likelihood per sample (nats). */
export async function meanLogLik(model: PpcaModel, data: DeviceData): Promise<number> {
  return mean(await logLikRows(model, data));
}
