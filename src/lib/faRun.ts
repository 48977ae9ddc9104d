// Factor analysis (src/models/fa) as a ModelRun. A tick of exact EM (plain,
// SQUAREM or Anderson) continues from the current parameters (fitFa from them,
// at most K maps; plain EM needs nothing else to resume, so its ticks of K equal
// one fit of the same total; an accelerated tick starts its extrapolation
// afresh); a tick of stochastic EM runs K steps of one resumable fitter
// (createFaSemFitter). Each tick ends with the exact train log-likelihood
// (float64, Woodbury). The pictures are host float64
// on the fitted parameters: posterior means E = M⁻¹WᵀΨ⁻¹(x − μ) with
// M = I + WᵀΨ⁻¹W, reconstructions W E + μ, prior samples W z + μ (noise-free).
// The model file is the CLI's fa file (`latentgpu train --model fa --out`).
import type { Backend } from '../backend.ts';
import type { Dataset } from '../data/dataset.ts';
import { encodeSafetensors } from '../io/safetensors.ts';
import { FA_DEFAULTS, faMeanLogLik, fitFa, initialFa, psiFloor, type FaHost } from '../models/fa/fa.ts';
import { faToTensors, roundFa } from '../models/fa/file.ts';
import { createFaSemFitter, type FaSemFitter } from '../models/fa/sem.ts';
import { factorSpd } from '../models/ppca/linalg.ts';
import { releaseData, uploadData, type DeviceData, type HostData } from '../models/ppca/model.ts';
import { columnStats } from '../models/ppca/scale.ts';
import { LinearHostRun, type LinearParams } from './linearRun.ts';
import type { EstimatorRow, FaRunMethod, ModelRun, ModelRunOptions, ResolvedRunConfig, RunFigure, RunTick } from './run.ts';

const hostOf = (ds: Dataset): HostData => ({ name: ds.name, host: ds.x, n: ds.n, D: ds.D });

class FaRun extends LinearHostRun implements ModelRun {
  readonly kind = 'fa' as const;
  readonly D: number;
  readonly latent: number;
  readonly objectiveName = 'exact log-likelihood per sample';
  readonly unitName: string;
  private step = 0;
  /** stochastic EM's fitter (the exact methods keep only the parameters) */
  private readonly sem: FaSemFitter | null;
  /** each column's ψ floor, to report the Heywood columns of stochastic EM */
  private readonly floor: Float64Array;
  private readonly constantCols: number[];
  private lastTrain = NaN;
  private heywood: number[] | null = null;
  private constant: number[] | null = null;

  constructor(
    readonly config: ResolvedRunConfig,
    private readonly be: Backend,
    private model: FaHost,
    private readonly data: DeviceData,
    private readonly train: Dataset,
    private readonly test: Dataset,
    private readonly dataMeta: Record<string, string>,
  ) {
    super();
    this.D = model.D;
    this.latent = model.d;
    const { variance } = columnStats(hostOf(train));
    this.floor = psiFloor(variance);
    this.constantCols = [];
    for (let j = 0; j < this.D; j++) if (!(variance[j]! > 0)) this.constantCols.push(j);
    this.unitName = config.faMethod === 'sem' ? 'stochastic EM step' : 'EM iteration';
    this.sem = config.faMethod === 'sem' ? createFaSemFitter(be, data, { d: model.d, batch: config.batch, seed: config.seed, init: model }) : null;
  }

  protected linear(): LinearParams {
    return this.model;
  }

  async tick(): Promise<RunTick> {
    if (this.sem) {
      const K = this.config.stepsPerTick;
      await this.sem.step(K);
      this.model = this.sem.model();
      const loglik = this.sem.evaluate().loglik;
      this.lastTrain = loglik;
      this.heywood = [];
      for (let j = 0; j < this.D; j++) if (this.model.psi[j]! <= this.floor[j]! * (1 + 1e-9)) this.heywood.push(j);
      this.constant = this.constantCols;
      this.step += K;
      return { samples: K * this.config.batch, steps: K, trainObjective: loglik };
    }
    const r = await fitFa(this.be, this.data, {
      d: this.latent, maxIters: this.config.stepsPerTick, tol: FA_DEFAULTS.tol, init: this.model, method: this.config.faMethod as Exclude<FaRunMethod, 'sem'>,
    });
    const change = Math.abs(r.loglik - this.lastTrain);
    this.model = r.model;
    this.lastTrain = r.loglik;
    this.heywood = r.heywood;
    this.constant = r.constant;
    // plain EM's trace: the figure of each iterate the tick passed through, at its own step
    const train = this.config.faMethod === 'em' ? r.trace.map((p): [number, number] => [this.step + p.iteration, p.loglik]) : [];
    this.step += r.iterations;
    return { samples: r.iterations * this.data.n, steps: r.iterations, trainObjective: r.loglik, train, converged: r.converged || change < FA_DEFAULTS.tol };
  }

  async evaluate(): Promise<{ train: number; test: number }> {
    const train = Number.isFinite(this.lastTrain) ? this.lastTrain : faMeanLogLik(this.model, hostOf(this.train));
    return { train, test: faMeanLogLik(this.model, hostOf(this.test)) };
  }

  /** Posterior means E = M⁻¹WᵀΨ⁻¹(x − μ) of x's rows (rows×d, float64). */
  protected means(x: Float32Array, rows: number): Float64Array {
    const { D, d, W, mu, psi } = this.model;
    const M = new Float64Array(d * d);
    for (let a = 0; a < d; a++) M[a * d + a] = 1;
    for (let j = 0; j < D; j++) {
      for (let a = 0; a < d; a++) for (let b = 0; b < d; b++) M[a * d + b]! += (W[j * d + a]! * W[j * d + b]!) / psi[j]!;
    }
    const Minv = factorSpd(M, d, 'fa posterior').inverse;
    const E = new Float64Array(rows * d);
    const y = new Float64Array(d);
    for (let i = 0; i < rows; i++) {
      y.fill(0);
      for (let j = 0; j < D; j++) {
        const r = (x[i * D + j]! - mu[j]!) / psi[j]!;
        for (let a = 0; a < d; a++) y[a]! += W[j * d + a]! * r;
      }
      for (let a = 0; a < d; a++) {
        let s = 0;
        for (let b = 0; b < d; b++) s += Minv[a * d + b]! * y[b]!;
        E[i * d + a] = s;
      }
    }
    return E;
  }

  async noiseVariances(): Promise<Float32Array> {
    return Float32Array.from(this.model.psi);
  }

  async figures(): Promise<RunFigure[]> {
    if (!this.heywood || !this.constant) return [];
    const constant = new Set(this.constant);
    return [
      { name: 'ψ at the floor (Heywood cases)', value: this.heywood.filter((j) => !constant.has(j)).length },
      { name: 'constant columns (ψ at the floor)', value: this.constant.length },
    ];
  }

  async estimators(x: Float32Array, rows: number): Promise<EstimatorRow[]> {
    return [{ name: 'exact', value: faMeanLogLik(this.model, { host: x.subarray(0, rows * this.D), n: rows, D: this.D }) }];
  }

  /** The CLI's fa model file, plus the run's kind and step. */
  async save(): Promise<Uint8Array> {
    const model = roundFa(this.model);
    const { tensors, metadata } = faToTensors(model, {
      ...this.dataMeta, method: this.config.faMethod, kind: 'fa', step: String(this.step), train_loglik: String(faMeanLogLik(model, hostOf(this.train))),
    });
    return encodeSafetensors(tensors, metadata);
  }

  dispose(): void {
    this.sem?.dispose();
    releaseData(this.be, this.data);
  }
}

/** A factor-analysis run from `init` (a model's parameters) or, when null, fitFa's starting point for `cfg.seed`. */
export async function createFaRun(
  backend: Backend, cfg: ResolvedRunConfig, train: Dataset, test: Dataset, init: FaHost | null, opts: ModelRunOptions,
): Promise<ModelRun> {
  if (test.D !== train.D) throw new Error(`${test.name} has ${test.D} columns but ${train.name} has ${train.D}`);
  if (!(cfg.latent < train.D)) throw new Error(`${train.name}: latent dimension d = ${cfg.latent} must be smaller than the data dimension D = ${train.D}`);
  let model = init;
  if (!model) {
    const { mu, variance } = columnStats(hostOf(train));
    model = initialFa(variance, mu, cfg.latent, cfg.seed);
  }
  if (model.D !== train.D) throw new Error(`the model has D = ${model.D}; this dataset has D = ${train.D}`);
  const data = uploadData(backend, train);
  return new FaRun({ ...cfg, latent: model.d }, backend, model, data, train, test, opts.metadata ?? {});
}
