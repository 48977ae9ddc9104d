// VAE and per-point latent model (src/models/vae.ts, lvm.ts) behind the app's
// ModelRunner: training ticks through the CLI's Trainer (src/train/trainer.ts),
// the VAE's test curve through TestCurve, evaluation through src/models/evaluate.ts. The prior estimators reuse the same evaluation code
// with q(z | x) replaced by the prior N(0, I): IWAE_K with q = p is the prior
// Monte-Carlo estimate, and the ELBO with q = p is the prior Jensen bound
// (PriorProposal, src/models/latent.ts, as the CLI's eval uses).
import type { Backend } from '../../src/backend.ts';
import type { Dataset } from '../../src/data/dataset.ts';
import { DEFAULT_VAR_FLOOR } from '../../src/models/decoder.ts';
import {
  EvalSet, decode, evaluateElbo, evaluateIwae, latentMeans, priorSamples, reconstruct,
} from '../../src/models/evaluate.ts';
import { PriorProposal, type LatentVariableModel } from '../../src/models/latent.ts';
import { checkLikelihoodFits, chooseLikelihood, varianceCeiling, type LikelihoodChoice } from '../../src/models/likelihood.ts';
import { Lvm, type LvmConfig } from '../../src/models/lvm.ts';
import { Vae, type VaeConfig } from '../../src/models/vae.ts';
import { decodeLatentModelFile, encodeLatentModelFile } from './file.ts';
import { TestCurve } from '../../src/train/testCurve.ts';
import { CHECK_EVERY, Trainer } from '../../src/train/trainer.ts';
import type { DataMetadata, EstimatorRow, ModelConfig, ModelRunner, RunnerFactory, TickResult } from './runner.ts';

/** Jensen/ELBO estimates average at most this many one-sample passes */
const MAX_BOUND_PASSES = 32;
/** test rows a per-point model fits for the live views (θ frozen) */
const LVM_LIVE_ROWS = 200;
const LVM_FIT_STEPS = 100;
/** the VAE's test curve gets a point every epoch, or every this many steps when an epoch is longer */
const TEST_EVERY_MAX = 200;

/** How the app's setup panel asks for the Gaussian decoder, for the likelihood messages. */
export const APP_HINT = { gaussian: 'likelihood: Gaussian' };

function vaeConfig(cfg: ModelConfig, train: Dataset, lik: LikelihoodChoice): VaeConfig {
  return {
    dataDim: train.D, latent: cfg.latent, encoderHidden: cfg.hidden, decoderHidden: [...cfg.hidden].reverse(), act: 'relu',
    likelihood: lik.likelihood, variance: lik.variance, varFloor: DEFAULT_VAR_FLOOR, varCeil: varianceCeiling(lik.likelihood, train),
    objective: 'elbo', seed: cfg.seed,
  };
}

function lvmConfig(cfg: ModelConfig, train: Dataset, lik: LikelihoodChoice): LvmConfig {
  return {
    dataDim: train.D, latent: cfg.latent, decoderHidden: cfg.hidden, act: 'relu',
    likelihood: lik.likelihood, variance: lik.variance, varFloor: DEFAULT_VAR_FLOOR, varCeil: varianceCeiling(lik.likelihood, train),
    objective: 'elbo', seed: cfg.seed, phiLr: 1e-2, phiSteps: 1,
  };
}

type Model = Vae | Lvm;

class LatentRunner implements ModelRunner {
  readonly D: number;
  readonly latent: number;
  readonly objectiveName: string;
  readonly unitName = 'optimizer step';
  private readonly trainer: Trainer;
  /** the VAE's test objective on a fixed seeded subset of the test rows (the per-point model uses the live rows) */
  private readonly curve: TestCurve | null;
  /** the global step the trainer started at: the page counts steps from here */
  private readonly startStep: number;
  private readonly testSet: EvalSet;
  private lastTrain = NaN;
  /** which rows the per-point model's evaluation table was fitted to, at which step */
  private fitted: { x: Float32Array; step: number } | null = null;

  constructor(
    readonly kind: 'vae' | 'lvm',
    private readonly model: Model,
    private readonly cfg: ModelConfig,
    test: Dataset,
    start: { step: number; epoch: number },
    private readonly dataMeta: DataMetadata,
    readonly likelihoodNote: string,
  ) {
    this.D = model.dataDim;
    this.latent = model.latent;
    this.objectiveName = `ELBO per sample (${model.cfg.likelihood} decoder)`;
    const rows = kind === 'lvm' ? Math.min(LVM_LIVE_ROWS, test.n) : test.n;
    this.testSet = new EvalSet(model.backend, { x: test.x.subarray(0, rows * this.D), n: rows }, this.D);
    // a per-point model fits φ of the test rows before each point: its test objective is measured on refresh only
    this.curve = model instanceof Vae && cfg.testCurve !== false ? new TestCurve(model, test, cfg.seed) : null;
    const curve = this.curve;
    const batch = Math.min(cfg.batch, model.rows);
    this.startStep = start.step;
    this.trainer = new Trainer(model, {
      batch, lr: cfg.lr, schedule: cfg.schedule, seed: cfg.seed, startStep: start.step, startEpoch: start.epoch,
      // a check (one read-back) ends each tick, and at most every CHECK_EVERY steps within a long one
      checkEvery: Math.min(cfg.stepsPerTick, CHECK_EVERY),
      evaluate: curve ? { every: Math.min(Math.ceil(model.rows / batch), TEST_EVERY_MAX), run: (step) => curve.at(step) } : undefined,
    });
  }

  private get be(): Backend {
    return this.model.backend;
  }

  async tick(signal?: AbortSignal): Promise<TickResult> {
    const r = await this.trainer.tick(this.cfg.stepsPerTick, signal);
    if (r.steps > 0) this.lastTrain = r.objective;
    const test = r.evaluations.map((e): [number, number] => [e.step - this.startStep, e.objective]);
    return { samples: r.samples, steps: r.steps, trainObjective: r.objective, test };
  }

  /** For the per-point model: fit φ of these rows (θ frozen) unless already fitted at this step. */
  private async ready(x: Float32Array, rows: number): Promise<void> {
    if (!(this.model instanceof Lvm)) return;
    const f = this.fitted;
    if (f && f.step === this.trainer.step && f.x.buffer === x.buffer && f.x.byteOffset === x.byteOffset && f.x.length === x.length) return;
    await this.model.fitPosterior(x, rows, { steps: LVM_FIT_STEPS });
    this.fitted = { x, step: this.trainer.step };
  }

  private async withSet<T>(x: Float32Array, rows: number, f: (set: EvalSet) => Promise<T>): Promise<T> {
    if (x === this.testSet.data.x) return f(this.testSet);
    const set = new EvalSet(this.be, { x, n: rows }, this.D);
    try {
      return await f(set);
    } finally {
      set.release();
    }
  }

  async evaluate(): Promise<{ train: number; test: number }> {
    if (this.curve) return { train: this.lastTrain, test: await this.curve.at(this.trainer.step) };
    await this.ready(this.testSet.data.x, this.testSet.data.n);
    const r = await evaluateElbo(this.model, this.testSet, { seed: this.cfg.seed });
    return { train: this.lastTrain, test: r.elbo };
  }

  async reconstruct(x: Float32Array, rows: number): Promise<Float32Array> {
    const first = this.testSet.data.x.subarray(0, rows * this.D);
    // the live test set's first rows are what the page shows; reuse its fitted table
    const same = x.buffer === first.buffer && x.byteOffset === first.byteOffset && rows <= this.testSet.data.n;
    if (same) {
      await this.ready(this.testSet.data.x, this.testSet.data.n);
      return (await reconstruct(this.model, this.testSet, rows)).recon;
    }
    await this.ready(x, rows);
    return this.withSet(x, rows, async (set) => (await reconstruct(this.model, set, rows)).recon);
  }

  async samplePrior(rows: number): Promise<Float32Array> {
    return priorSamples(this.model, rows, this.cfg.seed);
  }

  async decode(z: Float32Array): Promise<Float32Array> {
    return decode(this.model, z);
  }

  async latentMeans(x: Float32Array, rows: number): Promise<Float32Array> {
    const whole = this.testSet.data.x;
    if (this.model instanceof Lvm && x.buffer === whole.buffer && x.byteOffset === whole.byteOffset) {
      // the per-point model has φ only for fitted rows: show the live test rows
      await this.ready(whole, this.testSet.data.n);
      return latentMeans(this.model, this.testSet);
    }
    await this.ready(x, rows);
    return this.withSet(x, rows, (set) => latentMeans(this.model, set));
  }

  async estimators(x: Float32Array, rows: number, K: number): Promise<EstimatorRow[]> {
    await this.ready(x, rows);
    const passes = Math.min(K, MAX_BOUND_PASSES);
    return this.withSet(x, rows, async (set) => {
      const prior = new PriorProposal(this.model);
      const avg = async (m: LatentVariableModel): Promise<number> => {
        let s = 0;
        for (let p = 0; p < passes; p++) s += (await evaluateElbo(m, set, { seed: 1000 + p })).elbo;
        return s / passes;
      };
      const jensen = await avg(prior);
      const priorMc = (await evaluateIwae(prior, set, K, { seed: 7 })).iwae;
      const elbo = await avg(this.model);
      const iwae = (await evaluateIwae(this.model, set, K, { seed: 11 })).iwae;
      return [
        { name: `prior Jensen (${passes} samples)`, value: jensen },
        { name: `prior MC (K = ${K})`, value: priorMc },
        { name: `ELBO (${passes} samples)`, value: elbo },
        { name: `IWAE (K = ${K})`, value: iwae },
      ];
    });
  }

  /** The CLI's model file (src/cli/vae.ts) with the optimizer state added. */
  async save(): Promise<Uint8Array> {
    return encodeLatentModelFile({
      kind: this.kind, config: this.model.cfg, step: this.trainer.step, epoch: this.trainer.epoch, trainRows: this.model.rows,
      tensors: await this.model.state(), extra: { ...this.dataMeta, batch: String(this.cfg.batch), lr: String(this.cfg.lr) },
    });
  }

  dispose(): void {
    this.trainer.release();
    this.curve?.release();
    this.testSet.release();
    this.model.release();
  }
}

function build(kind: 'vae' | 'lvm', backend: Backend, modelCfg: VaeConfig | LvmConfig, train: Dataset): Model {
  return kind === 'vae'
    ? new Vae(backend, modelCfg as VaeConfig, train.x, train.n)
    : new Lvm(backend, modelCfg as LvmConfig, train.x, train.n);
}

/** Whether the file carries the whole training state (the app's files), not only params (the CLI's). */
function hasState(tensors: Record<string, Float32Array>, model: Model): boolean {
  const names = ['adam.m', 'adam.v', ...(model instanceof Lvm ? Object.keys(model.phi.tensors()) : [])];
  return names.every((n) => n in tensors);
}

function factory(kind: 'vae' | 'lvm'): RunnerFactory {
  return {
    async create(backend, cfg, train, test, dataMeta) {
      // the CLI's rule: Bernoulli only for values in [0, 1]; an explicit Bernoulli on other data throws LikelihoodError
      const lik = chooseLikelihood(cfg.likelihood, [train, test], APP_HINT);
      const modelCfg = kind === 'vae' ? vaeConfig(cfg, train, lik) : lvmConfig(cfg, train, lik);
      return new LatentRunner(kind, build(kind, backend, modelCfg, train), cfg, test, { step: 0, epoch: 0 }, dataMeta, lik.reason);
    },
    async load(backend, bytes, cfg, train, test, dataMeta) {
      const f = decodeLatentModelFile(bytes, kind);
      const c = f.config as unknown as VaeConfig | LvmConfig;
      if (c.dataDim !== train.D) throw new Error(`the model was trained on ${c.dataDim}-dimensional data; this dataset has D = ${train.D}`);
      checkLikelihoodFits(c.likelihood, [train, test], 'the model', APP_HINT);
      const model = build(kind, backend, c, train);
      // the per-point φ table and the optimizer resume only on the same training rows
      const resume = hasState(f.tensors, model) && f.trainRows === train.n;
      try {
        if (resume) model.loadState(f.tensors);
        else model.loadParams(f.params);
      } catch (e) {
        model.release();
        throw e;
      }
      const start = resume ? { step: f.step, epoch: f.epoch } : { step: 0, epoch: 0 };
      const hidden = 'encoderHidden' in c ? c.encoderHidden : [...c.decoderHidden].reverse();
      const runCfg = { ...cfg, latent: c.latent, hidden, likelihood: c.likelihood };
      return new LatentRunner(kind, model, runCfg, test, start, dataMeta, `${c.likelihood === 'bernoulli' ? 'Bernoulli' : 'Gaussian'} decoder (from the model file)`);
    },
  };
}

export const vaeFactory = factory('vae');
export const lvmFactory = factory('lvm');
