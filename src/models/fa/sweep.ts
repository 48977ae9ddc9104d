// Choosing d for factor analysis (DESIGN.md §1.7, "Choosing d"): FA has no closed
// form, so each d is its own EM fit (fitFa); the sweep reports each fit's train and
// held-out log-likelihood (exact, float64 host evaluation) and BIC. Minka's rule
// assumes isotropic noise and does not apply.
import type { Backend } from '../../backend.ts';
import type { Dataset } from '../../data/dataset.ts';
import { releaseData, uploadData } from '../ppca/model.ts';
import { faMeanLogLik, fitFa } from './fa.ts';

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

const host = (ds: Dataset) => ({ name: ds.name, host: ds.x, n: ds.n, D: ds.D });

/** EM fits of FA for d = dMin..dMax on one upload of the training data. */
export async function faSweep(
  backend: Backend, train: Dataset, test: Dataset, dMin: number, dMax: number,
  opts: { maxIters?: number; tol?: number; seed?: number; onFit?: (d: number) => void } = {},
): Promise<FaSweep> {
  if (test.D !== train.D) throw new Error(`sweep: ${test.name} has ${test.D} columns, ${train.name} ${train.D}`);
  const data = uploadData(backend, train);
  const rows: FaSweepRow[] = [];
  try {
    for (let d = dMin; d <= dMax; d++) {
      opts.onFit?.(d);
      const fit: Parameters<typeof fitFa>[2] = { d };
      if (opts.maxIters !== undefined) fit.maxIters = opts.maxIters;
      if (opts.tol !== undefined) fit.tol = opts.tol;
      if (opts.seed !== undefined) fit.seed = opts.seed;
      const r = await fitFa(backend, data, fit);
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
