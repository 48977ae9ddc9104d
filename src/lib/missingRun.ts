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
import { checkMissing, imputeMissing, missingMeanLogLik, observedMeans, type MissingData } from '../models/ppca/missing.ts';
import { fitPpcaMissingOn } from '../models/ppca/missingOn.ts';
import type { PpcaHost } from '../models/ppca/model.ts';
import { LinearHostRun, type LinearParams } from './linearRun.ts';
import { FA_DEFAULTS, initialFa, type FaHost } from '../models/fa/fa.ts';
import { faToTensors, roundFa } from '../models/fa/file.ts';
import { faImpute, faMissingMeanLogLik } from '../models/fa/missing.ts';
import { fitFaMissingOn } from '../models/fa/missingOn.ts';
import { encodeSafetensors } from '../io/safetensors.ts';
import { encodeModelFile } from './modelFiles.ts';
import type { EstimatorRow, Imputation, ModelRun, ModelRunOptions, ResolvedRunConfig, RunFigure, RunTick } from './run.ts';

/** EM has converged when an iteration moves the log-likelihood per row by less than this */
const EM_TOL = 1e-6;

const missingOf = (ds: Dataset): MissingData => ({ name: ds.name, x: ds.x, n: ds.n, D: ds.D });

/**
 * Posterior means E = M_O⁻¹W_OᵀΨ_O⁻¹(x_O − μ_O), M_O = I + W_OᵀΨ_O⁻¹W_O, over each
 * row's observed entries (rows×d): FA's ψ_j, or PPCA's σ² for every j.
 */
function observedPosteriorMeans(p: LinearParams, psi: (j: number) => number, x: Float32Array, rows: number): Float64Array {
  const { D, d, W, mu } = p;
  const E = new Float64Array(rows * d);
  const M = new Float64Array(d * d);
  const y = new Float64Array(d);
  for (let i = 0; i < rows; i++) {
    M.fill(0);
    y.fill(0);
    for (let a = 0; a < d; a++) M[a * d + a] = 1;
    for (let j = 0; j < D; j++) {
      const v = x[i * D + j]!;
      if (Number.isNaN(v)) continue;
      const q = 1 / psi(j);
      const r = (v - mu[j]!) * q;
      for (let a = 0; a < d; a++) {
        const wa = W[j * d + a]!;
        y[a]! += wa * r;
        for (let b = 0; b < d; b++) M[a * d + b]! += wa * W[j * d + b]! * q;
      }
    }
    const Minv = factorSpd(M, d, 'missing-data posterior').inverse;
    for (let a = 0; a < d; a++) {
      let s = 0;
      for (let b = 0; b < d; b++) s += Minv[a * d + b]! * y[b]!;
      E[i * d + a] = s;
    }
  }
  return E;
}

/** Each NaN of x's rows replaced by its column's entry of `means`. */
function meanImpute(x: Float32Array, means: Float64Array, D: number): Float32Array {
  return Float32Array.from(x, (v, k) => (Number.isNaN(v) ? means[k % D]! : v));
}

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

  protected means(x: Float32Array, rows: number): Float64Array {
    const { sigma2 } = this.params;
    return observedPosteriorMeans(this.params, () => sigma2, x, rows);
  }

  async impute(x: Float32Array, rows: number): Promise<Imputation> {
    const data = { x: x.subarray(0, rows * this.D), n: rows, D: this.D };
    return { posterior: imputeMissing(this.params, data), mean: meanImpute(data.x, this.colMeans, this.D) };
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

/**
 * Factor analysis with missing values as a ModelRun: a tick is K EM iterations
 * over the observed entries from the current parameters (fitFaMissingOn, its
 * sums on the run's backend); the figures, pictures and imputations as PPCA's
 * above with the noise ψ_j per column.
 */
class FaMissingRun extends LinearHostRun implements ModelRun {
  readonly kind = 'fa-missing' as const;
  readonly D: number;
  readonly latent: number;
  readonly objectiveName = 'observed-data log-likelihood per sample';
  readonly unitName = 'EM iteration';
  private lastTrain: number;
  private step = 0;
  private heywood: number[] | null = null;
  private readonly colMeans: Float64Array;

  constructor(
    readonly config: ResolvedRunConfig,
    private model: FaHost,
    private readonly train: Dataset,
    private readonly test: Dataset,
    private readonly be: Backend,
    private readonly dataMeta: Record<string, string>,
  ) {
    super();
    this.D = model.D;
    this.latent = model.d;
    this.colMeans = observedMeans(missingOf(train));
    this.lastTrain = faMissingMeanLogLik(model, missingOf(train));
  }

  protected linear(): LinearParams {
    return this.model;
  }

  protected means(x: Float32Array, rows: number): Float64Array {
    const psi = this.model.psi;
    return observedPosteriorMeans(this.model, (j) => psi[j]!, x, rows);
  }

  async tick(): Promise<RunTick> {
    const K = this.config.stepsPerTick;
    const r = await fitFaMissingOn(this.be, missingOf(this.train), this.latent, { iters: K, tol: 1e-300, init: this.model, seed: this.config.seed });
    const change = Math.abs(r.loglik - this.lastTrain);
    const train = r.curve.slice(0, r.iterations).map((y, i): [number, number] => [this.step + i, y]);
    this.model = r.model;
    this.lastTrain = r.loglik;
    this.heywood = r.heywood;
    this.step += r.iterations;
    return { samples: r.iterations * this.train.n, steps: r.iterations, train, trainObjective: r.loglik, converged: change < FA_DEFAULTS.tol };
  }

  async evaluate(): Promise<{ train: number; test: number }> {
    return { train: this.lastTrain, test: faMissingMeanLogLik(this.model, missingOf(this.test)) };
  }

  async noiseVariances(): Promise<Float32Array> {
    return Float32Array.from(this.model.psi);
  }

  async figures(): Promise<RunFigure[]> {
    return this.heywood ? [{ name: 'ψ at the floor (Heywood cases)', value: this.heywood.length }] : [];
  }

  async impute(x: Float32Array, rows: number): Promise<Imputation> {
    const data = { x: x.subarray(0, rows * this.D), n: rows, D: this.D };
    return { posterior: faImpute(this.model, data), mean: meanImpute(data.x, this.colMeans, this.D) };
  }

  async estimators(x: Float32Array, rows: number): Promise<EstimatorRow[]> {
    return [{ name: 'exact (observed entries)', value: faMissingMeanLogLik(this.model, { x: x.subarray(0, rows * this.D), n: rows, D: this.D }) }];
  }

  /** The CLI's fa model file, with the run's kind and step. */
  async save(): Promise<Uint8Array> {
    const { tensors, metadata } = faToTensors(roundFa(this.model), { ...this.dataMeta, method: 'em', missing: 'nan', kind: this.kind, step: String(this.step) });
    return encodeSafetensors(tensors, metadata);
  }

  dispose(): void {}
}

/** A run of factor analysis with missing values on `train` (NaN marks a missing entry), from initialFa on the observed means and variances. */
export async function createFaMissingRun(backend: Backend, cfg: ResolvedRunConfig, train: Dataset, test: Dataset, opts: ModelRunOptions): Promise<ModelRun> {
  if (test.D !== train.D) throw new Error(`${test.name} has ${test.D} columns but ${train.name} has ${train.D}`);
  const { D } = train;
  if (!(cfg.latent < D)) throw new Error(`${train.name}: latent dimension d = ${cfg.latent} must be smaller than the data dimension D = ${D}`);
  const data = missingOf(train);
  checkMissing(data);
  const mu = observedMeans(data);
  // the observed entries' variance per column, around the observed means (fitFaMissing's default start)
  const sum = new Float64Array(D);
  const count = new Float64Array(D);
  for (let k = 0; k < data.x.length; k++) {
    const v = data.x[k]!;
    if (Number.isNaN(v)) continue;
    sum[k % D]! += (v - mu[k % D]!) ** 2;
    count[k % D]!++;
  }
  const init = initialFa(sum.map((s, j) => s / count[j]!), mu, cfg.latent, cfg.seed);
  return new FaMissingRun(cfg, init, train, test, backend, opts.metadata ?? {});
}
