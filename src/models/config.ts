// Every model's defaults, each in one place: the CLI's flags, the app's setup,
// the library's config builders (classicVaeConfig, defaultLvmConfig) and the
// PPCA fitters read them here. Imports nothing but the decoder's constants, so
// any module can use it without an import cycle.
import { DEFAULT_VAR_CEIL, DEFAULT_VAR_FLOOR } from './decoder.ts';

/** The models latentgpu trains, in the order the CLI lists them. */
export const MODEL_KINDS = ['ppca', 'lvm', 'vae', 'fa', 'mppca'] as const;
/** One of {@link MODEL_KINDS}. */
export type ModelKind = (typeof MODEL_KINDS)[number];

/**
 * PPCA: d = 10 as in DESIGN.md's PPCA runs; exact EM until the log-likelihood
 * per sample moves less than `tol` or `iters` EM-map evaluations are spent;
 * stochastic EM (`sem`) steps α₀(1 + t/τ)^−κ, online EM (`oem`) weights new
 * statistics (t + 2)^−κ; `samples` is the estimators' K.
 */
export const PPCA_DEFAULTS = {
  latent: 10,
  method: 'em',
  iters: 1000,
  tol: 1e-6,
  epochs: 10,
  batch: 100,
  sem: { lr: 1e-3, tau: 1000, kappa: 0.75, optimizer: 'sgd' },
  oem: { kappa: 0.6 },
  samples: 100,
} as const;

/**
 * What the VAE and the per-point model share: the classic 784→400→20 ReLU
 * network with a Bernoulli decoder (a Gaussian one's variance floor and ceiling
 * from src/models/decoder.ts), trained by Adam at 1e-3 on minibatches of 128
 * for 20 epochs; `schedule` is the Robbins–Monro decay used when only one of
 * τ, κ is given; `samples` is the test IWAE's K (K = 1000 decodes 2M samples
 * for the 2,000 MNIST test rows).
 */
const LATENT_DEFAULTS = {
  latent: 20,
  hidden: [400] as readonly number[],
  act: 'relu',
  likelihood: 'bernoulli',
  variance: 'vector',
  varFloor: DEFAULT_VAR_FLOOR,
  varCeil: DEFAULT_VAR_CEIL,
  objective: 'elbo',
  epochs: 20,
  batch: 128,
  lr: 1e-3,
  schedule: { tau: 1000, kappa: 0.75 },
  samples: 100,
} as const;

/** The VAE's defaults (the encoder mirrors the decoder's hidden widths). */
export const VAE_DEFAULTS = LATENT_DEFAULTS;

/**
 * The per-point model's defaults: φ takes 2 Adam steps at 0.05 per minibatch
 * visit, as measured in docs/vae-results.md (the app once used 1 step at 1e-2,
 * never measured); test rows' φ are fitted by `fitSteps` Adam steps, θ frozen.
 */
export const LVM_DEFAULTS = { ...LATENT_DEFAULTS, phiLr: 0.05, phiSteps: 2, fitSteps: 200 } as const;

/** The latent dimension a model gets when none is given. */
export function defaultLatent(kind: ModelKind): number {
  return kind === 'ppca' || kind === 'fa' || kind === 'mppca' ? PPCA_DEFAULTS.latent : kind === 'lvm' ? LVM_DEFAULTS.latent : VAE_DEFAULTS.latent;
}

/** The minibatch size a model's stochastic training uses when none is given (at most the row count: see resolveBatch). */
export function defaultBatch(kind: ModelKind): number {
  return kind === 'ppca' ? PPCA_DEFAULTS.batch : kind === 'lvm' ? LVM_DEFAULTS.batch : VAE_DEFAULTS.batch;
}

/**
 * The minibatch size of a run on `rows` training rows: the one given, or the
 * model's default capped at the row count, so a small data set trains with
 * whole-data batches. A given batch is checked (with the rows) by
 * validateForModel (src/data/dataset.ts), the one check of it.
 */
export function resolveBatch(kind: ModelKind, rows: number, batch?: number): number {
  return batch ?? Math.max(1, Math.min(defaultBatch(kind), rows));
}
