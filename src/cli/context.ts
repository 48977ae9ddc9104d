// What a model's CLI module receives (its typed config, parsed from the options
// by its registry entry in src/cli/registry.ts) and what it must export.
import type { Backend } from '../backend.ts';
import type { Dataset } from '../data/dataset.ts';
import type { RowSource } from '../data/source.ts';
import type { SyntheticKey, SyntheticPpca } from '../data/synthetic.ts';
import type { Objective } from '../models/latent.ts';
import type { EmMethod } from '../models/ppca/em.ts';
import type { EstimatorName } from '../models/ppca/estimators.ts';
import type { Schedule } from '../train/schedule.ts';

export type { Dataset };

export interface Progress {
  /** `rowsPerUnit`: data rows one unit stands for (an epoch, an EM iteration, a pass), for rows/s */
  start(total: number, what: string, rowsPerUnit?: number): void;
  tick(done: number, info?: Record<string, number | string>): void;
  stop(): void;
}

// ---- typed configs (defaults from src/models/config.ts, filled in by the registry)

/** What every training run has. */
export interface RunConfig {
  latent: number;
  seed: number;
  /** --out: the model file */
  out?: string;
  /** --run-dir: the run folder (else the module's default, or none) */
  runDir?: string;
  /** --host-memory: MiB of host memory for the data (absent: the data-file cap) */
  hostMemoryMB?: number;
  /** --device-memory: MiB of device memory for the training data (absent: whole when the adapter allows) */
  deviceMemoryMB?: number;
}

/** Minibatch training: the batch is resolved (given, or the model's default capped at the rows) and checked. */
export interface StochasticConfig {
  epochs: number;
  batch: number;
  /** 0: no checkpoints */
  checkpointEvery: number;
  resume?: string;
}

/** The synthetic generator's settings of a --data synthetic run (stored with a PPCA model for eval). */
export type SyntheticSettings = Record<SyntheticKey, number>;

export interface PpcaExactConfig extends RunConfig {
  method: EmMethod;
  iters: number;
  tol: number;
  /** --missing nan (method em): NaN marks a missing entry, fitted by src/models/ppca/missing.ts */
  missing?: 'nan';
  /** --impute FILE: the training data with missing entries imputed, as .npy */
  impute?: string;
  /** (flag, path) of the files --impute must not overwrite */
  imputeKeep?: [string, string][];
}
export interface PpcaSemConfig extends RunConfig, StochasticConfig {
  method: 'sem';
  lr: number;
  tau: number;
  kappa: number;
  optimizer: 'sgd' | 'adam';
}
export interface PpcaOemConfig extends RunConfig, StochasticConfig {
  method: 'oem';
  kappa: number;
}
/** the closed form: one eigendecomposition, no iterations */
export interface PpcaClosedConfig extends RunConfig {
  method: 'closed';
}
export type PpcaTrainConfig = (PpcaExactConfig | PpcaSemConfig | PpcaOemConfig | PpcaClosedConfig) & { synthetic?: SyntheticSettings };
export type PpcaMethod = PpcaTrainConfig['method'];

interface LatentTrainConfig extends RunConfig, StochasticConfig {
  /** encoder widths; the decoder mirrors them */
  hidden: number[];
  /** --likelihood as given (chooseLikelihood checks it and picks one from the data when absent) */
  likelihood?: string;
  objective: Objective;
  varFloor: number;
  lr: number;
  schedule: Schedule;
  /** the test IWAE's K */
  samples: number;
}
export interface VaeTrainConfig extends LatentTrainConfig {
  kind: 'vae';
}
export interface LvmTrainConfig extends LatentTrainConfig {
  kind: 'lvm';
  phiLr: number;
  phiSteps: number;
  fitSteps: number;
}

/** What every evaluation has. */
export interface EvalConfig {
  /** the model file */
  file: string;
  split: 'train' | 'test';
  seed: number;
  samples: number;
}
export interface PpcaEvalConfig extends EvalConfig {
  estimator: EstimatorName;
  q: 'posterior' | 'mean-field';
  /** --missing nan: NaN marks a missing entry; the observed-data log-likelihood (src/cli/ppcaMissing.ts) */
  missing?: 'nan';
  /** --impute FILE (with --missing nan): the evaluated rows with missing entries imputed, as .npy */
  impute?: string;
  /** (flag, path) of the files --impute must not overwrite */
  imputeKeep?: [string, string][];
}
export interface LatentEvalConfig extends EvalConfig {
  estimator: Exclude<EstimatorName, 'exact'>;
  /** per-point models: Adam steps fitting the evaluated rows' φ */
  fitSteps: number;
}

// ---- the module interface

export interface CliContext<C> {
  backend: Backend;
  train: Dataset;
  test: Dataset;
  config: C;
  /** a cli-progress bar on a TTY (stderr), silent otherwise and with --json */
  progress: Progress;
  /** to stderr, never stdout */
  log(msg: string): void;
  /** the generating parameters when --data synthetic */
  truth?: SyntheticPpca;
  /**
   * A data file over the host budget (--host-memory), read in slices: then
   * `train` and `test` are shape only (no rows in x) and these hold the rows.
   * Only the models and methods in program.ts STREAMING get them.
   */
  trainSource?: RowSource;
  testSource?: RowSource;
}

/** A model's CLI entry: returns the JSON result object (printed by main with --json, summarized otherwise). */
export type Runner<C> = (ctx: CliContext<C>) => Promise<Record<string, unknown>>;

/** src/cli/ppca.ts and src/cli/vae.ts export these. */
export interface ModelModule<T, E> {
  train: Runner<T>;
  evaluate: Runner<E>;
}
