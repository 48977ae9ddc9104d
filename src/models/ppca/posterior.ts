// The PPCA E-step (DESIGN.md §1.1–1.2): given a row x, z is N(E, σ²M⁻¹) with
// M = WᵀW + σ²I and E = M⁻¹Wᵀ(x − μ); the covariance is the same for every row.
// The d×d algebra is float64 on the host (latentFactors); the O(rows·D·d)
// products run on the backend. Stochastic EM, the estimators and the app's
// pictures all take their posteriors from here.
import type { Backend, Tensor } from '../../backend.ts';
import { toF32, type Mat } from './linalg.ts';
import { Workspace, latentFactors, type LatentFactors, type PpcaModel } from './model.ts';

/** The posterior's shared factors: float64 on the host and float32 on the backend (tensors of the Workspace given). */
export interface Posterior {
  factors: LatentFactors;
  /** M⁻¹ (d×d) */
  Minv: Tensor;
  /** lower Cholesky factor L of σ²M⁻¹ (d×d): a draw is z = E + L ε (reparamChol) */
  chol: Tensor;
}

/** Factors M = WᵀW + σ²I (float64) and uploads M⁻¹ and chol(σ²M⁻¹) into ws ('Minv', 'postChol'). */
export function uploadPosterior(ws: Workspace, wtw: Mat, sigma2: number, d: number): Posterior {
  const factors = latentFactors(wtw, sigma2, d);
  return { factors, Minv: ws.upload('Minv', toF32(factors.M.inverse)), chol: ws.upload('postChol', toF32(factors.postChol)) };
}

/**
 * x −= 1·μᵀ in place for rows×D rows on the backend (queued): one rounding per
 * entry, where x·W − μ·W would cancel when a column's offset is large next to its spread.
 */
export function centreRows(b: Backend, ws: Workspace, x: Tensor, mu: Tensor, rows: number, D: number): void {
  b.matmul({ a: ws.constant('ones', rows, 1), b: mu, c: x, m: rows, n: D, k: 1, alpha: -1, accumulate: true });
}

export interface PosteriorMeansParams {
  /** rows×D, already centred (centreRows) */
  xc: Tensor;
  /** D×d */
  W: Tensor;
  Minv: Tensor;
  /** rows×d, written */
  e: Tensor;
  rows: number;
  D: number;
  d: number;
}

/** E = (x − μ) W M⁻¹ (rows×d; M⁻¹ is symmetric) for centred rows, queued; y = (x − μ) W is ws scratch. */
export function posteriorMeans(b: Backend, ws: Workspace, p: PosteriorMeansParams): void {
  const { rows, D, d } = p;
  const y = ws.get('posterior.y', rows * d);
  b.matmul({ a: p.xc, b: p.W, c: y, m: rows, n: d, k: D });
  b.matmul({ a: y, b: p.Minv, c: p.e, m: rows, n: d, k: d });
}

/** E (rows×d, a new tensor the caller releases) of `rows` host rows under a model. */
export function posteriorMeansOf(model: PpcaModel, x: Float32Array, rows: number): Tensor {
  const { backend: b, D, d } = model;
  const ws = new Workspace(b, 'ppca.posterior');
  try {
    const xc = ws.upload('x', x.subarray(0, rows * D));
    const post = uploadPosterior(ws, model.wtw, model.sigma2, d);
    const e = b.tensor(rows * d, { label: 'ppca.E' });
    centreRows(b, ws, xc, model.mu, rows, D);
    posteriorMeans(b, ws, { xc, W: model.W, Minv: post.Minv, e, rows, D, d });
    return e;
  } finally {
    ws.releaseAll();
  }
}
