// PPCA (src/models/ppca) behind the app's ModelRunner. A tick continues from
// the current parameters: exact EM runs K EM iterations (fitEm with init; EM
// needs nothing but the parameters to resume); stochastic EM and online EM run
// K steps of one resumable fitter (src/models/ppca/fitter.ts) that keeps the
// minibatch stream, the global step t of the Robbins–Monro step sizes α_t and
// (online EM) the running sufficient statistics between ticks, so the page's
// run is the same run as the CLI's `--method sem|oem`. Each tick ends with the
// exact train log-likelihood. A model file holds W, μ, σ² and the step: stochastic
// EM resumes its step-size schedule there; online EM's running statistics are
// not in the file, so a loaded online-EM run starts them afresh (γ₀ = 1). Pictures come from the posterior means
// E = M⁻¹Wᵀ(x − μ), reconstructions W E + μ and prior samples W z + μ (the
// noise-free decoder mean), all computed by the backend's kernels (the E-step
// is src/models/ppca/posterior.ts, the one stochastic EM and the estimators use).
import type { Backend, Tensor } from '../../src/backend.ts';
import type { Dataset } from '../../src/data/dataset.ts';
import { decodeSafetensors, encodeSafetensors } from '../../src/io/safetensors.ts';
import {
  createOemFitter, createPpca, createSemFitter, estimateLogLik, fitEm, initialPpca, meanLogLik, posteriorMeansOf,
  ppcaFromTensors, ppcaToTensors, readPpca, releaseData, releasePpca, uploadData,
  type DeviceData, type EstimatorName, type PpcaHost, type PpcaModel, type StochasticFitter,
} from '../../src/models/ppca.ts';
import type { ClosedFormReply, ClosedFormRequest } from '../workers/closed-form.worker.ts';
import type { EstimatorRow, ModelConfig, ModelKind, ModelRunner, RunnerFactory, TickResult } from './runner.ts';

/** EM has converged when an iteration changes the log-likelihood per sample by less than this */
const EM_TOL = 1e-7;
const SAMPLE_STREAM = 0x5a3;

function closedFormOptimum(train: Dataset, d: number): Promise<number | undefined> {
  return new Promise((resolve) => {
    const worker = new Worker(new URL('../workers/closed-form.worker.ts', import.meta.url), { type: 'module' });
    worker.onmessage = (ev: MessageEvent<ClosedFormReply>) => {
      worker.terminate();
      resolve('loglik' in ev.data ? ev.data.loglik : undefined);
    };
    worker.onerror = () => {
      worker.terminate();
      resolve(undefined);
    };
    const req: ClosedFormRequest = { host: train.x.slice(), n: train.n, D: train.D, d };
    worker.postMessage(req, [req.host.buffer]);
  });
}

/** The CLI's --method names (model-file metadata "method") of the app's PPCA kinds. */
export const PPCA_METHOD: Record<string, string> = { 'ppca-em': 'em', 'ppca-sem': 'sem', 'ppca-oem': 'oem' };

class PpcaRunner implements ModelRunner {
  readonly D: number;
  readonly latent: number;
  readonly objectiveName = 'exact log-likelihood per sample';
  readonly unitName: string;
  private step = 0;
  private ticks = 0;
  private lastTrain = NaN;
  /** exact EM's parameters (the minibatch methods' live in their fitter) */
  private em: PpcaModel | null;
  private readonly fitter: StochasticFitter | null;

  constructor(
    readonly kind: ModelKind,
    private readonly be: Backend,
    init: PpcaHost,
    private readonly train: DeviceData,
    private readonly test: DeviceData,
    private readonly cfg: ModelConfig,
    readonly optimum: number | undefined,
    start: number,
    private readonly dataMeta: Record<string, string>,
  ) {
    this.D = init.D;
    this.latent = init.d;
    this.unitName = kind === 'ppca-em' ? 'EM iteration' : kind === 'ppca-sem' ? 'stochastic EM step' : 'online EM step';
    this.step = start;
    const common = { d: init.d, batch: Math.min(cfg.batch, train.n), seed: cfg.seed, evalEvery: 0, init };
    if (kind === 'ppca-em') {
      this.em = createPpca(be, init);
      this.fitter = null;
    } else if (kind === 'ppca-sem') {
      this.em = null;
      // resuming at global step t₀ (a model file's step): α₀(1 + (t₀+t)/τ)^−κ = α₀(1 + t₀/τ)^−κ · (1 + t/(τ+t₀))^−κ,
      // so a fitter counting from 0 with α₀' and τ' continues the same schedule
      const t0 = cfg.semTau > 0 ? start : 0;
      const lr = cfg.semLr * (1 + t0 / Math.max(cfg.semTau, 1e-300)) ** -cfg.semKappa;
      this.fitter = createSemFitter(be, train, { ...common, lr, tau: cfg.semTau + t0, kappa: cfg.semKappa });
    } else if (kind === 'ppca-oem') {
      this.em = null;
      this.fitter = createOemFitter(be, train, { ...common, kappa: cfg.oemKappa });
    } else {
      throw new Error(`'${kind}' is not a PPCA method`);
    }
  }

  private get model(): PpcaModel {
    return this.em ?? this.fitter!.model;
  }

  async tick(): Promise<TickResult> {
    const K = this.cfg.stepsPerTick;
    let loglik: number;
    let steps: number;
    if (this.em) {
      const init = await readPpca(this.em);
      const r = await fitEm(this.be, this.train, { d: this.latent, maxIters: K, tol: 0, init, seed: this.cfg.seed + 7919 * ++this.ticks });
      releasePpca(this.em);
      this.em = r.model;
      loglik = r.loglik;
      steps = r.iterations;
    } else {
      const fitter = this.fitter!;
      const before = fitter.steps;
      await fitter.step(K);
      loglik = (await fitter.evaluate()).loglik;
      steps = fitter.steps - before;
    }
    const change = Math.abs(loglik - this.lastTrain);
    this.lastTrain = loglik;
    this.step += steps;
    const samples = this.em ? steps * this.train.n : steps * Math.min(this.cfg.batch, this.train.n);
    return { samples, steps, trainObjective: loglik, converged: this.em !== null && change < EM_TOL };
  }

  async evaluate(): Promise<{ train: number; test: number }> {
    const train = Number.isFinite(this.lastTrain) ? this.lastTrain : await meanLogLik(this.model, this.train);
    return { train, test: await meanLogLik(this.model, this.test) };
  }

  /** W z + μ for z (rows×d) on the backend. */
  private async decodeTensor(z: Tensor, rows: number): Promise<Float32Array> {
    const out = this.be.tensor(rows * this.D, { label: 'app.decoded' });
    this.be.matmul({ a: z, b: this.model.W, c: out, m: rows, n: this.D, k: this.latent, transB: true, bias: this.model.mu });
    const r = (await this.be.read(out)).subarray(0, rows * this.D);
    this.be.release(out);
    return r;
  }

  async reconstruct(x: Float32Array, rows: number): Promise<Float32Array> {
    const e = posteriorMeansOf(this.model, x, rows);
    const r = await this.decodeTensor(e, rows);
    this.be.release(e);
    return r;
  }

  async latentMeans(x: Float32Array, rows: number): Promise<Float32Array> {
    const e = posteriorMeansOf(this.model, x, rows);
    const r = (await this.be.read(e)).subarray(0, rows * this.latent);
    this.be.release(e);
    return r;
  }

  async decode(z: Float32Array, rows: number): Promise<Float32Array> {
    const zt = this.be.tensor(rows * this.latent, { label: 'app.z', data: z });
    const r = await this.decodeTensor(zt, rows);
    this.be.release(zt);
    return r;
  }

  async samplePrior(rows: number): Promise<Float32Array> {
    const z = this.be.tensor(rows * this.latent, { label: 'app.prior z' });
    this.be.normal({ out: z, n: rows * this.latent, key: { seed: this.cfg.seed, stream: SAMPLE_STREAM, counter: 0 } });
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
      const run = async (estimator: EstimatorName): Promise<number> =>
        (await estimateLogLik(this.model, data, { estimator, samples: K, seed: this.cfg.seed })).mean;
      const rowsOut: EstimatorRow[] = [];
      rowsOut.push({ name: 'exact', value: await run('exact') });
      rowsOut.push({ name: `prior Jensen (K = ${K})`, value: await run('prior-jensen') });
      rowsOut.push({ name: `prior MC (K = ${K})`, value: await run('prior') });
      rowsOut.push({ name: `ELBO, exact posterior q (K = ${K})`, value: await run('elbo') });
      rowsOut.push({ name: `ELBO, mean-field q (K = ${K})`, value: (await estimateLogLik(this.model, data, { estimator: 'elbo', samples: K, q: 'mean-field', seed: this.cfg.seed })).mean });
      rowsOut.push({ name: `IWAE (K = ${K})`, value: await run('iwae') });
      return rowsOut;
    } finally {
      releaseData(this.be, data);
    }
  }

  /** The CLI's PPCA model file (`latentgpu train --model ppca --out`), plus the app's kind and step. */
  async save(): Promise<Uint8Array> {
    const host = await readPpca(this.model);
    const { tensors, metadata } = ppcaToTensors(host, {
      ...this.dataMeta, method: PPCA_METHOD[this.kind]!, kind: this.kind, step: String(this.step),
      train_loglik: String(Number.isFinite(this.lastTrain) ? this.lastTrain : await meanLogLik(this.model, this.train)),
    });
    return encodeSafetensors(tensors, metadata);
  }

  dispose(): void {
    if (this.em) releasePpca(this.em);
    this.fitter?.dispose();
    releaseData(this.be, this.train);
    releaseData(this.be, this.test);
  }
}

function factory(kind: ModelKind): RunnerFactory {
  const make = async (backend: Backend, cfg: ModelConfig, train: Dataset, test: Dataset, host: PpcaHost | null, step: number,
    dataMeta: Record<string, string>): Promise<ModelRunner> => {
    const trainData = uploadData(backend, train);
    const testData = uploadData(backend, test);
    try {
      const init = host ?? initialPpca(trainData, { d: cfg.latent, seed: cfg.seed });
      if (init.D !== train.D) throw new Error(`the model has D = ${init.D}; this dataset has D = ${train.D}`);
      const optimum = await closedFormOptimum(train, init.d);
      return new PpcaRunner(kind, backend, init, trainData, testData, cfg, optimum, step, dataMeta);
    } catch (e) {
      releaseData(backend, trainData);
      releaseData(backend, testData);
      throw e;
    }
  };
  return {
    create: (backend, cfg, train, test, dataMeta) => make(backend, cfg, train, test, null, 0, dataMeta),
    async load(backend, bytes, cfg, train, test, dataMeta) {
      const file = decodeSafetensors(bytes);
      const host = ppcaFromTensors(file, 'the model file');
      return make(backend, { ...cfg, latent: host.d }, train, test, host, Number(file.metadata.step ?? 0) || 0, dataMeta);
    },
  };
}

export const ppcaEmFactory = factory('ppca-em');
export const ppcaSemFactory = factory('ppca-sem');
export const ppcaOemFactory = factory('ppca-oem');
