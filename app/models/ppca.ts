// PPCA (src/models/ppca) behind the app's ModelRunner. A tick continues from
// the current parameters: exact EM runs K EM iterations (fitEm with init);
// stochastic EM runs K steps (fitSem with init) at the Robbins–Monro step size
// α_t of the tick's first global step t, held for the tick (a piecewise-constant
// schedule with the same Σα = ∞, Σα² < ∞ behaviour), with a fresh minibatch
// stream per tick. Pictures come from the posterior means
// E = M⁻¹Wᵀ(x − μ), reconstructions W E + μ and prior samples W z + μ (the
// noise-free decoder mean), all computed by the backend's kernels.
import type { Backend, Tensor } from '../../src/backend.ts';
import type { Dataset } from '../../src/data/dataset.ts';
import { decodeSafetensors, encodeSafetensors } from '../../src/io/safetensors.ts';
import {
  createPpca, estimateLogLik, fitEm, fitSem, initialPpca, latentFactors, meanLogLik, ppcaFromTensors, ppcaToTensors,
  readPpca, releaseData, releasePpca, uploadData,
  type DeviceData, type EstimatorName, type PpcaHost, type PpcaModel,
} from '../../src/models/ppca.ts';
import { toF32 } from '../../src/models/ppca/linalg.ts';
import { learningRate } from '../../src/train/schedule.ts';
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

class PpcaRunner implements ModelRunner {
  readonly D: number;
  readonly latent: number;
  readonly objectiveName = 'exact log-likelihood per sample';
  readonly unitName: string;
  private step = 0;
  private ticks = 0;
  private lastTrain = NaN;

  constructor(
    readonly kind: ModelKind,
    private readonly be: Backend,
    private model: PpcaModel,
    private readonly train: DeviceData,
    private readonly test: DeviceData,
    private readonly cfg: ModelConfig,
    readonly optimum: number | undefined,
    start: number,
  ) {
    this.D = model.D;
    this.latent = model.d;
    this.unitName = kind === 'ppca-em' ? 'EM iteration' : 'stochastic EM step';
    this.step = start;
  }

  async tick(): Promise<TickResult> {
    const init = await readPpca(this.model);
    const K = this.cfg.stepsPerTick;
    const seed = this.cfg.seed + 7919 * ++this.ticks;
    let next: PpcaModel;
    let loglik: number;
    let steps: number;
    if (this.kind === 'ppca-em') {
      const r = await fitEm(this.be, this.train, { d: this.latent, maxIters: K, tol: 0, init, seed });
      next = r.model;
      loglik = r.loglik;
      steps = r.iterations;
    } else if (this.kind === 'ppca-sem') {
      const batch = Math.min(this.cfg.batch, this.train.n);
      const stepsPerEpoch = Math.ceil(this.train.n / batch);
      const lr = learningRate(this.cfg.semLr, { kind: 'robbins-monro', tau: this.cfg.semTau, kappa: this.cfg.semKappa }, this.step);
      // a huge τ holds α at lr within the tick
      const r = await fitSem(this.be, this.train, {
        d: this.latent, batch, epochs: K / stepsPerEpoch, lr, tau: 1e15, kappa: 1, seed, init, evalEvery: 0,
      });
      next = r.model;
      loglik = r.loglik;
      steps = r.steps;
    } else {
      throw new Error(`'${this.kind}' is not a PPCA method this app can step`);
    }
    releasePpca(this.model);
    this.model = next;
    const change = Math.abs(loglik - this.lastTrain);
    this.lastTrain = loglik;
    this.step += steps;
    const samples = this.kind === 'ppca-em' ? steps * this.train.n : steps * Math.min(this.cfg.batch, this.train.n);
    return { samples, steps, trainObjective: loglik, converged: this.kind === 'ppca-em' && change < EM_TOL };
  }

  async evaluate(): Promise<{ train: number; test: number }> {
    const train = Number.isFinite(this.lastTrain) ? this.lastTrain : await meanLogLik(this.model, this.train);
    return { train, test: await meanLogLik(this.model, this.test) };
  }

  /** E (rows×d) of the rows of x, on the backend; the caller releases it. */
  private posteriorMeans(xt: Tensor, rows: number): Tensor {
    const { be, model } = this;
    const d = this.latent;
    const f = latentFactors(model.wtw, model.sigma2, d);
    const negMuW = be.tensor(d, { label: 'app.−μᵀW' });
    const y = be.tensor(rows * d, { label: 'app.y' });
    const minv = be.tensor(d * d, { label: 'app.M⁻¹', data: toF32(f.M.inverse) });
    const e = be.tensor(rows * d, { label: 'app.E' });
    be.matmul({ a: model.mu, b: model.W, c: negMuW, m: 1, n: d, k: this.D, alpha: -1 });
    be.matmul({ a: xt, b: model.W, c: y, m: rows, n: d, k: this.D, bias: negMuW });
    be.matmul({ a: y, b: minv, c: e, m: rows, n: d, k: d });
    for (const t of [negMuW, y, minv]) be.release(t);
    return e;
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
    const xt = this.be.tensor(rows * this.D, { label: 'app.x', data: x.subarray(0, rows * this.D) });
    const e = this.posteriorMeans(xt, rows);
    const r = await this.decodeTensor(e, rows);
    this.be.release(e);
    this.be.release(xt);
    return r;
  }

  async latentMeans(x: Float32Array, rows: number): Promise<Float32Array> {
    const xt = this.be.tensor(rows * this.D, { label: 'app.x', data: x.subarray(0, rows * this.D) });
    const e = this.posteriorMeans(xt, rows);
    const r = (await this.be.read(e)).subarray(0, rows * this.latent);
    this.be.release(e);
    this.be.release(xt);
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

  async save(): Promise<Uint8Array> {
    const host = await readPpca(this.model);
    const { tensors, metadata } = ppcaToTensors(host, { kind: this.kind, step: String(this.step), format: 'latentgpu' });
    return encodeSafetensors(tensors, metadata);
  }

  dispose(): void {
    releasePpca(this.model);
    releaseData(this.be, this.train);
    releaseData(this.be, this.test);
  }
}

function factory(kind: ModelKind): RunnerFactory {
  const make = async (backend: Backend, cfg: ModelConfig, train: Dataset, test: Dataset, host: PpcaHost | null, step: number): Promise<ModelRunner> => {
    const trainData = uploadData(backend, train);
    const testData = uploadData(backend, test);
    try {
      const init = host ?? initialPpca(trainData, { d: cfg.latent, seed: cfg.seed });
      if (init.D !== train.D) throw new Error(`the model has D = ${init.D}; this dataset has D = ${train.D}`);
      const model = createPpca(backend, init);
      const optimum = await closedFormOptimum(train, init.d);
      return new PpcaRunner(kind, backend, model, trainData, testData, cfg, optimum, step);
    } catch (e) {
      releaseData(backend, trainData);
      releaseData(backend, testData);
      throw e;
    }
  };
  return {
    create: (backend, cfg, train, test) => make(backend, cfg, train, test, null, 0),
    async load(backend, bytes, cfg, train, test) {
      const file = decodeSafetensors(bytes);
      const host = ppcaFromTensors(file);
      return make(backend, { ...cfg, latent: host.d }, train, test, host, Number(file.metadata.step ?? 0) || 0);
    },
  };
}

export const ppcaEmFactory = factory('ppca-em');
export const ppcaSemFactory = factory('ppca-sem');
