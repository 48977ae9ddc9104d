// Exact log p(x_i) of PPCA in O(D·d) per point (DESIGN.md §1.1), never forming
// the D×D covariance C = W Wᵀ + σ² I:
//   log p(x) = −½ [D log 2π + (D−d) log σ² + log|M| + (‖x−μ‖² − ‖L⁻¹ Wᵀ(x−μ)‖²) / σ²],
// with M = L Lᵀ. Both squared norms come out of the Gaussian log-density kernel
// (logvar = log σ²) row by row, and the rows are summed in float64 on the host:
// summing n rows in float32 on the device loses ~1e-3 nats/sample on MNIST.
import type { Tensor } from '../../backend.ts';
import { LOG_2PI, Workspace, f32Transposed, latentFactors, type DeviceData, type PpcaModel } from './model.ts';

/** Rows per chunk so that a chunk's D-wide scratch stays near 8 MiB. */
export function chunkRowsFor(D: number, n: number, budget = 1 << 21): number {
  return Math.max(1, Math.min(n, Math.floor(budget / D)));
}

/**
 * Centers rows [r0, r0+rows) of data into xc (rows×D) on the backend:
 * gather, then xc −= 1·μᵀ (a rank-1 product accumulated in place).
 */
export function gatherCentered(model: PpcaModel, data: DeviceData, ws: Workspace, r0: number, rows: number, xc: Tensor, idxName = 'idx'): void {
  const b = model.backend;
  const idx = ws.upload(idxName, Uint32Array.from({ length: rows }, (_, i) => r0 + i));
  b.gatherRows({ src: data.x, idx, dst: xc, rows, cols: data.D });
  const ones = ws.constant('ones', rows, 1);
  b.matmul({ a: ones, b: model.mu, c: xc, m: rows, n: data.D, k: 1, alpha: -1, accumulate: true });
}

/** Exact log p(x_i) for every row of data, float64. */
export async function logLikRows(model: PpcaModel, data: DeviceData, opts: { chunkRows?: number } = {}): Promise<Float64Array> {
  const { backend: b, D, d } = model;
  if (data.D !== D) throw new Error(`ppca log-likelihood: ${data.name} has ${data.D} columns, the model D=${D}`);
  const f = latentFactors(model.wtw, model.sigma2, d);
  const R = opts.chunkRows ?? chunkRowsFor(D, data.n);
  const ws = new Workspace(b, 'ppca.loglik');
  const out = new Float64Array(data.n);
  try {
    const lv = ws.upload('logSigma2', new Float32Array([Math.log(model.sigma2)]));
    // ‖L⁻¹ y‖² for row-vector y is ‖y · L⁻ᵀ‖²
    const cholInvT = ws.upload('cholInvT', f32Transposed(f.M.cholInv, d));
    const xc = ws.get('xc', R * D);
    const zerosD = ws.get('zerosD', R * D);
    const y = ws.get('y', R * d);
    const z = ws.get('z', R * d);
    const zerosd = ws.get('zerosd', R * d);
    const a = ws.get('a', R);
    const c = ws.get('c', R);
    const constant = -0.5 * (d * LOG_2PI + f.M.logDet);
    for (let r0 = 0; r0 < data.n; r0 += R) {
      const rows = Math.min(R, data.n - r0);
      gatherCentered(model, data, ws, r0, rows, xc);
      // a_i = −½ [D log 2πσ² + ‖x_i − μ‖²/σ²]
      b.gaussianLogDensity({ x: xc, mu: zerosD, logvar: lv, out: a, rows, cols: D, logvarMode: 'scalar' });
      b.matmul({ a: xc, b: model.W, c: y, m: rows, n: d, k: D });
      b.matmul({ a: y, b: cholInvT, c: z, m: rows, n: d, k: d });
      // c_i = −½ [d log 2πσ² + ‖L⁻¹ y_i‖²/σ²]
      b.gaussianLogDensity({ x: z, mu: zerosd, logvar: lv, out: c, rows, cols: d, logvarMode: 'scalar' });
      const [ah, ch] = await Promise.all([b.read(a), b.read(c)]);
      for (let i = 0; i < rows; i++) out[r0 + i] = ah[i]! - ch[i]! + constant;
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
