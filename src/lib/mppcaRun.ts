// Mixtures of PPCA (src/models/mppca) as a ModelRun: a tick is K steps of the
// resumable EM fit (MppcaFitter: an E-step, whose log-likelihood is the figure,
// then an M-step), on the run's backend. The test figure and the clusters of
// the test rows come from one E-step on the backend (evaluateMppca). Pictures
// on the host, float64: each row goes to its most responsible component k,
// posterior mean E = M_k⁻¹W_kᵀ(x − μ_k), reconstruction W_k E + μ_k; prior
// samples draw k from π, then W_k z + μ_k; the component means are shown as
// images. The model file is the CLI's mppca file.
import type { Backend } from '../backend.ts';
import type { Dataset } from '../data/dataset.ts';
import { encodeSafetensors } from '../io/safetensors.ts';
import { mppcaToTensors } from '../models/mppca/file.ts';
import {
  MPPCA_DEFAULTS, MppcaFitter, clusterPurity, componentFactors, componentLogDensity, componentSizes, componentW, evaluateMppca, roundMppca,
  type ComponentFactors, type MppcaHost,
} from '../models/mppca/mppca.ts';
import { releaseData, uploadData, type DeviceData } from '../models/ppca/model.ts';
import { HostRng } from '../train/rng.ts';
import type { ComponentView, EstimatorRow, ModelRun, ModelRunOptions, ResolvedRunConfig, RunFigure, RunTick } from './run.ts';

/** EM maps the fitter may take in all (a page stops it by pausing, or it converges) */
const MAX_ITERS = 1_000_000;

class MppcaRun implements ModelRun {
  readonly kind = 'mppca' as const;
  readonly D: number;
  readonly latent: number;
  readonly objectiveName = 'exact log-likelihood per sample';
  readonly unitName = 'EM iteration';
  private lastTrain = NaN;
  private step: number;
  /** the current parameters and their factors, recomputed when the fitter moves */
  private cached: { model: MppcaHost; factors: ComponentFactors[] } | null = null;
  private testEval: { loglik: number; assign: Int32Array } | null = null;

  constructor(
    readonly config: ResolvedRunConfig,
    private readonly be: Backend,
    private readonly fitter: MppcaFitter,
    private readonly train: DeviceData,
    private readonly test: DeviceData,
    private readonly testLabels: Uint8Array | undefined,
    start: number,
    private readonly dataMeta: Record<string, string>,
  ) {
    this.D = train.D;
    this.latent = config.latent;
    this.step = start;
  }

  private current(): { model: MppcaHost; factors: ComponentFactors[] } {
    if (!this.cached) {
      const model = this.fitter.model();
      this.cached = { model, factors: Array.from({ length: model.K }, (_, k) => componentFactors(model, k)) };
    }
    return this.cached;
  }

  /**
   * Each step's E-step measures the parameters it starts from, so the tick's
   * figures are those of steps [step, step + K), reported as `train` points;
   * the last is the tick's objective only once EM has converged (no M-step after it).
   */
  async tick(signal?: AbortSignal): Promise<RunTick> {
    let steps = 0;
    const train: [number, number][] = [];
    for (let s = 0; s < this.config.stepsPerTick && !this.fitter.done && !signal?.aborted; s++) {
      const p = await this.fitter.step();
      train.push([this.step + steps, p.loglik]);
      if (!this.fitter.done) steps++;
    }
    this.cached = null;
    this.testEval = null;
    this.step += steps;
    const done = this.fitter.done;
    if (done) this.lastTrain = train.at(-1)?.[1] ?? this.lastTrain;
    return { samples: steps * this.train.n, steps, train, converged: done, ...(done ? { trainObjective: this.lastTrain } : {}) };
  }

  private async evalTest(): Promise<{ loglik: number; assign: Int32Array }> {
    this.testEval ??= await evaluateMppca(this.be, this.test, this.current().model);
    return this.testEval;
  }

  /** The current parameters' train figure: the last E-step's once converged, else one E-step on the train rows. */
  async evaluate(): Promise<{ train: number; test: number }> {
    const train = this.fitter.done && Number.isFinite(this.lastTrain) ? this.lastTrain : (await evaluateMppca(this.be, this.train, this.current().model)).loglik;
    return { train, test: (await this.evalTest()).loglik };
  }

  /** Each row's most responsible component and its posterior mean there (host float64). */
  private posterior(x: Float32Array, rows: number): { comp: Int32Array; E: Float64Array } {
    const { model, factors } = this.current();
    const { K, D, d, mu, sigma2 } = model;
    const comp = new Int32Array(rows);
    const E = new Float64Array(rows * d);
    const y = new Float64Array(K * d);
    for (let i = 0; i < rows; i++) {
      let best = -Infinity;
      for (let k = 0; k < K; k++) {
        const W = componentW(model, k);
        let q = 0;
        for (let j = 0; j < D; j++) {
          const r = x[i * D + j]! - mu[k * D + j]!;
          q += r * r;
          for (let a = 0; a < d; a++) y[k * d + a]! += W[j * d + a]! * r;
        }
        const l = componentLogDensity(factors[k]!, sigma2[k]!, q, y, k * d, d);
        if (l > best) {
          best = l;
          comp[i] = k;
        }
      }
      const k = comp[i]!;
      const Minv = factors[k]!.Minv;
      for (let a = 0; a < d; a++) {
        let s = 0;
        for (let b = 0; b < d; b++) s += Minv[a * d + b]! * y[k * d + b]!;
        E[i * d + a] = s;
      }
      y.fill(0);
    }
    return { comp, E };
  }

  /** W_k z + μ_k for each row's component k. */
  private decodeWith(comp: ArrayLike<number>, z: ArrayLike<number>, rows: number): Float32Array {
    const { model } = this.current();
    const { D, d, mu } = model;
    const out = new Float32Array(rows * D);
    for (let i = 0; i < rows; i++) {
      const k = comp[i]!;
      const W = componentW(model, k);
      for (let j = 0; j < D; j++) {
        let s = mu[k * D + j]!;
        for (let a = 0; a < d; a++) s += W[j * d + a]! * z[i * d + a]!;
        out[i * D + j] = s;
      }
    }
    return out;
  }

  /** The component of the largest weight (what `decode` uses for a bare z). */
  private heaviest(): number {
    const pi = this.current().model.pi;
    let best = 0;
    for (let k = 1; k < pi.length; k++) if (pi[k]! > pi[best]!) best = k;
    return best;
  }

  async reconstruct(x: Float32Array, rows: number): Promise<Float32Array> {
    const { comp, E } = this.posterior(x, rows);
    return this.decodeWith(comp, E, rows);
  }

  async latentMeans(x: Float32Array, rows: number): Promise<Float32Array> {
    return Float32Array.from(this.posterior(x, rows).E);
  }

  async decode(z: Float32Array, rows: number): Promise<Float32Array> {
    return this.decodeWith(new Int32Array(rows).fill(this.heaviest()), z, rows);
  }

  async samplePrior(rows: number): Promise<Float32Array> {
    const { pi } = this.current().model;
    const rng = new HostRng(this.config.seed);
    const comp = Int32Array.from({ length: rows }, () => {
      let u = rng.uniform();
      let k = 0;
      while (k < pi.length - 1 && u >= pi[k]!) u -= pi[k++]!;
      return k;
    });
    return this.decodeWith(comp, Float64Array.from({ length: rows * this.latent }, () => rng.normal()), rows);
  }

  async components(): Promise<ComponentView> {
    const { model } = this.current();
    return { K: model.K, means: Float32Array.from(model.mu), weights: Float64Array.from(model.pi) };
  }

  async figures(): Promise<RunFigure[]> {
    const { model } = this.current();
    const r = this.fitter.result();
    const out: RunFigure[] = [
      { name: 'components', value: `${model.K} of ${this.config.components}` },
      { name: 'σ² at the floor', value: r.atFloor.length },
    ];
    if (this.testLabels) {
      const { assign } = await this.evalTest();
      out.push({ name: 'cluster purity (test rows)', value: clusterPurity(assign, this.testLabels).toFixed(4) });
      out.push({ name: 'test rows per component', value: componentSizes(assign, model.K).join(', ') });
    }
    return out;
  }

  async estimators(x: Float32Array, rows: number): Promise<EstimatorRow[]> {
    const data = uploadData(this.be, { name: 'estimator rows', x: x.subarray(0, rows * this.D), n: rows, D: this.D });
    try {
      return [{ name: 'exact', value: (await evaluateMppca(this.be, data, this.current().model)).loglik }];
    } finally {
      releaseData(this.be, data);
    }
  }

  /** The CLI's mppca model file, plus the run's kind and step. */
  async save(): Promise<Uint8Array> {
    const { tensors, metadata } = mppcaToTensors(roundMppca(this.current().model), {
      ...this.dataMeta, kind: 'mppca', step: String(this.step),
    });
    return encodeSafetensors(tensors, metadata);
  }

  dispose(): void {
    this.fitter.release();
    releaseData(this.be, this.train);
    releaseData(this.be, this.test);
  }
}

/**
 * A mixture-of-PPCA run: `cfg.components` components of latent size
 * `cfg.latent`, from `init` (a model file's parameters) or, when absent, the
 * k-means++ start for `cfg.seed`.
 */
export async function createMppcaRun(
  backend: Backend, cfg: ResolvedRunConfig, train: Dataset, test: Dataset, opts: ModelRunOptions, init?: MppcaHost,
): Promise<ModelRun> {
  if (test.D !== train.D) throw new Error(`${test.name} has ${test.D} columns but ${train.name} has ${train.D}`);
  if (!(cfg.latent < train.D)) throw new Error(`${train.name}: latent dimension d = ${cfg.latent} must be smaller than the data dimension D = ${train.D}`);
  const trainData = uploadData(backend, train);
  const testData = uploadData(backend, test);
  try {
    if (init && init.D !== train.D) throw new Error(`the model has D = ${init.D}; this dataset has D = ${train.D}`);
    const fitter = new MppcaFitter(backend, trainData, {
      K: cfg.components, d: cfg.latent, seed: cfg.seed, maxIters: MAX_ITERS, tol: MPPCA_DEFAULTS.tol, ...(init ? { init } : {}),
    });
    return new MppcaRun(cfg, backend, fitter, trainData, testData, test.labels, 0, opts.metadata ?? {});
  } catch (e) {
    releaseData(backend, trainData);
    releaseData(backend, testData);
    throw e;
  }
}
