// The VAE and the per-point model (src/models/vae.ts, lvm.ts) as a ModelRun:
// ticks of the CLI's Trainer (src/train/trainer.ts), the VAE's test curve by
// TestCurve, evaluation by src/models/evaluate.ts. The prior estimators reuse
// the evaluation code with q(z | x) replaced by the prior N(0, I)
// (PriorProposal): IWAE_K with q = p is the prior Monte-Carlo estimate, the
// ELBO with q = p the prior Jensen bound, as the CLI's eval computes them.
import type { Backend } from '../backend.ts';
import type { Dataset } from '../data/dataset.ts';
import type { LatentModelFile } from '../io/modelFile.ts';
import {
  EvalSet, decode, evaluateElbo, evaluateIwae, latentMeans, priorSamples, reconstruct,
} from '../models/evaluate.ts';
import { PriorProposal, type LatentVariableModel } from '../models/latent.ts';
import { checkLikelihoodFits, chooseLikelihood, varianceCeiling } from '../models/likelihood.ts';
import { Lvm, defaultLvmConfig, type LvmConfig } from '../models/lvm.ts';
import { Vae, classicVaeConfig, type VaeConfig } from '../models/vae.ts';
import { sourceColumnVariance } from '../models/stream.ts';
import { TestCurve } from '../train/testCurve.ts';
import { CHECK_EVERY, Trainer } from '../train/trainer.ts';
import { buildModel, encodeModelFile } from './modelFiles.ts';
import type { EstimatorRow, ModelRun, ResolvedRunConfig, ModelRunOptions, RunTick } from './run.ts';

/** Jensen/ELBO estimates average at most this many one-sample passes */
const MAX_BOUND_PASSES = 32;
/** test rows a per-point model fits for the live views (θ frozen) */
const LVM_LIVE_ROWS = 200;
const LVM_FIT_STEPS = 100;
/** the VAE's test curve gets a point every epoch, or every this many steps when an epoch is longer */
const TEST_EVERY_MAX = 200;
/** how the likelihood messages name the Gaussian decoder by default (a page passes its control's name) */
const DEFAULT_HINT = { gaussian: "likelihood: 'gaussian'" };

type Model = Vae | Lvm;

class LatentRun implements ModelRun {
  readonly D: number;
  readonly latent: number;
  readonly objectiveName: string;
  readonly unitName = 'optimizer step';
  private readonly trainer: Trainer;
  /** the VAE's test objective on a fixed seeded subset of the test rows (the per-point model uses the live rows) */
  private readonly curve: TestCurve | null;
  /** the global step the trainer started at: the run counts steps from here */
  private readonly startStep: number;
  private readonly testSet: EvalSet;
  private lastTrain = NaN;
  /** which rows the per-point model's evaluation table was fitted to, at which step */
  private fitted: { x: Float32Array; step: number } | null = null;

  constructor(
    readonly kind: 'vae' | 'lvm',
    private readonly model: Model,
    readonly config: ResolvedRunConfig,
    test: Dataset,
    start: { step: number; epoch: number },
    private readonly dataMeta: Record<string, string>,
    readonly likelihoodNote: string,
  ) {
    const cfg = config;
    this.D = model.dataDim;
    this.latent = model.latent;
    this.objectiveName = `ELBO per sample (${model.cfg.likelihood} decoder)`;
    const rows = kind === 'lvm' ? Math.min(LVM_LIVE_ROWS, test.n) : test.n;
    this.testSet = new EvalSet(model.backend, { x: test.x.subarray(0, rows * this.D), n: rows }, this.D);
    // a per-point model fits φ of the test rows before each point: its test objective is measured on refresh only
    this.curve = model instanceof Vae && cfg.testCurve ? new TestCurve(model, test, cfg.seed) : null;
    const curve = this.curve;
    const batch = cfg.batch;
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

  async tick(signal?: AbortSignal): Promise<RunTick> {
    const r = await this.trainer.tick(this.config.stepsPerTick, signal);
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
    const r = await evaluateElbo(this.model, this.testSet, { seed: this.config.seed });
    return { train: this.lastTrain, test: r.elbo };
  }

  async reconstruct(x: Float32Array, rows: number): Promise<Float32Array> {
    const first = this.testSet.data.x.subarray(0, rows * this.D);
    // the live test set's first rows are what a page shows; reuse its fitted table
    const same = x.buffer === first.buffer && x.byteOffset === first.byteOffset && rows <= this.testSet.data.n;
    if (same) {
      await this.ready(this.testSet.data.x, this.testSet.data.n);
      return (await reconstruct(this.model, this.testSet, rows)).recon;
    }
    await this.ready(x, rows);
    return this.withSet(x, rows, async (set) => (await reconstruct(this.model, set, rows)).recon);
  }

  async samplePrior(rows: number): Promise<Float32Array> {
    return priorSamples(this.model, rows, this.config.seed);
  }

  async decode(z: Float32Array): Promise<Float32Array> {
    return decode(this.model, z);
  }

  async latentMeans(x: Float32Array, rows: number): Promise<Float32Array> {
    const whole = this.testSet.data.x;
    if (this.model instanceof Lvm && x.buffer === whole.buffer && x.byteOffset === whole.byteOffset) {
      // the per-point model has φ only for fitted rows: answer for the live test rows
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

  /** The CLI's model file with the optimizer state (and the per-point φ table), the step and epoch to resume at. */
  async save(): Promise<Uint8Array> {
    return encodeModelFile(this.model, {
      state: true,
      metadata: {
        ...this.dataMeta, batch: String(this.config.batch), lr: String(this.config.lr),
        step: String(this.trainer.step), epochs: String(this.trainer.epoch),
      },
    });
  }

  dispose(): void {
    this.trainer.release();
    this.curve?.release();
    this.testSet.release();
    this.model.release();
  }
}

/**
 * A new VAE or per-point model for the run's settings, its likelihood chosen
 * from the data unless asked for. With `opts.trainSource` the VAE streams its
 * training rows from it in chunks (`train` is then a sample, for the likelihood
 * choice and the pictures); the per-point model, which keeps φ for every
 * training row, refuses it.
 */
export async function createLatentRun(
  backend: Backend, kind: 'vae' | 'lvm', cfg: ResolvedRunConfig, train: Dataset, test: Dataset, opts: ModelRunOptions,
): Promise<ModelRun> {
  const src = opts.trainSource;
  if (src && kind !== 'vae') throw new Error(`${src.name} is read a slice at a time; the per-point model keeps φ for every training row and does not stream it (the VAE does)`);
  // Bernoulli only for values in [0, 1]; an explicit Bernoulli on other data throws LikelihoodError
  const lik = chooseLikelihood(cfg.likelihood, [train, test], opts.likelihoodHint ?? DEFAULT_HINT);
  const shared = {
    dataDim: train.D, latent: cfg.latent, likelihood: lik.likelihood, variance: lik.variance,
    varCeil: varianceCeiling(lik.likelihood, train), seed: cfg.seed,
  };
  const vae = { ...classicVaeConfig(train.D), ...shared, encoderHidden: [...cfg.hidden], decoderHidden: [...cfg.hidden].reverse() };
  // streamed rows: the Gaussian decoder's starting variance from one pass over them
  const streamed = src
    ? new Vae(backend, vae, src, src.n, { batch: cfg.batch, ...(lik.likelihood === 'gaussian' ? { columnVariance: await sourceColumnVariance(src) } : {}) })
    : null;
  const model = streamed ?? (kind === 'vae'
    ? new Vae(backend, vae, train.x, train.n)
    : new Lvm(backend, { ...defaultLvmConfig(train.D), ...shared, decoderHidden: [...cfg.hidden] }, train.x, train.n));
  return new LatentRun(kind, model, cfg, test, { step: 0, epoch: 0 }, opts.metadata ?? {}, lik.reason);
}

/**
 * A run of the model a file holds, trained further on train/test: the
 * optimizer state (and the per-point φ table) resume when the file has them and
 * the training rows are the file's; else the parameters start a fresh optimizer.
 */
export function loadLatentRun(
  backend: Backend, file: LatentModelFile, cfg: ResolvedRunConfig, train: Dataset, test: Dataset, opts: ModelRunOptions,
): ModelRun {
  const c = file.config as VaeConfig | LvmConfig;
  if (c.dataDim !== train.D) throw new Error(`the model was trained on ${c.dataDim}-dimensional data; this dataset has D = ${train.D}`);
  checkLikelihoodFits(c.likelihood, [train, test], 'the model', opts.likelihoodHint ?? DEFAULT_HINT);
  const built = buildModel(backend, file, train);
  if (built.kind === 'ppca') throw new Error('not a latent model');
  const start = built.resumed ? { step: file.step, epoch: file.epoch } : { step: 0, epoch: 0 };
  const hidden = 'encoderHidden' in c ? c.encoderHidden : [...c.decoderHidden].reverse();
  const runCfg = { ...cfg, latent: c.latent, hidden, likelihood: c.likelihood };
  const note = `${c.likelihood === 'bernoulli' ? 'Bernoulli' : 'Gaussian'} decoder (from the model file)`;
  return new LatentRun(file.kind, built.model, runCfg, test, start, opts.metadata ?? {}, note);
}
