// Shared by the factor-analysis tests: a dense float64 reference of log p(x) and
// synthetic data from a known FA model.
import { CholeskyDecomposition, Matrix } from 'ml-matrix';
import type { Backend } from '../src/backend.ts';
import type { FaHost } from '../src/models/fa/fa.ts';
import { releaseData, uploadData, type DeviceData } from '../src/models/ppca/model.ts';
import { rng } from './gpu.ts';

/** log N(x | μ, W Wᵀ + diag ψ) per row with the dense D×D covariance (ml-matrix's Cholesky and solve), float64. */
export function denseLogLik(h: FaHost, x: Float32Array, n: number): Float64Array {
  const { D, d } = h;
  const C = Matrix.zeros(D, D);
  for (let a = 0; a < D; a++) {
    for (let b = 0; b < D; b++) {
      let s = a === b ? h.psi[a]! : 0;
      for (let j = 0; j < d; j++) s += h.W[a * d + j]! * h.W[b * d + j]!;
      C.set(a, b, s);
    }
  }
  const chol = new CholeskyDecomposition(C);
  const L = chol.lowerTriangularMatrix;
  let logDet = 0;
  for (let j = 0; j < D; j++) logDet += 2 * Math.log(L.get(j, j));
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const r = Matrix.columnVector(Array.from({ length: D }, (_, a) => x[i * D + a]! - h.mu[a]!));
    const quad = r.transpose().mmul(chol.solve(r)).get(0, 0);
    out[i] = -0.5 * (D * Math.log(2 * Math.PI) + logDet + quad);
  }
  return out;
}

export function normal(r: () => number): () => number {
  return () => Math.sqrt(-2 * Math.log(1 - r())) * Math.cos(2 * Math.PI * r());
}

/** A known FA model with heteroscedastic noise (ψ from 0.05 to 0.5) and n rows drawn from it. */
export function synthetic(D: number, d: number, n: number, seed: number): { truth: FaHost; x: Float32Array } {
  const g = normal(rng(seed));
  const W = Float64Array.from({ length: D * d }, () => g());
  const mu = Float64Array.from({ length: D }, () => 2 * g());
  const psi = Float64Array.from({ length: D }, (_, j) => 0.05 + (0.45 * j) / (D - 1));
  const x = new Float32Array(n * D);
  const z = new Float64Array(d);
  for (let i = 0; i < n; i++) {
    for (let k = 0; k < d; k++) z[k] = g();
    for (let r = 0; r < D; r++) {
      let s = mu[r]! + Math.sqrt(psi[r]!) * g();
      for (let k = 0; k < d; k++) s += W[r * d + k]! * z[k]!;
      x[i * D + r] = s;
    }
  }
  return { truth: { D, d, W, mu, psi }, x };
}


/** Runs f on the rows uploaded to b (in buffers of chunkRows rows when given), released afterwards. */
export async function withData<T>(b: Backend, ds: { name: string; x: Float32Array; n: number; D: number }, chunkRows: number | undefined, f: (data: DeviceData) => Promise<T>): Promise<T> {
  const data = uploadData(b, ds, chunkRows === undefined ? {} : { chunkRows });
  try {
    return await f(data);
  } finally {
    releaseData(b, data);
  }
}
