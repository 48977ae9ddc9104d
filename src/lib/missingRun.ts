// PPCA with missing values (src/models/ppca/missing.ts: NaN marks a missing
// entry) as a ModelRun. A tick is K EM iterations over the observed entries
// from the current parameters (fitPpcaMissingOn from them, its sums on the
// run's backend; EM needs nothing else to resume). The objective is the exact
// observed-data log-likelihood. Pictures on the host: posterior means E = M_O⁻¹W_Oᵀ(x_O − μ_O)
// with M_O = W_OᵀW_O + σ²I over each row's observed entries, reconstructions
// W E + μ; `impute` fills the NaN entries by the posterior mean and, to compare,
// by the observed training means of their columns.
import type { Backend } from '../backend.ts';
import type { Dataset } from '../data/dataset.ts';
import { factorSpd } from '../models/ppca/linalg.ts';
import { imputeMissing, missingMeanLogLik, observedMeans, type MissingData } from '../models/ppca/missing.ts';
import { fitPpcaMissingOn } from '../models/ppca/missingOn.ts';
import type { PpcaHost } from '../models/ppca/model.ts';
import { LinearHostRun, type LinearParams } from './linearRun.ts';
import { encodeModelFile } from './modelFiles.ts';
import type { EstimatorRow, Imputation, ModelRun, ModelRunOptions, ResolvedRunConfig, RunTick } from './run.ts';

/** EM has converged when an iteration moves the log-likelihood per row by less than this */
const EM_TOL = 1e-6;

const missingOf = (ds: Dataset): MissingData => ({ name: ds.name, x: ds.x, n: ds.n, D: ds.D });

class MissingRun extends LinearHostRun implements ModelRun {
  readonly kind = 'ppca-missing' as const;
  readonly D: number;
  readonly latent: number;
  readonly objectiveName = 'observed-data log-likelihood per sample';
  readonly unitName = 'EM iteration';
  private lastTrain: number;
  /** the training columns' means over their observed entries: the mean imputation */
  private readonly colMeans: Float64Array;

  constructor(
    readonly config: ResolvedRunConfig,
    private params: PpcaHost,
    loglik: number,
    private step: number,
    private readonly train: Dataset,
    private readonly test: Dataset,
    private readonly be: Backend,
    private readonly dataMeta: Record<string, string>,
  ) {
    super();
    this.D = params.D;
    this.latent = params.d;
    this.lastTrain = loglik;
    this.colMeans = observedMeans(missingOf(train));
  }

  protected linear(): LinearParams {
    return this.params;
  }

  async tick(): Promise<RunTick> {
    const K = this.config.stepsPerTick;
    const r = await fitPpcaMissingOn(this.be, missingOf(this.train), this.latent, { iters: K, tol: 0, init: this.params, seed: this.config.seed });
    const change = Math.abs(r.loglik - this.lastTrain);
    this.params = { D: r.D, d: r.d, W: r.W, mu: r.mu, sigma2: r.sigma2 };
    this.lastTrain = r.loglik;
    this.step += r.iterations;
    return { samples: r.iterations * this.train.n, steps: r.iterations, trainObjective: r.loglik, converged: change < EM_TOL };
  }

  async evaluate(): Promise<{ train: number; test: number }> {
    return { train: this.lastTrain, test: missingMeanLogLik(this.params, missingOf(this.test)) };
  }

  /** Posterior means over each row's observed entries (rows×d). */
  protected means(x: Float32Array, rows: number): Float64Array {
    const { D, d, W, mu, sigma2 } = this.params;
    const E = new Float64Array(rows * d);
    const M = new Float64Array(d * d);
    const y = new Float64Array(d);
    for (let i = 0; i < rows; i++) {
      M.fill(0);
      y.fill(0);
      for (let a = 0; a < d; a++) M[a * d + a] = sigma2;
      for (let j = 0; j < D; j++) {
        const v = x[i * D + j]!;
        if (Number.isNaN(v)) continue;
        const r = v - mu[j]!;
        for (let a = 0; a < d; a++) {
          const wa = W[j * d + a]!;
          y[a]! += wa * r;
          for (let b = 0; b < d; b++) M[a * d + b]! += wa * W[j * d + b]!;
        }
      }
      const Minv = factorSpd(M, d, 'ppca missing-data posterior').inverse;
      for (let a = 0; a < d; a++) {
        let s = 0;
        for (let b = 0; b < d; b++) s += Minv[a * d + b]! * y[b]!;
        E[i * d + a] = s;
      }
    }
    return E;
  }

  async impute(x: Float32Array, rows: number): Promise<Imputation> {
    const data = { x: x.subarray(0, rows * this.D), n: rows, D: this.D };
    const mean = Float32Array.from(data.x, (v, k) => (Number.isNaN(v) ? this.colMeans[k % this.D]! : v));
    return { posterior: imputeMissing(this.params, data), mean };
  }

  async estimators(x: Float32Array, rows: number): Promise<EstimatorRow[]> {
    return [{ name: 'exact (observed entries)', value: missingMeanLogLik(this.params, { x: x.subarray(0, rows * this.D), n: rows, D: this.D }) }];
  }

  /** A PPCA model file (the CLI's format), with the run's kind and step. */
  async save(): Promise<Uint8Array> {
    return encodeModelFile(this.params, {
      metadata: { ...this.dataMeta, method: 'missing', kind: this.kind, step: String(this.step), train_loglik: String(this.lastTrain) },
    });
  }

  dispose(): void {}
}

/**
 * A run of PPCA with missing values on `train` (NaN marks a missing entry),
 * scored on `test`; from `init` (a model file's parameters, resumed at `step`)
 * or, when null, from fitPpcaMissing's start (the closed form of the
 * mean-imputed data).
 */
export async function createMissingRun(
  backend: Backend, cfg: ResolvedRunConfig, train: Dataset, test: Dataset, init: PpcaHost | null, step: number, opts: ModelRunOptions,
): Promise<ModelRun> {
  if (test.D !== train.D) throw new Error(`${test.name} has ${test.D} columns but ${train.name} has ${train.D}`);
  if (init && init.D !== train.D) throw new Error(`the model has D = ${init.D}; this dataset has D = ${train.D}`);
  const d = init?.d ?? cfg.latent;
  if (!(d < train.D)) throw new Error(`${train.name}: latent dimension d = ${d} must be smaller than the data dimension D = ${train.D}`);
  // no iterations: the starting parameters and their log-likelihood (the data's checks run here)
  const start = await fitPpcaMissingOn(backend, missingOf(train), d, { iters: 0, seed: cfg.seed, ...(init ? { init } : {}) });
  const params: PpcaHost = { D: start.D, d: start.d, W: start.W, mu: start.mu, sigma2: start.sigma2 };
  return new MissingRun({ ...cfg, latent: d }, params, start.loglik, step, train, test, backend, opts.metadata ?? {});
}
