// What the app needs from a model, whatever it is: a unit of training, the
// objective on train and test, pictures (reconstructions, samples, latent means,
// decoded manifold, loadings), the log-likelihood estimators, and a model file.
// Each model module of src/models gets a thin adapter implementing this.
import type { Backend } from '../../src/backend.ts';
import type { Dataset } from '../../src/data/dataset.ts';
import type { Schedule } from '../../src/train/schedule.ts';

export type ModelKind = 'ppca-em' | 'ppca-sem' | 'ppca-oem' | 'lvm' | 'vae';

export interface ModelConfig {
  kind: ModelKind;
  latent: number;
  seed: number;
  batch: number;
  /** optimizer steps queued per unit of work (stochastic methods) */
  stepsPerTick: number;
  /** stochastic EM: α_t = α₀ (1 + t/τ)^(−κ) */
  semLr: number; semTau: number; semKappa: number;
  /** online EM step size exponent */
  oemKappa: number;
  /** nonlinear models */
  hidden: number[];
  /** 'auto': Bernoulli when every value lies in [0, 1], else Gaussian (src/models/likelihood.ts) */
  likelihood: 'auto' | 'bernoulli' | 'gaussian';
  lr: number;
  /** the nonlinear models' step-size schedule (default constant) */
  schedule?: Schedule;
  /** the VAE's test curve measured while training (default on; the benchmarks time training alone) */
  testCurve?: boolean;
}

export interface TickResult {
  /** training rows processed in this unit */
  samples: number;
  /** optimizer steps (or EM iterations) in this unit */
  steps: number;
  /** train objective per sample (nats) if the unit measured it */
  trainObjective?: number;
  /** the method converged (exact EM) */
  converged?: boolean;
  /** test objectives measured during the unit: [steps of this runner, nats per sample] */
  test?: [number, number][];
}

export interface EstimatorRow {
  name: string;
  /** mean per test sample, nats */
  value: number;
}

export interface ModelRunner {
  readonly kind: ModelKind;
  readonly D: number;
  readonly latent: number;
  /** chart title: "exact log-likelihood per sample" / "ELBO per sample" */
  readonly objectiveName: string;
  /** x axis: "EM iteration" / "optimizer step" */
  readonly unitName: string;
  /** which decoder likelihood the model has and why (the nonlinear models) */
  readonly likelihoodNote?: string;
  /** the closed-form optimum of the train objective, when there is one */
  readonly optimum?: number;
  /** one unit of training, results read back; `signal` ends it early, between steps */
  tick(signal?: AbortSignal): Promise<TickResult>;
  /** the objective on train and test (per sample, nats) */
  evaluate(): Promise<{ train: number; test: number }>;
  reconstruct(x: Float32Array, rows: number): Promise<Float32Array>;
  samplePrior(rows: number): Promise<Float32Array>;
  /** decoder means for given latents (rows×d) */
  decode(z: Float32Array, rows: number): Promise<Float32Array>;
  /** posterior / encoder means, rows×d */
  latentMeans(x: Float32Array, rows: number): Promise<Float32Array>;
  /** W (D×d row-major) for PPCA */
  loadings?(): Promise<Float32Array>;
  estimators(x: Float32Array, rows: number, K: number): Promise<EstimatorRow[]>;
  /** the model as a safetensors file */
  save(): Promise<Uint8Array>;
  dispose(): void;
}

/**
 * Model-file metadata describing the training data, written with the model so
 * that the CLI can regenerate it (`synthetic_data`, see src/cli/synthetic.ts).
 */
export type DataMetadata = Record<string, string>;

export interface RunnerFactory {
  create(backend: Backend, cfg: ModelConfig, train: Dataset, test: Dataset, dataMeta: DataMetadata): Promise<ModelRunner>;
  /** a runner from a model file (the CLI's format), trained further on train/test */
  load(backend: Backend, bytes: Uint8Array, cfg: ModelConfig, train: Dataset, test: Dataset, dataMeta: DataMetadata): Promise<ModelRunner>;
}
