// A resumable training run of any model, driven a tick at a time: what a page
// (the app, or a user's) needs to train a model, chart it, draw its pictures,
// score it and save it. The PPCA runs (src/lib/ppcaRun.ts) and the VAE /
// per-point runs (src/lib/latentRun.ts) implement it; src/lib/runs.ts builds
// them. Defaults come from src/models/config.ts, the one place they live.
import type { Dataset } from '../data/dataset.ts';
import type { RowSource } from '../data/source.ts';
import { LVM_DEFAULTS, PPCA_DEFAULTS, VAE_DEFAULTS } from '../models/config.ts';
import type { LikelihoodRequest } from '../models/likelihood.ts';
import { MPPCA_DEFAULTS } from '../models/mppca/mppca.ts';
import type { Schedule } from '../train/schedule.ts';

/**
 * What a run trains: PPCA by exact, stochastic or online EM or in closed form,
 * PPCA or factor analysis with missing values (NaN entries), factor analysis, a mixture of PPCA,
 * the per-point model (lvm) or the VAE.
 */
export type RunKind = 'ppca-em' | 'ppca-sem' | 'ppca-oem' | 'ppca-closed' | 'ppca-missing' | 'fa' | 'fa-missing' | 'mppca' | 'lvm' | 'vae';
/** Every {@link RunKind}. */
export const RUN_KINDS: readonly RunKind[] = ['ppca-em', 'ppca-sem', 'ppca-oem', 'ppca-closed', 'ppca-missing', 'fa', 'fa-missing', 'mppca', 'lvm', 'vae'];

/** A run's settings; everything but `kind` has a default (src/models/config.ts). */
export interface RunConfig {
  /** the model and method to train */
  kind: RunKind;
  /** latent dimension d (default: the model's, 10 for PPCA, 20 for the latent models) */
  latent?: number;
  /** seed of the initial parameters, minibatches and noise (default 1) */
  seed?: number;
  /** minibatch size, at most the training rows (default: the model's, capped at the rows) */
  batch?: number;
  /** optimizer steps (or EM iterations) per tick (default 1 for exact EM, 10 otherwise) */
  stepsPerTick?: number;
  /** stochastic EM's step sizes α_t = α₀ (1 + t/τ)^(−κ) */
  semLr?: number;
  /** stochastic EM's τ (steps) */
  semTau?: number;
  /** stochastic EM's κ ∈ (0.5, 1] */
  semKappa?: number;
  /** online EM's step-size exponent κ: new statistics weigh (t + 2)^(−κ) */
  oemKappa?: number;
  /** factor analysis: exact EM (plain, SQUAREM- or Anderson-accelerated) or stochastic EM (default 'em') */
  faMethod?: FaRunMethod;
  /** mixtures of PPCA: the number of components K (default 5) */
  components?: number;
  /** the latent models' hidden widths (the VAE's encoder; the decoder mirrors them) */
  hidden?: readonly number[];
  /** the decoder likelihood: 'auto' (default) chooses Bernoulli when every value lies in [0, 1], else Gaussian */
  likelihood?: LikelihoodRequest;
  /** the latent models' Adam learning rate */
  lr?: number;
  /** the latent models' step-size schedule (default constant) */
  schedule?: Schedule;
  /** measure the VAE's test curve while training (default true; a benchmark times training alone) */
  testCurve?: boolean;
}

/** Factor analysis's methods in a run: exact EM, its SQUAREM and Anderson accelerations, stochastic EM. */
export type FaRunMethod = 'em' | 'squarem' | 'anderson' | 'sem';
/** Every {@link FaRunMethod}. */
export const FA_RUN_METHODS: readonly FaRunMethod[] = ['em', 'squarem', 'anderson', 'sem'];

/** A {@link RunConfig} with its defaults filled in for the training rows. */
export type ResolvedRunConfig = Required<Omit<RunConfig, 'schedule'>> & {
  /** the latent models' step-size schedule; absent: constant */
  schedule?: Schedule;
};

/** Whether the kind is one of PPCA's methods on complete data (a PPCA model file continues with any of them). */
export function isPpcaKind(kind: RunKind): kind is 'ppca-em' | 'ppca-sem' | 'ppca-oem' | 'ppca-closed' {
  return kind === 'ppca-em' || kind === 'ppca-sem' || kind === 'ppca-oem' || kind === 'ppca-closed';
}

/** The kinds whose tick is one exact step (an EM iteration, the closed form): one per tick by default. */
const ONE_STEP_KINDS: readonly RunKind[] = ['ppca-em', 'ppca-closed', 'ppca-missing', 'fa', 'fa-missing', 'mppca'];

/** Fills in a run's defaults for `rows` training rows (the batch is capped at the rows). */
export function resolveRunConfig(cfg: RunConfig, rows: number): ResolvedRunConfig {
  const ppca = isPpcaKind(cfg.kind) || ['ppca-missing', 'fa', 'fa-missing', 'mppca'].includes(cfg.kind);
  const model = ppca ? PPCA_DEFAULTS : cfg.kind === 'lvm' ? LVM_DEFAULTS : VAE_DEFAULTS;
  return {
    kind: cfg.kind,
    latent: cfg.latent ?? model.latent,
    seed: cfg.seed ?? 1,
    batch: Math.max(1, Math.min(cfg.batch ?? model.batch, rows)),
    stepsPerTick: cfg.stepsPerTick ?? (ONE_STEP_KINDS.includes(cfg.kind) ? 1 : 10),
    semLr: cfg.semLr ?? PPCA_DEFAULTS.sem.lr,
    semTau: cfg.semTau ?? PPCA_DEFAULTS.sem.tau,
    semKappa: cfg.semKappa ?? PPCA_DEFAULTS.sem.kappa,
    oemKappa: cfg.oemKappa ?? PPCA_DEFAULTS.oem.kappa,
    components: cfg.components ?? MPPCA_DEFAULTS.components,
    faMethod: cfg.faMethod ?? 'em',
    hidden: cfg.hidden ?? VAE_DEFAULTS.hidden,
    likelihood: cfg.likelihood ?? 'auto',
    lr: cfg.lr ?? VAE_DEFAULTS.lr,
    schedule: cfg.schedule,
    testCurve: cfg.testCurve ?? true,
  };
}

/** What one tick did. */
export interface RunTick {
  /** training rows processed */
  samples: number;
  /** optimizer steps (or EM iterations) */
  steps: number;
  /** the train objective per sample (nats) over the tick, when measured */
  trainObjective?: number;
  /** the method converged (exact EM: the log-likelihood moved less than 1e-7 nats) */
  converged?: boolean;
  /** test objectives measured during the tick: [steps of this run, nats per sample] */
  test?: [number, number][];
  /** train objectives of earlier parameters measured during the tick (a mixture's E-steps): [steps of this run, nats per sample] */
  train?: [number, number][];
}

/** One row of a run's estimator table. */
export interface EstimatorRow {
  /** the estimator, as the CLI's `eval --estimator` names it */
  name: string;
  /** mean per row, nats */
  value: number;
}

/** A figure a run reports beyond its objective (FA's Heywood columns, …), for a page's table. */
export interface RunFigure {
  /** what it is, e.g. "Heywood columns" */
  name: string;
  /** its value */
  value: number | string;
}

/** Missing values: rows with their NaN entries filled in two ways. */
export interface Imputation {
  /** each NaN replaced by the model's posterior mean W E[z | observed] + μ */
  posterior: Float32Array;
  /** each NaN replaced by its column's mean over the observed training entries */
  mean: Float32Array;
}

/** A mixture's components: their means (K×D row-major) and weights. */
export interface ComponentView {
  /** components alive */
  K: number;
  /** the component means, K×D row-major */
  means: Float32Array;
  /** the mixing weights π, length K */
  weights: Float64Array;
}

/** How a run is built besides its settings. */
export interface ModelRunOptions {
  /** model-file metadata describing the data, saved with the model (e.g. synthetic_data, which the CLI regenerates) */
  metadata?: Record<string, string>;
  /**
   * PPCA: the closed-form optimum of the train log-likelihood, shown as the
   * target. Default: closedFormPpca on this thread (about 1 s for D = 784; a
   * page computes it in a Web Worker and passes the answer).
   */
  optimum?: (train: Dataset, d: number) => Promise<number | undefined>;
  /**
   * Rows to train on read a slice at a time (a file larger than memory, e.g.
   * streamDataBlob's source): PPCA's stochastic and online EM and the VAE stream them;
   * `train` and `test` are then in-memory samples, for the figures and
   * pictures. Other kinds refuse it.
   */
  trainSource?: RowSource;
  /** how the caller's interface asks for the Gaussian decoder, named in likelihood messages */
  likelihoodHint?: {
    /** e.g. the CLI's "--likelihood gaussian" */
    gaussian: string;
  };
}

/**
 * A model being trained a tick at a time, with everything a page shows of it.
 * Any sequence of ticks continues one run: the VAE and the per-point model run
 * the CLI's Trainer (the same steps as `latentgpu train`), the PPCA methods the
 * CLI's resumable fitters.
 */
export interface ModelRun {
  /** the model and method */
  readonly kind: RunKind;
  /** the settings with defaults filled in */
  readonly config: ResolvedRunConfig;
  /** data dimension D */
  readonly D: number;
  /** latent dimension d */
  readonly latent: number;
  /** "exact log-likelihood per sample" / "ELBO per sample (… decoder)" */
  readonly objectiveName: string;
  /** what a step is: "EM iteration" / "optimizer step" / … */
  readonly unitName: string;
  /** the latent models: which decoder likelihood and why */
  readonly likelihoodNote?: string;
  /** PPCA: the closed-form optimum of the train objective */
  readonly optimum?: number;
  /** one tick of `config.stepsPerTick` steps, results read back; `signal` ends it early, between steps */
  tick(signal?: AbortSignal): Promise<RunTick>;
  /** the objective per sample (nats) on the train and test rows */
  evaluate(): Promise<{
    /** on the train rows */
    train: number;
    /** on the test rows */
    test: number;
  }>;
  /** the model's reconstructions of `rows` rows of x */
  reconstruct(x: Float32Array, rows: number): Promise<Float32Array>;
  /** `rows` decoder means of prior samples */
  samplePrior(rows: number): Promise<Float32Array>;
  /** decoder means for latents z (rows × d) */
  decode(z: Float32Array, rows: number): Promise<Float32Array>;
  /** posterior (encoder) means of `rows` rows of x, rows × d */
  latentMeans(x: Float32Array, rows: number): Promise<Float32Array>;
  /** PPCA and FA: the loadings W (D × d, row-major) */
  loadings?(): Promise<Float32Array>;
  /** FA: the noise variances ψ (length D) */
  noiseVariances?(): Promise<Float32Array>;
  /** mixtures of PPCA: the components' means and weights */
  components?(): Promise<ComponentView>;
  /** figures beyond the objective (FA: Heywood and constant columns; mixtures: components, purity), as of the last tick */
  figures?(): Promise<RunFigure[]>;
  /** missing values: rows of x (NaN where missing) imputed by the model and by the column means */
  impute?(x: Float32Array, rows: number): Promise<Imputation>;
  /** log p(x) estimates on `rows` rows of x with K samples: bounds and Monte-Carlo estimates by name */
  estimators(x: Float32Array, rows: number, K: number): Promise<EstimatorRow[]>;
  /** the model file (the CLI's format; the latent models' with the optimizer state, to resume exactly) */
  save(): Promise<Uint8Array>;
  /** frees the run's buffers and model */
  dispose(): void;
}
