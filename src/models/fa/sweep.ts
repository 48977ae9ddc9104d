// Choosing d for factor analysis (DESIGN.md §1.7, "Choosing d"): FA has no closed
// form, so each d is its own EM fit (fitFa, Anderson-accelerated by default), each
// started from the previous d's fit with one new column (W's first d − 1 columns
// and ψ carried over): the work of d − 1 is reused. The sweep reports each fit's
// train and held-out log-likelihood (exact, float64 host evaluation) and BIC.
// Minka's rule assumes isotropic noise and does not apply.
import type { Backend } from '../../backend.ts';
import type { Dataset } from '../../data/dataset.ts';
import { releaseData, uploadData } from '../ppca/model.ts';
import type { AccelMethod } from '../accel.ts';
import { columnStats } from '../ppca/scale.ts';
import { faMeanLogLik, fitFa, initialFa, type FaHost } from './fa.ts';

export interface FaSweepRow {
  d: number;
  train_loglik: number;
  test_loglik: number;
  /** free parameters: D d − d(d−1)/2 + 2D (W up to rotation, μ, ψ) */
  params: number;
  /** −2 ℓ + p log n, ℓ the total training log-likelihood (lower is better) */
  bic: number;
  iterations: number;
  converged: boolean;
  /** columns whose ψ ended at the floor */
  heywood: number;
}

export interface FaSweep {
  D: number;
  n_train: number;
  n_test: number;
  rows: FaSweepRow[];
  chosen: { test_loglik: number; bic: number };
}

export function faParams(D: number, d: number): number {
  return D * d - (d * (d - 1)) / 2 + 2 * D;
}

/** The fit of d − 1 with the fresh start's last column appended (ψ and μ of the fit). */
function widen(prev: FaHost, fresh: FaHost): FaHost {
  const { D, d } = fresh;
  const W = Float64Array.from(fresh.W);
  for (let j = 0; j < D; j++) for (let k = 0; k < prev.d; k++) W[j * d + k] = prev.W[j * prev.d + k]!;
  return { D, d, W, mu: prev.mu, psi: prev.psi };
}

const host = (ds: Dataset) => ({ name: ds.name, host: ds.x, n: ds.n, D: ds.D });

/** EM fits of FA for d = dMin..dMax on one upload of the training data. */
export async function faSweep(
  backend: Backend, train: Dataset, test: Dataset, dMin: number, dMax: number,
  opts: { maxIters?: number; tol?: number; seed?: number; method?: AccelMethod; onFit?: (d: number) => void } = {},
): Promise<FaSweep> {
  if (test.D !== train.D) throw new Error(`sweep: ${test.name} has ${test.D} columns, ${train.name} ${train.D}`);
  const data = uploadData(backend, train);
  const rows: FaSweepRow[] = [];
  const stats = columnStats(host(train));
  let prev: FaHost | null = null;
  try {
    for (let d = dMin; d <= dMax; d++) {
      opts.onFit?.(d);
      const fit: Parameters<typeof fitFa>[2] = { d, method: opts.method ?? 'anderson' };
      if (prev) fit.init = widen(prev, initialFa(stats.variance, stats.mu, d, (opts.seed ?? 0) + d));
      if (opts.maxIters !== undefined) fit.maxIters = opts.maxIters;
      if (opts.tol !== undefined) fit.tol = opts.tol;
      if (opts.seed !== undefined) fit.seed = opts.seed;
      const r = await fitFa(backend, data, fit);
      prev = r.model;
      const trainLl = faMeanLogLik(r.model, host(train));
      const params = faParams(train.D, d);
      rows.push({
        d, train_loglik: trainLl, test_loglik: faMeanLogLik(r.model, host(test)), params,
        bic: -2 * train.n * trainLl + params * Math.log(train.n), iterations: r.iterations, converged: r.converged, heywood: r.heywood.length,
      });
    }
  } finally {
    releaseData(backend, data);
  }
  const argBest = (y: (r: FaSweepRow) => number): number => rows.reduce((a, r) => (y(r) > y(a) ? r : a)).d;
  return {
    D: train.D, n_train: train.n, n_test: test.n, rows,
    chosen: { test_loglik: argBest((r) => r.test_loglik), bic: argBest((r) => -r.bic) },
  };
}
