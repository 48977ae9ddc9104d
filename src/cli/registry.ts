// The CLI's static model registry: each model declares the options it reads
// (for ppca, per EM method), parses them into its typed config with the
// defaults of src/models/config.ts, and names its module by a literal import.
// program.ts builds the commander options and the "does not apply" errors
// from these declarations.
import { printable } from '../data/dataset.ts';
import { EM_METHODS, type EmMethod } from '../models/ppca/em.ts';
import { LVM_DEFAULTS, PPCA_DEFAULTS, VAE_DEFAULTS, resolveBatch, type ModelKind } from '../models/config.ts';
import { FA_DEFAULTS } from '../models/fa/fa.ts';
import { FA_SEM_DEFAULTS } from '../models/fa/sem.ts';
import type { Objective } from '../models/latent.ts';
import type { Schedule } from '../train/schedule.ts';
import type {
  EvalConfig, LatentEvalConfig, LvmTrainConfig, ModelModule, PpcaEvalConfig, PpcaMethod, PpcaTrainConfig, RunConfig,
  StochasticConfig, SyntheticSettings, VaeTrainConfig,
} from './context.ts';
import type { FaEvalConfig, FaMethod, FaTrainConfig } from './fa.ts';
import { MPPCA_DEFAULTS } from '../models/mppca/mppca.ts';
import type { MppcaEvalConfig, MppcaTrainConfig } from './mppca.ts';
import { FLAG_LIMITS as L, SHARED, intIn, option, positiveNumber, varFloor, widthList, type OptionSpec } from './options.ts';

/** Option values as commander parsed them (each parser fixes its value's type). */
export type OptionValues = Record<string, unknown>;

/** An option a model reads; `methods` limits it to some of the model's methods (all when absent). */
export interface Declared {
  readonly spec: OptionSpec;
  readonly methods?: readonly string[];
}

/** What the command line knows when a train config is made: the data are loaded. */
export interface TrainFacts {
  latent: number;
  /** training rows, which cap the default batch */
  rows: number;
  synthetic?: SyntheticSettings;
}

export interface ModelEntry<T, E> {
  /** the model's methods (ppca's --method), if it has any */
  readonly methods?: readonly string[];
  /** the method a train command runs, from its options */
  method?(v: OptionValues): string;
  readonly train: readonly Declared[];
  readonly eval: readonly Declared[];
  trainConfig(v: OptionValues, facts: TrainFacts): T;
  /** the minibatch plan of a run, for the step-count cap and the batch check; null when it takes no minibatches */
  minibatches(cfg: T): { epochs: number; batch: number; perStep: number } | null;
  evalConfig(v: OptionValues, file: string): E;
  load(): Promise<ModelModule<T, E>>;
}

const str = (v: unknown): string | undefined => (v === undefined ? undefined : String(v));
const num = (v: unknown, fallback: number): number => (v === undefined ? fallback : Number(v));

function runConfig(v: OptionValues, facts: TrainFacts): RunConfig {
  const c: RunConfig = { latent: facts.latent, seed: num(v.seed, 0) };
  if (v.out !== undefined) c.out = String(v.out);
  if (v.runDir !== undefined) c.runDir = String(v.runDir);
  if (v.hostMemory !== undefined) c.hostMemoryMB = Number(v.hostMemory);
  if (v.deviceMemory !== undefined) c.deviceMemoryMB = Number(v.deviceMemory);
  return c;
}

function stochasticConfig(kind: ModelKind, v: OptionValues, rows: number, epochs: number): StochasticConfig {
  const c: StochasticConfig = {
    epochs: num(v.epochs, epochs),
    batch: resolveBatch(kind, rows, v.batch === undefined ? undefined : Number(v.batch)),
    checkpointEvery: num(v.checkpointEvery, 0),
  };
  if (v.resume !== undefined) c.resume = String(v.resume);
  return c;
}

function evalConfig(v: OptionValues, file: string, samples: number): EvalConfig {
  return { file, split: v.split === 'train' ? 'train' : 'test', seed: num(v.seed, 0), samples: num(v.samples, samples) };
}

// ---- ppca

const STOCHASTIC = ['sem', 'oem'] as const;
const PPCA_METHODS: readonly PpcaMethod[] = [...EM_METHODS, ...STOCHASTIC, 'closed'];
const isEm = (m: string): m is EmMethod => (EM_METHODS as readonly string[]).includes(m);

/** exact EM's options, read by ppca (its EM methods) and fa */
const EM_ITERS = option('--iters <n>', 'exact EM (ppca, fa, mppca): most iterations', intIn(1, L.iters));
const EM_TOL = option('--tol <x>', 'exact EM (ppca, fa, mppca): stop when the log-likelihood per sample changes less than this', positiveNumber);

/** --method, read by ppca (all its methods) and fa (em, squarem, anderson, sem) */
const METHOD = option('--method <m>', `ppca: exact EM, SQUAREM- or Anderson-accelerated exact EM, stochastic EM, online EM, or the closed form (top eigenpairs of the covariance; default ${PPCA_DEFAULTS.method}); fa: em, squarem, anderson or sem (default em)`, PPCA_METHODS);
/** missing values, read by ppca em and fa em */
const MISSING = option('--missing <how>', 'ppca em, fa em: NaN (in CSV also an empty, nan or NA cell) marks a missing entry; EM over the observed entries (default: NaN is an error)', ['nan']);
const IMPUTE = option('--impute <file>', 'ppca em, fa em --missing nan: write the training data with missing entries imputed (posterior mean) as .npy', String);
/** missing values in the evaluated data, read by ppca and fa eval; --impute there by ppca */
const EVAL_MISSING = option('--missing <how>', 'ppca, fa: NaN in the evaluated data marks a missing entry; the observed-data log-likelihood (default: NaN is an error)', ['nan']);
const EVAL_IMPUTE = option('--impute <file>', 'ppca --missing nan: write the evaluated rows with missing entries imputed (posterior mean) as .npy', String);

/**
 * --missing nan and --impute FILE (exact-EM train of ppca and fa, ppca eval); --impute must not
 * land on a file the run reads or writes (`paths`: the flags to check, e.g. --data, --test, --out).
 */
function missingConfig(v: OptionValues, paths: [string, unknown][]): { missing?: 'nan'; impute?: string; imputeKeep?: [string, string][] } {
  if (v.impute !== undefined && !v.missing) throw new Error('--impute FILE goes with --missing nan (it writes the imputed missing entries)');
  if (v.missing !== 'nan') return {};
  const keep = paths.filter((f): f is [string, string] => typeof f[1] === 'string' && f[1] !== 'mnist' && f[1] !== 'synthetic');
  return { missing: 'nan', ...(v.impute !== undefined ? { impute: String(v.impute), imputeKeep: keep } : {}) };
}

export const PPCA: ModelEntry<PpcaTrainConfig, PpcaEvalConfig> = {
  methods: PPCA_METHODS,
  method: (v) => String(v.method ?? PPCA_DEFAULTS.method),
  train: [
    { spec: METHOD },
    { spec: EM_ITERS, methods: EM_METHODS },
    { spec: EM_TOL, methods: EM_METHODS },
    { spec: MISSING, methods: ['em'] },
    { spec: IMPUTE, methods: ['em'] },
    { spec: SHARED.epochs, methods: STOCHASTIC },
    { spec: SHARED.batch, methods: STOCHASTIC },
    { spec: SHARED.lr, methods: ['sem'] },
    { spec: option('--optimizer <o>', 'gradient steps: Robbins–Monro SGD or Adam', ['sgd', 'adam']), methods: ['sem'] },
    { spec: SHARED.kappa, methods: STOCHASTIC },
    { spec: SHARED.tau, methods: ['sem'] },
    { spec: SHARED.checkpointEvery, methods: STOCHASTIC },
    { spec: SHARED.resume, methods: STOCHASTIC },
  ],
  eval: [
    { spec: option('--q <q>', 'ppca elbo/iwae proposal: the exact posterior or its mean-field optimum', ['posterior', 'mean-field']) },
    { spec: EVAL_MISSING },
    { spec: EVAL_IMPUTE },
  ],
  trainConfig(v, facts) {
    const D = PPCA_DEFAULTS;
    const method = (v.method ?? D.method) as PpcaMethod;
    const run = { ...runConfig(v, facts), ...(facts.synthetic ? { synthetic: facts.synthetic } : {}) };
    if (method === 'closed') return { ...run, method };
    if (isEm(method)) {
      return { ...run, method, iters: num(v.iters, D.iters), tol: num(v.tol, D.tol), ...missingConfig(v, [['--data', v.data], ['--test', v.test], ['--out', v.out]]) };
    }
    const stochastic = stochasticConfig('ppca', v, facts.rows, D.epochs);
    if (method === 'oem') return { ...run, ...stochastic, method, kappa: num(v.kappa, D.oem.kappa) };
    return {
      ...run, ...stochastic, method, lr: num(v.lr, D.sem.lr), tau: num(v.tau, D.sem.tau), kappa: num(v.kappa, D.sem.kappa),
      optimizer: v.optimizer === 'adam' ? 'adam' : D.sem.optimizer,
    };
  },
  minibatches: (cfg) => ('batch' in cfg ? { epochs: cfg.epochs, batch: cfg.batch, perStep: 1 } : null),
  evalConfig(v, file) {
    const missing = missingConfig(v, [['--data', v.data], ['--test', v.test]]);
    return {
      ...evalConfig(v, file, PPCA_DEFAULTS.samples),
      estimator: (v.estimator ?? 'exact') as PpcaEvalConfig['estimator'],
      q: v.q === 'mean-field' ? 'mean-field' : 'posterior',
      ...missing,
    };
  },
  load: () => import('./ppca.ts'),
};

// ---- factor analysis (exact EM, accelerated or not; stochastic EM)

const FA_METHODS: readonly FaMethod[] = [...EM_METHODS, 'sem'];

export const FA: ModelEntry<FaTrainConfig, FaEvalConfig> = {
  methods: FA_METHODS,
  method: (v) => String(v.method ?? 'em'),
  train: [
    { spec: METHOD },
    { spec: EM_ITERS, methods: EM_METHODS },
    { spec: EM_TOL, methods: EM_METHODS },
    { spec: MISSING, methods: ['em'] },
    { spec: IMPUTE, methods: ['em'] },
    { spec: SHARED.epochs, methods: ['sem'] },
    { spec: SHARED.batch, methods: ['sem'] },
    { spec: SHARED.kappa, methods: ['sem'] },
    { spec: SHARED.tau, methods: ['sem'] },
  ],
  eval: [
    { spec: EVAL_MISSING },
  ],
  trainConfig(v, facts) {
    const method = String(v.method ?? 'em') as FaMethod;
    if (!FA_METHODS.includes(method)) throw new Error(`--method ${printable(method, 40)}: fa is fitted by ${FA_METHODS.join(', ')}`);
    const run = { ...runConfig(v, facts), ...(facts.synthetic ? { synthetic: facts.synthetic } : {}), method };
    if (method === 'sem') {
      const batch = v.batch === undefined ? Math.min(FA_SEM_DEFAULTS.batch, facts.rows) : Number(v.batch);
      return { ...run, iters: 0, tol: 0, epochs: num(v.epochs, FA_SEM_DEFAULTS.epochs), batch, kappa: num(v.kappa, FA_SEM_DEFAULTS.kappa), tau: num(v.tau, FA_SEM_DEFAULTS.tau) };
    }
    return { ...run, iters: num(v.iters, FA_DEFAULTS.iters), tol: num(v.tol, FA_DEFAULTS.tol), ...missingConfig(v, [['--data', v.data], ['--test', v.test], ['--out', v.out]]) };
  },
  minibatches: (cfg) => (cfg.method === 'sem' && cfg.batch !== undefined ? { epochs: cfg.epochs ?? FA_SEM_DEFAULTS.epochs, batch: cfg.batch, perStep: 1 } : null),
  evalConfig(v, file) {
    const estimator = String(v.estimator ?? 'exact');
    if (estimator !== 'exact') throw new Error(`--estimator ${printable(estimator, 40)}: an fa model is evaluated by its exact log-likelihood only (--estimator exact)`);
    return { ...evalConfig(v, file, 0), ...(v.missing === 'nan' ? { missing: 'nan' as const } : {}) };
  },
  load: () => import('./fa.ts'),
};

// ---- mixtures of PPCA (exact EM)

export const MPPCA: ModelEntry<MppcaTrainConfig, MppcaEvalConfig> = {
  train: [
    { spec: option('--components <K>', `mppca: number of mixture components (default ${MPPCA_DEFAULTS.components})`, intIn(1, 4096)) },
    { spec: EM_ITERS },
    { spec: EM_TOL },
  ],
  eval: [{ spec: option('--points <file>', 'mppca: write each row\'s log-likelihood and most responsible component (CSV)', String) }],
  trainConfig: (v, facts) => ({
    ...runConfig(v, facts), ...(facts.synthetic ? { synthetic: facts.synthetic } : {}),
    components: num(v.components, MPPCA_DEFAULTS.components), iters: num(v.iters, MPPCA_DEFAULTS.iters), tol: num(v.tol, MPPCA_DEFAULTS.tol),
  }),
  minibatches: () => null,
  evalConfig(v, file) {
    const estimator = String(v.estimator ?? 'exact');
    if (estimator !== 'exact') throw new Error(`--estimator ${printable(estimator, 40)}: an mppca model is evaluated by its exact log-likelihood only (--estimator exact)`);
    const keep = [['--data', v.data], ['--test', v.test]].filter((f): f is [string, string] => typeof f[1] === 'string' && f[1] !== 'mnist' && f[1] !== 'synthetic');
    return { ...evalConfig(v, file, 0), keep, ...(v.points !== undefined ? { points: String(v.points) } : {}) };
  },
  load: () => import('./mppca.ts'),
};

// ---- the VAE and the per-point model

const LATENT_TRAIN: readonly Declared[] = [
  { spec: SHARED.epochs },
  { spec: SHARED.batch },
  { spec: SHARED.lr },
  { spec: SHARED.kappa },
  { spec: SHARED.tau },
  { spec: option('--hidden <sizes>', 'lvm/vae: hidden layer widths, e.g. 400 or 512,256', widthList) },
  { spec: option('--likelihood <l>', 'lvm/vae decoder likelihood: bernoulli, gaussian (learned per-pixel variance) or gaussian-output (decoder-output variance)') },
  { spec: option('--objective <o>', 'lvm/vae: the ELBO, or the seed\'s prior-sample bound', ['elbo', 'prior']) },
  { spec: option('--var-floor <v>', 'Gaussian decoder: variance floor', varFloor) },
  { spec: option('--samples <K>', 'importance samples for the test IWAE bound', intIn(1, L.samples)) },
  { spec: SHARED.checkpointEvery },
  { spec: SHARED.resume },
];

type LatentCommon = Omit<VaeTrainConfig, 'kind'>;

function latentConfig(kind: 'vae' | 'lvm', v: OptionValues, facts: TrainFacts): LatentCommon {
  const D = kind === 'vae' ? VAE_DEFAULTS : LVM_DEFAULTS;
  // a Robbins–Monro decay when τ or κ is given (the other defaulted), else a constant step
  const schedule: Schedule = v.kappa !== undefined || v.tau !== undefined
    ? { kind: 'robbins-monro', tau: num(v.tau, D.schedule.tau), kappa: num(v.kappa, D.schedule.kappa) }
    : { kind: 'constant' };
  const c: LatentCommon = {
    ...runConfig(v, facts), ...stochasticConfig(kind, v, facts.rows, D.epochs),
    hidden: (v.hidden as number[] | undefined) ?? [...D.hidden],
    objective: (v.objective ?? D.objective) as Objective,
    varFloor: num(v.varFloor, D.varFloor),
    lr: num(v.lr, D.lr),
    schedule,
    samples: num(v.samples, D.samples),
  };
  const likelihood = str(v.likelihood);
  if (likelihood !== undefined) c.likelihood = likelihood;
  return c;
}

function latentEvalConfig(kind: 'vae' | 'lvm', v: OptionValues, file: string): LatentEvalConfig {
  const estimator = String(v.estimator ?? 'iwae');
  if (estimator === 'exact') throw new Error(`--estimator exact applies to ppca models; ${printable(file, 200)} holds a ${kind} (use elbo, iwae, prior or prior-jensen)`);
  return { ...evalConfig(v, file, VAE_DEFAULTS.samples), estimator: estimator as LatentEvalConfig['estimator'], fitSteps: num(v.fitSteps, LVM_DEFAULTS.fitSteps) };
}

const latentMinibatches = (cfg: VaeTrainConfig | LvmTrainConfig): { epochs: number; batch: number; perStep: number } => ({
  epochs: cfg.epochs, batch: cfg.batch, perStep: cfg.kind === 'lvm' ? cfg.phiSteps : 1,
});

export const VAE: ModelEntry<VaeTrainConfig, LatentEvalConfig> = {
  train: LATENT_TRAIN,
  eval: [],
  trainConfig: (v, facts) => ({ ...latentConfig('vae', v, facts), kind: 'vae' }),
  minibatches: latentMinibatches,
  evalConfig: (v, file) => latentEvalConfig('vae', v, file),
  load: () => import('./vae.ts'),
};

export const LVM: ModelEntry<LvmTrainConfig, LatentEvalConfig> = {
  train: [
    ...LATENT_TRAIN,
    { spec: option('--phi-lr <x>', `lvm: learning rate of the per-point variational parameters (default ${LVM_DEFAULTS.phiLr})`, positiveNumber) },
    { spec: option('--phi-steps <n>', `lvm: variational-parameter steps per minibatch (default ${LVM_DEFAULTS.phiSteps})`, intIn(1, L.phiSteps)) },
    { spec: SHARED.fitSteps },
  ],
  eval: [{ spec: SHARED.fitSteps }],
  trainConfig: (v, facts) => ({
    ...latentConfig('lvm', v, facts), kind: 'lvm',
    phiLr: num(v.phiLr, LVM_DEFAULTS.phiLr), phiSteps: num(v.phiSteps, LVM_DEFAULTS.phiSteps), fitSteps: num(v.fitSteps, LVM_DEFAULTS.fitSteps),
  }),
  minibatches: latentMinibatches,
  evalConfig: (v, file) => latentEvalConfig('lvm', v, file),
  load: () => import('./vae.ts'),
};

/**
 * Every model, in the order "it is for …" lists them. The entries' config types
 * differ, so the map is typed per kind.
 */
export const REGISTRY: { vae: typeof VAE; lvm: typeof LVM; ppca: typeof PPCA; fa: typeof FA; mppca: typeof MPPCA } = { vae: VAE, lvm: LVM, ppca: PPCA, fa: FA, mppca: MPPCA };
export type EntryOf<K extends ModelKind> = (typeof REGISTRY)[K];
