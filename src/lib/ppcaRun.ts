// PPCA (src/models/ppca) as a ModelRun. A tick continues from the current
// parameters: exact EM runs K EM iterations (fitEm from them: EM needs nothing
// but the parameters to resume); stochastic and online EM run K steps of one
// resumable fitter (src/models/ppca/fitter.ts) that keeps the minibatch stream,
// the global step t of the step sizes α_t and (online EM) the running
// sufficient statistics between ticks, so a page's run is the CLI's
// `--method sem|oem` run. The closed form (`--method closed`) is one tick: the
// top d eigenpairs of the covariance with the products on the backend
// (closedFormPpcaOn); later ticks report it converged. Each tick ends with the
// exact train log-likelihood. Stochastic and online EM may instead train on a
// RowSource read a slice at a time (ModelRunOptions.trainSource: a file larger
// than memory, streamed through models/ppca/stream.ts); the train figure is then
// that of the in-memory sample of the training rows.
// A model file holds W, μ, σ² and the step: stochastic EM resumes its schedule
// there; online EM's running statistics are not in the file, so a loaded
// online-EM run starts them afresh (γ₀ = 1). Pictures: posterior means
// E = M⁻¹Wᵀ(x − μ) (src/models/ppca/posterior.ts), reconstructions W E + μ and
// prior samples W z + μ (the noise-free decoder mean), on the backend.
import type { Backend, Tensor } from '../backend.ts';
import type { Dataset } from '../data/dataset.ts';
import { closedFormPpcaOn } from '../models/ppca/closed.ts';
import {
  closedFormPpca, createOemFitter, createPpca, createSemFitter, estimateLogLik, fitEm, initialPpca, meanLogLik,
  posteriorMeansOf, readPpca, releaseData, releasePpca, uploadData,
  type DeviceData, type EstimatorName, type PpcaHost, type PpcaModel, type StochasticFitter,
} from '../models/ppca.ts';
import { PpcaStream } from '../models/ppca/stream.ts';
import { encodeModelFile } from './modelFiles.ts';
import type { EstimatorRow, ModelRun, ResolvedRunConfig, ModelRunOptions, RunTick } from './run.ts';

/** EM has converged when an iteration moves the log-likelihood per sample by less than this */
const EM_TOL = 1e-7;
/** the counter-RNG stream of the prior samples a page draws */
const SAMPLE_STREAM = 0x5a3;

/** The CLI's --method names (model-file metadata "method") of the PPCA run kinds. */
export const PPCA_METHOD = { 'ppca-em': 'em', 'ppca-sem': 'sem', 'ppca-oem': 'oem', 'ppca-closed': 'closed' } as const;
/** The run kinds that fit PPCA. */
export type PpcaRunKind = keyof typeof PPCA_METHOD;

class PpcaRun implements ModelRun {
  readonly D: number;
  readonly latent: number;
  readonly objectiveName: string;
  readonly unitName: string;
  private step: number;
  private ticks = 0;
  private lastTrain = NaN;
  /** exact EM's parameters (the minibatch methods' live in their fitter) */
  private em: PpcaModel | null;
  private readonly fitter: StochasticFitter | null;
  /** the minibatch methods read their rows from a RowSource; `train` is a sample of them */
  private readonly streamed: boolean;

  constructor(
    readonly kind: PpcaRunKind,
    readonly config: ResolvedRunConfig,
    private readonly be: Backend,
    init: PpcaHost,
    private readonly train: DeviceData,
    private readonly test: DeviceData,
    readonly optimum: number | undefined,
    start: number,
    private readonly dataMeta: Record<string, string>,
    stream: PpcaStream | null,
  ) {
    const cfg = config;
    this.streamed = stream !== null;
    this.objectiveName = stream ? `exact log-likelihood per sample (train: ${train.n} sampled rows)` : 'exact log-likelihood per sample';
    const rows = stream ?? train;
    this.D = init.D;
    this.latent = init.d;
    this.unitName = { 'ppca-em': 'EM iteration', 'ppca-sem': 'stochastic EM step', 'ppca-oem': 'online EM step', 'ppca-closed': 'closed-form fit' }[kind];
    this.step = start;
    const common = { d: init.d, batch: cfg.batch, seed: cfg.seed, evalEvery: 0, init };
    if (kind === 'ppca-em' || kind === 'ppca-closed') {
      this.em = createPpca(be, init);
      this.fitter = null;
    } else if (kind === 'ppca-sem') {
      this.em = null;
      // resuming at global step t₀ (a model file's step): α₀(1 + (t₀+t)/τ)^−κ = α₀(1 + t₀/τ)^−κ · (1 + t/(τ+t₀))^−κ,
      // so a fitter counting from 0 with α₀' and τ' continues the same schedule
      const t0 = cfg.semTau > 0 ? start : 0;
      const lr = cfg.semLr * (1 + t0 / Math.max(cfg.semTau, 1e-300)) ** -cfg.semKappa;
      this.fitter = createSemFitter(be, rows, { ...common, lr, tau: cfg.semTau + t0, kappa: cfg.semKappa });
    } else {
      this.em = null;
      this.fitter = createOemFitter(be, rows, { ...common, kappa: cfg.oemKappa });
    }
  }

  private get model(): PpcaModel {
    return this.em ?? this.fitter!.model;
  }

  async tick(): Promise<RunTick> {
    const K = this.config.stepsPerTick;
    let loglik: number;
    let steps: number;
    if (this.kind === 'ppca-closed') {
      // one fit; the ticks after it have nothing to do
      if (this.ticks > 0) return { samples: 0, steps: 0, trainObjective: this.lastTrain, converged: true };
      this.ticks++;
      const r = await closedFormPpcaOn(this.be, this.train, this.latent);
      releasePpca(this.em!);
      this.em = createPpca(this.be, r);
      this.lastTrain = r.loglik;
      this.step += 1;
      return { samples: this.train.n, steps: 1, trainObjective: r.loglik, converged: true };
    }
    if (this.em) {
      const init = await readPpca(this.em);
      const r = await fitEm(this.be, this.train, { d: this.latent, maxIters: K, tol: 0, init, seed: this.config.seed + 7919 * ++this.ticks });
      releasePpca(this.em);
      this.em = r.model;
      loglik = r.loglik;
      steps = r.iterations;
    } else {
      const fitter = this.fitter!;
      const before = fitter.steps;
      await fitter.step(K);
      // streamed rows: a pass over all of them per tick would dominate; the sample's figure instead
      loglik = this.streamed ? await meanLogLik(fitter.model, this.train) : (await fitter.evaluate()).loglik;
      steps = fitter.steps - before;
    }
    const change = Math.abs(loglik - this.lastTrain);
    this.lastTrain = loglik;
    this.step += steps;
    const samples = steps * (this.em ? this.train.n : this.config.batch);
    return { samples, steps, trainObjective: loglik, converged: this.em !== null && change < EM_TOL };
  }

  async evaluate(): Promise<{ train: number; test: number }> {
    const train = Number.isFinite(this.lastTrain) ? this.lastTrain : await meanLogLik(this.model, this.train);
    return { train, test: await meanLogLik(this.model, this.test) };
  }

  /** W z + μ for z (rows×d) on the backend. */
  private async decodeTensor(z: Tensor, rows: number): Promise<Float32Array> {
    const out = this.be.tensor(rows * this.D, { label: 'run.decoded' });
    this.be.matmul({ a: z, b: this.model.W, c: out, m: rows, n: this.D, k: this.latent, transB: true, bias: this.model.mu });
    const r = (await this.be.read(out)).subarray(0, rows * this.D);
    this.be.release(out);
    return r;
  }

  /** `f` of the posterior means of x's rows, the tensor released after. */
  private async withMeans<T>(x: Float32Array, rows: number, f: (e: Tensor) => Promise<T>): Promise<T> {
    const e = posteriorMeansOf(this.model, x, rows);
    try {
      return await f(e);
    } finally {
      this.be.release(e);
    }
  }

  reconstruct(x: Float32Array, rows: number): Promise<Float32Array> {
    return this.withMeans(x, rows, (e) => this.decodeTensor(e, rows));
  }

  latentMeans(x: Float32Array, rows: number): Promise<Float32Array> {
    return this.withMeans(x, rows, async (e) => (await this.be.read(e)).subarray(0, rows * this.latent));
  }

  async decode(z: Float32Array, rows: number): Promise<Float32Array> {
    const zt = this.be.tensor(rows * this.latent, { label: 'run.z', data: z });
    const r = await this.decodeTensor(zt, rows);
    this.be.release(zt);
    return r;
  }

  async samplePrior(rows: number): Promise<Float32Array> {
    const z = this.be.tensor(rows * this.latent, { label: 'run.prior z' });
    this.be.normal({ out: z, n: rows * this.latent, key: { seed: this.config.seed, stream: SAMPLE_STREAM, counter: 0 } });
    const r = await this.decodeTensor(z, rows);
    this.be.release(z);
    return r;
  }

  async loadings(): Promise<Float32Array> {
    return (await this.be.read(this.model.W)).subarray(0, this.D * this.latent);
  }

  async estimators(x: Float32Array, rows: number, K: number): Promise<EstimatorRow[]> {
    const data = uploadData(this.be, { name: 'estimator rows', x: x.subarray(0, rows * this.D), n: rows, D: this.D });
    try {
      const run = async (estimator: EstimatorName, q?: 'mean-field'): Promise<number> =>
        (await estimateLogLik(this.model, data, { estimator, samples: K, seed: this.config.seed, ...(q ? { q } : {}) })).mean;
      return [
        { name: 'exact', value: await run('exact') },
        { name: `prior Jensen (K = ${K})`, value: await run('prior-jensen') },
        { name: `prior MC (K = ${K})`, value: await run('prior') },
        { name: `ELBO, exact posterior q (K = ${K})`, value: await run('elbo') },
        { name: `ELBO, mean-field q (K = ${K})`, value: await run('elbo', 'mean-field') },
        { name: `IWAE (K = ${K})`, value: await run('iwae') },
      ];
    } finally {
      releaseData(this.be, data);
    }
  }

  /** The CLI's PPCA model file (`latentgpu train --model ppca --out`), plus the run's kind and step. */
  async save(): Promise<Uint8Array> {
    const host = await readPpca(this.model);
    return encodeModelFile(host, {
      metadata: {
        ...this.dataMeta, method: PPCA_METHOD[this.kind], kind: this.kind, step: String(this.step),
        train_loglik: String(Number.isFinite(this.lastTrain) ? this.lastTrain : await meanLogLik(this.model, this.train)),
      },
    });
  }

  dispose(): void {
    if (this.em) releasePpca(this.em);
    this.fitter?.dispose();
    releaseData(this.be, this.train);
    releaseData(this.be, this.test);
  }
}

/** closedFormPpca's log-likelihood on this thread (undefined where it fails). */
async function closedFormHere(train: Dataset, d: number): Promise<number | undefined> {
  try {
    return closedFormPpca({ host: train.x, n: train.n, D: train.D }, d).loglik;
  } catch {
    return undefined;
  }
}

/**
 * A PPCA run from `host` (a model file's parameters, resumed at `step`) or, when
 * null, from the fitters' initial parameters for `cfg.seed`.
 */
export async function createPpcaRun(
  backend: Backend, kind: PpcaRunKind, cfg: ResolvedRunConfig, train: Dataset, test: Dataset,
  host: PpcaHost | null, step: number, opts: ModelRunOptions,
): Promise<ModelRun> {
  const src = opts.trainSource;
  if (src && kind !== 'ppca-sem' && kind !== 'ppca-oem') {
    throw new Error(`${src.name} is read a slice at a time (${src.n.toLocaleString('en-US')} training rows); of PPCA's methods only stochastic and online EM stream it`);
  }
  const trainData = uploadData(backend, train);
  const testData = uploadData(backend, test);
  let stream: PpcaStream | null = null;
  try {
    const init = host ?? initialPpca(trainData, { d: cfg.latent, seed: cfg.seed });
    if (init.D !== train.D) throw new Error(`the model has D = ${init.D}; this dataset has D = ${train.D}`);
    if (src) stream = await PpcaStream.open(backend, src, { batch: cfg.batch, norms: kind === 'ppca-oem' });
    // streamed: the closed form of the whole data is not computed (it needs every row in memory)
    const optimum = src ? undefined : await (opts.optimum ?? closedFormHere)(train, init.d);
    return new PpcaRun(kind, { ...cfg, latent: init.d }, backend, init, trainData, testData, optimum, step, opts.metadata ?? {}, stream);
  } catch (e) {
    stream?.release();
    releaseData(backend, trainData);
    releaseData(backend, testData);
    throw e;
  }
}
